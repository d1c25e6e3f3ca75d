"""The README's Redis + PostgreSQL recipe, read from the README: the stories start their stacks with it."""

from __future__ import annotations

from pathlib import Path


README = Path(__file__).parents[2] / "README.md"
RECIPE_SECTION = "## Running on Redis and PostgreSQL"


def readme_recipe() -> tuple[list[str], list[list[str]]]:
    """The README's Redis + PostgreSQL recipe: the variables it exports and its `smartcloudops` commands."""
    import shlex

    section = README.read_text().split(RECIPE_SECTION, 1)[1]
    block = section.split("```bash\n", 1)[1].split("```", 1)[0]
    exports, commands = [], []
    for line in block.splitlines():
        line = line.split("  #", 1)[0].strip()
        if line.startswith("export "):
            exports.append(line.removeprefix("export ").split("=", 1)[0])
        elif line.startswith("smartcloudops "):
            commands.append(shlex.split(line)[1:])
    return exports, commands


def start_recipe(pipe):  # type: ignore[no-untyped-def]
    """Run the README's recipe in `pipe`'s environment: every command to its end, the last one kept running."""
    exports, commands = readme_recipe()
    missing = [name for name in exports if not pipe.env.get(name)]
    assert missing == [], f"the story does not set what the README's recipe exports: {missing}"
    *setup, last = commands
    for args in setup:
        done = pipe.run(*args)
        assert done.returncode == 0, f"`smartcloudops {' '.join(args)}` failed:\n{done.stdout}\n{done.stderr}"
    return pipe.start(last[0], *last)
