"""Chat language understanding, pure: intents, entities, conversation context, roles, replies.

`understand(text, context, vocabulary)` reads one chat line in its conversation;
`next_context(context, understanding)` is the context for the next line.
"""

from pipeline.nlu.context import EMPTY_CONTEXT, ChatContext, ContextStore, InMemoryContextStore
from pipeline.nlu.understanding import (
    ACTIONS,
    CONFIDENCE_THRESHOLD,
    INTENTS,
    Understanding,
    next_context,
    understand,
)
from pipeline.nlu.vocabulary import Vocabulary, load_vocabulary, vocabulary_from_catalog

__all__ = [
    "ACTIONS",
    "CONFIDENCE_THRESHOLD",
    "EMPTY_CONTEXT",
    "INTENTS",
    "ChatContext",
    "ContextStore",
    "InMemoryContextStore",
    "Understanding",
    "Vocabulary",
    "load_vocabulary",
    "next_context",
    "understand",
    "vocabulary_from_catalog",
]
