"""Ask when unsure: the bot asks with numbered choices, acts on nothing, and the next line answers."""

from __future__ import annotations

from datetime import timedelta

from chat_bench import NOW


def test_an_alert_the_catalog_lacks_is_confirmed_before_the_silence(bench):
    answer = bench.say("silence HighQueueLatency on checkout for 2h")

    assert "HighQueueLatency is not an alert I know; silence it anyway?" in bench.last_text()
    assert bench.silences.active_silences(NOW) == []
    assert answer.context.pending_choices is not None


def test_yes_to_the_confirmation_silences_the_alert_as_written(bench):
    bench.say("silence HighQueueLatency on checkout for 2h")
    bench.say("yes")

    [silence] = bench.silences.active_silences(NOW + timedelta(minutes=1))
    assert silence.alertname == "HighQueueLatency"


def test_no_to_the_confirmation_does_nothing_and_forgets_the_question(bench):
    bench.say("silence HighQueueLatency on checkout for 2h")
    answer = bench.say("no")

    assert bench.silences.active_silences(NOW) == []
    assert answer.context.pending_choices is None


def test_a_hedged_command_asks_and_publishes_nothing(bench):
    bench.say("restart checkout maybe")

    assert bench.last_text() == "Just to be sure: run restart on checkout? (yes / no)"
    assert bench.published == []


def test_yes_to_a_hedged_command_runs_it(bench):
    bench.say("restart checkout maybe")
    bench.say("yes")

    assert [task for task, _ in bench.published] != []
