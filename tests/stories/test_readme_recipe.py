"""The README's Redis + PostgreSQL recipe is the one the stories run, and it keeps `metrics` on one process."""

from __future__ import annotations

from tests.stories.recipe import readme_recipe


def test_the_recipe_migrates_then_runs_everything_with_up() -> None:
    exports, commands = readme_recipe()
    assert {"SCO_BROKER_URL", "SCO_DATABASE_URL"} <= set(exports)
    assert commands == [["db", "upgrade"], ["up"]]


def test_no_recipe_worker_consumes_metrics_on_more_than_one_process() -> None:
    """`smartcloudops worker --concurrency 4` on every queue would score metric windows out of order."""
    _, commands = readme_recipe()
    for args in commands:
        if args[0] == "worker":
            queues = args[args.index("--queues") + 1].split(",") if "--queues" in args else ["metrics"]
            assert "metrics" not in queues or args[args.index("--concurrency") + 1] == "1", args
