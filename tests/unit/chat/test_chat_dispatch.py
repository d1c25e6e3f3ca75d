"""The chat use cases are chosen by one explicit table, not by names built at run time."""

from pipeline.nlu import INTENTS
from services.chat import INTENT_HANDLERS


def test_every_intent_the_recogniser_can_return_has_exactly_one_handler():
    assert set(INTENT_HANDLERS) == set(INTENTS)


def test_the_table_names_only_callables_of_the_handler():
    assert all(callable(handler) and handler.__qualname__.startswith("ChatHandler._on_")
               for handler in INTENT_HANDLERS.values())


def test_every_correlation_decision_has_one_writer():
    import typing

    from adapters.db.alert_store import _DECISION_WRITERS
    from pipeline.correlation import Decision

    assert set(_DECISION_WRITERS) == set(typing.get_args(Decision))
