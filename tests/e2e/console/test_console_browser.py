"""The incident console in a real browser, on real processes (`smartcloudops up`).

On the embedded default (SQLite broker and store) and on Redis + PostgreSQL: a viewer signs in with
a password, sees the demo incident and its plot but no approve button, and a POST forged with the
viewer's own CSRF token is refused (403 and a `console.refused` audit row); an approver signs in
with a one-time link, approves the waiting plan and watches its step finish; a form without its
CSRF token is refused. Screenshots of the main pages land in .artifacts/console-screenshots.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import httpx
import pytest
import sqlalchemy as sa
from remediation_stack import REGION, T0, alert, build_estate, webhook

from adapters.db.engine import create_engine
from adapters.db.schema import audit_log
from adapters.db.schema_anomaly import anomaly_scores, anomaly_series
from adapters.db.schema_remediation import remediation_runs
from smartcloudops.demo_payloads import demo_story
from tests.processes import Pipeline, wait_for

pytestmark = [pytest.mark.e2e, pytest.mark.timeout(240)]

PASSWORD = "correct-horse-battery-staple"


def console_env(store: dict[str, str], moto_url: str, files: dict) -> dict[str, str]:
    return {
        **store,
        "SCO_CATALOG_PATH": str(files["catalog"]),
        "SCO_POLICY_PATH": str(files["policy"]),
        "SCO_ROLES_PATH": str(files["roles"]),
        "SCO_AWS_ENDPOINT_URL": moto_url,
        "SCO_AWS_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "SCO_WORKER_CONCURRENCY": "2",
        "SCO_WORKER_METRICS_PORT": "0",
        "SCO_CORRELATION_WINDOW_S": "1",
        "SCO_LOG_LEVEL": "INFO",
    }


@pytest.fixture(params=["embedded", "redis_postgres"])
def store_env(request, tmp_path):
    if request.param == "embedded":
        return {}, f"sqlite:///{tmp_path / 'smartcloudops.sqlite'}"
    redis_url = request.getfixturevalue("private_redis")
    pg_url = request.getfixturevalue("pg_url")
    return {"SCO_BROKER_URL": redis_url, "SCO_REDIS_URL": redis_url, "SCO_DATABASE_URL": pg_url}, pg_url


def cli(pipe: Pipeline, *args: str, **env: str) -> str:
    done = subprocess.run([sys.executable, "-m", "smartcloudops", *args], env={**pipe.env, **env},
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_console_sign_in_read_plot_decide_and_refusals(store_env, moto_url, browser, screenshots, tmp_path,
                                                        request) -> None:
    from selenium.common.exceptions import StaleElementReferenceException
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    store, db_url = store_env
    estate = build_estate(moto_url, tmp_path)
    pipe = Pipeline(env=console_env(store, moto_url, estate.files), workdir=tmp_path)
    kind = "embedded" if not store else "redis-pg"
    up = pipe.start("up", "up")
    engine = None
    try:
        wait_for(lambda: _healthy(pipe), 90, f"`smartcloudops up` did not serve\n{up.output()}")
        engine = create_engine(db_url)
        cli(pipe, "user", "create", "vera", "--role", "viewer", SCO_NEW_PASSWORD=PASSWORD)
        cli(pipe, "user", "create", "ada", "--role", "approver", "--no-password")
        _related_series(engine)
        with pipe.client() as client:
            answer = client.post("/v1/alerts/alertmanager",
                                 json=webhook([alert("DiskFull", estate.search[0], at=T0)]))
        assert answer.status_code == 202, answer.text
        with pipe.client() as client:  # and the demo's story: checkout resolves, payments stays open
            for _, payload in demo_story():
                assert client.post("/v1/alerts/alertmanager", json=payload).status_code == 202

        def waiting_run():
            with engine.connect() as conn:
                return conn.execute(sa.select(remediation_runs).where(
                    remediation_runs.c.state == "awaiting_approval")).first()

        wait_for(lambda: waiting_run() is not None, 90, f"no run awaits approval\n{pipe.logs()}")
        incident_id = waiting_run().incident_id
        # The page swaps its live sections in place every few seconds, so an element found a moment
        # ago can be gone: waits ignore that, and reads of several elements are one script call.
        wait = WebDriverWait(browser, 60, poll_frequency=0.3, ignored_exceptions=(StaleElementReferenceException,))

        # A viewer signs in with a password and reads.
        browser.get(f"{pipe.base_url}/")
        assert "/console/login" in browser.current_url
        browser.find_element(By.ID, "username").send_keys("vera")
        browser.find_element(By.ID, "password").send_keys(PASSWORD)
        browser.find_element(By.ID, "sign-in").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.incident-link"))
        assert f"#{incident_id}" in _texts(browser, "a.incident-link")
        wait_for(lambda: {"checkout", "payments"} <= _listed_services(browser, pipe), 60, "demo incidents not listed")
        assert "Remediation: dry run" in browser.find_element(By.ID, "remediation-mode").text
        browser.save_screenshot(str(screenshots / f"{kind}-incident-list.png"))
        assert _unlabelled(browser) == []

        browser.get(f"{pipe.base_url}/console/incidents/{incident_id}")
        paths = _texts(browser, "svg.series-plot path.values", attribute="d")
        assert paths, browser.page_source[:2000]
        assert paths[0].count("L") >= 20  # a line through the stored points
        assert browser.find_elements(By.CSS_SELECTOR, "svg.series-plot line.alert-start")
        assert "every hash verifies" in browser.find_element(By.ID, "chain").text
        assert not browser.find_elements(By.ID, "approve")  # a viewer is not offered the decision
        assert browser.find_elements(By.ID, "no-approve")
        browser.save_screenshot(str(screenshots / f"{kind}-incident-viewer.png"))
        browser.find_element(By.CSS_SELECTOR, "figure.plot").screenshot(str(screenshots / f"{kind}-plot.png"))

        # A forged approval with the viewer's own valid CSRF token: refused and audited.
        csrf = browser.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] input[name=csrf]")
        _post_form(browser, f"/console/incidents/{incident_id}/decide",
                   {"csrf": csrf.get_attribute("value"), "decision": "approve"})
        wait.until(lambda d: "Error 403" in d.title)
        assert _refusals(engine, "approve") == 1
        assert waiting_run() is not None  # nothing was decided

        browser.get(f"{pipe.base_url}/console")
        browser.find_element(By.CSS_SELECTOR, "form[action='/console/logout'] button").click()
        wait.until(lambda d: "/console/login" in d.current_url)

        # An approver signs in with a one-time link (GET shows a button; the POST spends the link).
        link = cli(pipe, "user", "link", "ada").strip().replace(f"127.0.0.1:{pipe.port}", f"127.0.0.1:{pipe.port}")
        browser.get(link)
        browser.find_element(By.ID, "use-link").click()
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, "a.incident-link"))

        # A form without its CSRF token is refused, even from a signed-in approver.
        _post_form(browser, f"/console/incidents/{incident_id}/decide", {"decision": "approve"})
        wait.until(lambda d: "Error 403" in d.title)
        assert _refusals(engine, "csrf") == 1

        # The link was spent: a second use is refused.
        assert httpx.get(link, timeout=5).status_code == 200  # GET never spends it
        browser.get(f"{pipe.base_url}/console/incidents/{incident_id}")
        browser.find_element(By.ID, "reason").send_keys("disk full on a search node; a reboot is safe")
        browser.save_screenshot(str(screenshots / f"{kind}-incident-approver.png"))
        browser.find_element(By.ID, "approve").click()
        wait.until(lambda d: d.find_elements(By.ID, "sent"))
        # The page polls: the run's state and its step change without a reload.
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, ".run-state[data-state=succeeded]"))
        assert set(_texts(browser, "li.step", attribute="data-state")) == {"succeeded"}
        browser.save_screenshot(str(screenshots / f"{kind}-incident-approved.png"))
        assert _unlabelled(browser) == []
        # The keyboard: the first Tab reaches the skip link, which moves the focus to the content.
        from selenium.webdriver.common.keys import Keys

        browser.find_element(By.TAG_NAME, "body").send_keys(Keys.TAB)
        assert browser.switch_to.active_element.get_attribute("class") == "skip"
        browser.switch_to.active_element.send_keys(Keys.ENTER)
        assert browser.switch_to.active_element.get_attribute("id") == "main"
        # Acknowledge goes through the chat's own handler on the worker; the page shows who acked.
        browser.find_element(By.ID, "ack").click()
        wait.until(lambda d: "acknowledged by chat:console.ada" in d.find_element(By.ID, "summary").text)
        browser.set_window_size(390, 844)  # a phone, at night
        browser.save_screenshot(str(screenshots / f"{kind}-incident-phone.png"))
        with engine.connect() as conn:
            kinds = [json.loads(b)["kind"] for b in conn.execute(
                sa.select(audit_log.c.body).where(audit_log.c.incident_id == incident_id)).scalars()]
        assert "remediation.approved" in kinds and "remediation.run_succeeded" in kinds
    finally:
        request.node.add_report_section("call", "processes", pipe.logs())
        pipe.stop_all()
        if engine is not None:
            engine.dispose()


def _healthy(pipe: Pipeline) -> bool:
    try:
        return httpx.get(f"{pipe.base_url}/healthz", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False


def _post_form(browser, action: str, fields: dict[str, str]) -> None:
    """Submit a form the page never offered (what a forged or hand-made POST looks like)."""
    browser.execute_script(
        "var f = document.createElement('form'), fields = arguments[1]; f.method = 'post';"
        "f.action = arguments[0]; Object.keys(fields).forEach(function (k) {"
        " var i = document.createElement('input'); i.type = 'hidden'; i.name = k; i.value = fields[k];"
        " f.appendChild(i); }); document.body.appendChild(f); f.submit();", action, fields)


def _listed_services(browser, pipe: Pipeline) -> set[str]:
    browser.get(f"{pipe.base_url}/console")
    return set(_texts(browser, "tr.incident-row td:nth-child(4)"))


def _texts(browser, css: str, attribute: str | None = None) -> list[str]:
    """The text (or an attribute) of every element matching css, read in one script call, so a live
    refresh swapping the section between finding and reading cannot leave a stale element."""
    return browser.execute_script(
        "var css = arguments[0], attribute = arguments[1];"
        "return Array.from(document.querySelectorAll(css)).map(function (e) {"
        " return attribute ? e.getAttribute(attribute) : e.textContent.trim(); });", css, attribute)


def _unlabelled(browser) -> list[str]:
    """Form fields a screen reader could not name (no <label for>, no aria-label)."""
    return browser.execute_script(
        "return Array.from(document.querySelectorAll('input:not([type=hidden]), select, textarea'))"
        ".filter(function (e) { return !(e.labels && e.labels.length) && !e.getAttribute('aria-label'); })"
        ".map(function (e) { return e.outerHTML; });")


def _refusals(engine, action: str) -> int:
    with engine.connect() as conn:
        bodies = conn.execute(sa.select(audit_log.c.body).where(audit_log.c.kind == "console.refused")).scalars()
        return sum(1 for b in bodies if json.loads(b)["data"]["action"] == action)


def _related_series(engine) -> None:
    """Scored points of the search service's disk usage around the alert (the plot's data)."""
    key = "c" * 40
    labels = {"__name__": "node_filesystem_used_ratio", "service": "search", "instance": "search-1"}
    with engine.begin() as conn:
        conn.execute(anomaly_series.insert().values(series_key=key, name=labels["__name__"], instance="search-1",
                                                    job=None, service="search", labels=labels, first_seen_at=T0))
        conn.execute(anomaly_scores.insert(), [
            {"series_key": key, "ts": T0 + timedelta(minutes=minute), "value": 0.6 + (0.3 if minute > 0 else 0.0),
             "score": 0.02 if minute <= 0 else 0.4, "is_anomaly": minute > 0, "model_version": "test",
             "labels": labels}
            for minute in range(-25, 25)])
