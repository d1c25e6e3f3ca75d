"""Chat language understanding, pure: intents, entities, conversation context, roles, replies.

One turn of a conversation, as the chat task runs it:

    vocabulary = vocabulary_from_catalog(parsed_catalog)       # once per process
    context = store.get(user, channel)                           # a ContextStore
    understanding = understand(text, context, vocabulary)        # intent, entities, ...
    decision = authz.authorize(user, groups, understanding.intent, role_book)
    ...act, then answer with a `replies` builder...
    store.put(user, channel, next_context(context, understanding), ttl_s=3600)

The classifier trains on first use (scikit-learn, about a second) unless the process was told
where to load trained weights from (`classifier.load_with`): a worker loads them from a file
under the data dir (adapters/nlu_model.py) and scores with numpy alone.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.nlu.context import EMPTY_CONTEXT, ChatContext, ContextStore, InMemoryContextStore
    from pipeline.nlu.understanding import ACTIONS, CONFIDENCE_THRESHOLD, INTENTS, Understanding, next_context, understand
    from pipeline.nlu.vocabulary import Vocabulary, vocabulary_from_catalog

# Names re-exported on first use (PEP 562): the HTTP server imports `pipeline.nlu.authz` and
# `pipeline.nlu.replies`, and must not load the classifier (numpy) by way of this package.
_EXPORTS = {
    "EMPTY_CONTEXT": "context", "ChatContext": "context", "ContextStore": "context",
    "InMemoryContextStore": "context",
    "ACTIONS": "understanding", "CONFIDENCE_THRESHOLD": "understanding", "INTENTS": "understanding",
    "Understanding": "understanding", "next_context": "understanding", "understand": "understanding",
    "Vocabulary": "vocabulary", "vocabulary_from_catalog": "vocabulary",
}


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value
    return value


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
