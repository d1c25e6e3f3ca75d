"""The ContextStore contract, run against every implementation (fake, fakeredis, real Redis).

Subclasses provide two fixtures: `store` (a fresh, empty store) and `wait_past`
(a callable that lets `seconds` pass for that store's notion of time).
"""

from __future__ import annotations

import pytest

from pipeline.errors import InvalidInput
from pipeline.nlu.context import EMPTY_CONTEXT, ChatContext

CONTEXT = ChatContext(last_incident=42, last_service="billing", last_intent="show_incident",
                      last_action="restart", focus="incident", pending_approval=42)


class ContextStoreContract:
    def test_an_unknown_conversation_has_the_empty_context(self, store):
        assert store.get("U1", "C1") == EMPTY_CONTEXT

    def test_a_stored_context_is_read_back_equal(self, store):
        store.put("U1", "C1", CONTEXT, ttl_s=60)
        assert store.get("U1", "C1") == CONTEXT

    def test_contexts_are_per_user_and_channel(self, store):
        store.put("U1", "C1", CONTEXT, ttl_s=60)
        assert store.get("U2", "C1") == EMPTY_CONTEXT
        assert store.get("U1", "C2") == EMPTY_CONTEXT

    def test_a_later_put_replaces_the_context(self, store):
        store.put("U1", "C1", CONTEXT, ttl_s=60)
        store.put("U1", "C1", ChatContext(last_service="web"), ttl_s=60)
        assert store.get("U1", "C1") == ChatContext(last_service="web")

    def test_a_context_expires_after_its_ttl(self, store, wait_past):
        store.put("U1", "C1", CONTEXT, ttl_s=1)
        wait_past(1.2)
        assert store.get("U1", "C1") == EMPTY_CONTEXT

    @pytest.mark.parametrize("user", ["", "U1:C2", "a b", "x" * 200])
    def test_ids_that_are_not_plain_are_refused(self, store, user):
        with pytest.raises(InvalidInput):
            store.put(user, "C1", CONTEXT, ttl_s=60)
        with pytest.raises(InvalidInput):
            store.get(user, "C1")

    def test_a_non_positive_ttl_is_refused(self, store):
        with pytest.raises(InvalidInput):
            store.put("U1", "C1", CONTEXT, ttl_s=0)
