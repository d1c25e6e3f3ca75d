"""Chat language understanding, pure: intents, entities, conversation context, roles, replies.

One turn of a conversation, as the chat task runs it:

    vocabulary = vocabulary_from_catalog(parsed_catalog)       # once per process
    context = store.get(user, channel)                           # a ContextStore
    understanding = understand(text, context, vocabulary)        # intent, entities, ...
    decision = authz.authorize(user, groups, understanding.intent, role_book)
    ...act, then answer with a `replies` builder...
    store.put(user, channel, next_context(context, understanding), ttl_s=3600)

The classifier trains on first use (well under a second); call
`classifier.intent_classifier()` at worker start to pay that before the first command.
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
from pipeline.nlu.vocabulary import Vocabulary, vocabulary_from_catalog

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
    "next_context",
    "understand",
    "vocabulary_from_catalog",
]
