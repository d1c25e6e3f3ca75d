"""The console's pure parts: password hashes, session cookies and CSRF tokens, plot coordinates."""

from __future__ import annotations

from consumers.console import plots
from consumers.console.session import SESSION_S, SessionSigner
from pipeline.console_accounts import check_password, hash_password, verify_password


def test_a_password_hash_verifies_the_password_and_nothing_else() -> None:
    stored = hash_password("a-long-enough-password")
    assert stored.startswith("scrypt$16384$8$1$")
    assert verify_password("a-long-enough-password", stored)
    assert not verify_password("a-long-enough-passworD", stored)
    assert not verify_password("anything", "!") and not verify_password("x", "scrypt$bad")
    assert hash_password("same-password-twice") != hash_password("same-password-twice")  # salted


def test_short_passwords_are_refused() -> None:
    try:
        check_password("short")
    except ValueError as exc:
        assert "12 characters" in str(exc)
    else:
        raise AssertionError("a short password was accepted")


def test_a_session_cookie_proves_its_user_until_it_expires() -> None:
    signer = SessionSigner("key-one-0123456789abcdef")
    cookie = signer.issue("ada", now=1000.0)
    assert signer.read(cookie, now=1001.0).username == "ada"
    assert signer.read(cookie, now=1000.0 + SESSION_S + 1) is None
    assert SessionSigner("key-two-0123456789abcdef").read(cookie, now=1001.0) is None
    body, signature = cookie.split(".")
    assert signer.read(body[:-1] + ("A" if body[-1] != "A" else "B") + "." + signature, now=1001.0) is None
    assert signer.read("garbage", now=1001.0) is None and signer.read(None, now=1001.0) is None


def test_a_csrf_token_belongs_to_one_session() -> None:
    signer = SessionSigner("key-one-0123456789abcdef")
    one, two = signer.read(signer.issue("ada", 1.0), 2.0), signer.read(signer.issue("ada", 1.0), 2.0)
    assert signer.csrf_ok(one.nonce, signer.csrf_token(one.nonce))
    assert not signer.csrf_ok(one.nonce, signer.csrf_token(two.nonce))
    assert not signer.csrf_ok(one.nonce, None) and not signer.csrf_ok(one.nonce, "")


def test_a_plot_has_one_point_per_sample_a_threshold_and_the_alert_start() -> None:
    points = [{"ts": f"2026-12-01T10:{m:02d}:00+00:00", "value": float(m), "score": m / 100, "anomaly": m > 40}
              for m in range(50)]
    drawn = plots.plot({"name": "cpu", "labels": {"instance": "a"}, "points": points},
                       alert_start="2026-12-01T10:25:00+00:00", threshold=0.3)
    assert drawn.value_path.count("L") == 49 and drawn.value_path.startswith("M56.0,")
    assert drawn.score_path.count("L") == 49
    assert len(drawn.anomalies) == 9
    left, right = plots.LEFT, plots.WIDTH - plots.RIGHT
    assert abs(drawn.alert_x - (left + (right - left) * 25 / 49)) < 0.2
    assert plots.PANEL + plots.GAP < drawn.threshold_y < 2 * plots.PANEL + plots.GAP
    assert drawn.title == "cpu{instance=a}"
    assert plots.plot({"name": "cpu", "points": []}, alert_start=None, threshold=None) is None


def test_console_sso_settings_come_together_with_the_provider() -> None:
    import pytest

    from config.settings import load_settings
    from pipeline.errors import ConfigurationError

    provider = {"oidc_issuer": "https://idp.test/realms/sre", "oidc_audience": "smartcloudops",
                "oidc_jwks_url": "https://idp.test/certs"}
    sso = {"oidc_client_id": "sco-console", "oidc_authorize_url": "https://idp.test/auth",
           "oidc_token_url": "https://idp.test/token"}
    assert load_settings(**provider, **sso).oidc_client_id == "sco-console"
    with pytest.raises(ConfigurationError, match="SCO_OIDC_CLIENT_ID"):
        load_settings(**provider, oidc_client_id="sco-console")
    with pytest.raises(ConfigurationError, match="SCO_OIDC_CLIENT_ID"):
        load_settings(**sso)
