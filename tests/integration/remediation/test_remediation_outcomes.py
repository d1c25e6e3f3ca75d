"""A real worker judges finished runs after the verify horizon: the outcome is stored, audited and shown."""

from __future__ import annotations

import time
from pathlib import Path
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from remediation_stack import alert

from adapters.db.remediation_queries import RemediationQueries
from adapters.db.schema_learning import remediation_outcomes
from config.settings import load_settings
from smartcloudops.bootstrap import advisor
from tests.processes import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.e2e, pytest.mark.timeout(180)]


def resolved(body: dict, at: datetime) -> dict:
    return {**body, "status": "resolved", "endsAt": at.isoformat()}


def outcomes(stack) -> dict[int, sa.Row]:
    with stack.engine.connect() as conn:
        return {row.incident_id: row for row in conn.execute(sa.select(remediation_outcomes))}


def advised_page(stack, incident_id: int) -> dict:
    """The incident page as the server builds it, with the advisor `build_http_app` wires in."""
    env = stack.pipeline.env
    settings = load_settings(catalog_path=Path(env["SCO_CATALOG_PATH"]), policy_path=Path(env["SCO_POLICY_PATH"]))
    return RemediationQueries(stack.engine, advisor=advisor(settings, stack.engine)).for_incident(incident_id)


def test_a_fixed_and_an_unfixed_run_are_judged_after_the_horizon(start_stack) -> None:
    stack = start_stack("execute", SCO_OUTCOME_HORIZON_S="3", SCO_OUTCOME_SWEEP_INTERVAL_S="0.5")
    fixed_instance, stuck_instance = stack.estate.search[:2]
    now = datetime.now(UTC).replace(microsecond=0)
    fixed_alert = alert("InstanceDown", fixed_instance, at=now - timedelta(minutes=5))
    stack.post_alerts(fixed_alert)
    [fixed] = stack.wait_incident(fixed_instance, "InstanceDown")
    # Two incidents: the second alert starts more than the correlation window (1 s here) after the
    # first incident was last active (when the worker recorded it).
    time.sleep(2)
    stack.post_alerts(alert("InstanceDown", stuck_instance, at=datetime.now(UTC).replace(microsecond=0)))
    [stuck] = stack.wait_incident(stuck_instance, "InstanceDown")
    assert stuck != fixed
    stack.wait_run(fixed, ("succeeded",))
    stack.wait_run(stuck, ("succeeded",))
    # The reboot worked for one: its alert resolves now, inside the horizon; the other fires on.
    stack.post_alerts(resolved(fixed_alert, datetime.now(UTC)))

    wait_for(lambda: len(outcomes(stack)) == 2, 60,
             f"outcomes {outcomes(stack)}\n{stack.pipeline.logs()}")
    rows = outcomes(stack)
    assert rows[fixed].resolved and not rows[fixed].final and rows[fixed].recurred is None
    assert not rows[stuck].resolved and rows[stuck].final
    assert rows[fixed].action == rows[stuck].action == "ec2_reboot"
    assert rows[fixed].mode == "execute" and rows[fixed].alertname == "InstanceDown"
    page = stack.get_incident(stuck)
    [run] = page["remediation"]
    assert run["outcome"]["resolved"] is False and run["outcome"]["fixed"] is False
    assert stack.get_incident(fixed)["remediation"][0]["outcome"]["fixed"] is None  # recurrence open
    [judged] = [row for row in page["timeline"] if row["kind"] == "remediation.outcome"]
    assert judged["data"]["resolved"] is False and judged["data"]["fixed"] is False
    # Beside the plan, the actions this service could take, ranked by their record.
    advice = advised_page(stack, stuck)["advice"]
    assert advice[0]["action"] == "ec2_reboot" and advice[0]["tried"] == 2 and advice[0]["fixed"] == 1
    assert advice[0]["explanation"].startswith("ec2_reboot fixed 1 of 2 similar InstanceDown incidents on search")
    assert all(other["tried"] == 0 for other in advice[1:])
    # Judged once: the sweeps of the next seconds add nothing.
    time.sleep(2)
    assert stack.kinds().count("remediation.outcome") == 2
