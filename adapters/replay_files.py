"""Reading a remediation replay (JSON lines) into the learners' cases, naming any bad line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

from pipeline.errors import InvalidInput, NotFound
from pipeline.learning.evaluation import Attempt, Case
from pipeline.learning.features import IncidentContext
from pipeline.learning.outcomes import Signature


def read_replay(path: Path) -> tuple[dict, list[Case]]:
    """The header line (metadata such as the playbook) and one case per following line."""
    if not path.is_file():
        raise NotFound(f"no replay file at {path}")
    lines = path.read_text(encoding="utf-8").splitlines()
    if not lines:
        raise InvalidInput(f"{path} is empty")
    header = _json(path, 1, lines[0])
    cases = [_case(path, n, _json(path, n, text)) for n, text in enumerate(lines[1:], start=2) if text.strip()]
    return header, cases


def _json(path: Path, number: int, text: str) -> dict:
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise InvalidInput(f"{path}:{number}: not JSON ({error.msg})") from error
    if not isinstance(value, dict):
        raise InvalidInput(f"{path}:{number}: expected an object")
    return value


def _case(path: Path, number: int, row: dict) -> Case:
    try:
        context, signature = row["context"], row["context"]["signature"]
        return Case(
            context=IncidentContext(
                incident_id=str(context["incident_id"]),
                opened_at=datetime.fromisoformat(context["opened_at"]),
                signature=Signature(
                    str(signature["alertname"]), str(signature["service"]),
                    str(signature["severity"]), int(signature["tier"]),
                ),
                anomaly={str(k): float(v) for k, v in context.get("anomaly", {}).items()},
                hours_since_change=context.get("hours_since_change"),
                recent_actions=int(context.get("recent_actions", 0)),
                flaps_last_hour=int(context.get("flaps_last_hour", 0)),
            ),
            allowed=tuple(str(a) for a in row["allowed"]),
            attempts=tuple(
                Attempt(str(a["action"]), bool(a["fixed"]), datetime.fromisoformat(a["finished_at"]))
                for a in row["attempts"]
            ),
            truth={str(k): float(v) for k, v in row["truth"].items()} if "truth" in row else None,
        )
    except (KeyError, TypeError, ValueError, InvalidInput) as error:
        raise InvalidInput(f"{path}:{number}: bad case ({error!r})") from error
