"""Signed session cookies and CSRF tokens (HMAC-SHA256 over a server-side key).

The cookie carries who signed in, when it expires and a random nonce; the role is looked up again
on every request, so a disabled account or a changed role takes effect at once. A form's CSRF
token is an HMAC of the session's nonce, so a page of another site cannot make one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from dataclasses import dataclass

COOKIE = "sco_console"
PRE_COOKIE = "sco_console_pre"  # before sign-in: the login form's CSRF nonce
SESSION_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class Session:
    username: str  # a local account's name, or the OIDC subject
    nonce: str
    expires: int
    source: str = "console"  # "console" (local account) or "oidc"
    groups: tuple[str, ...] = ()
    display_name: str = ""


class SessionSigner:
    """Makes and checks session cookies and CSRF tokens with one key."""

    def __init__(self, key: str) -> None:
        self._key = hashlib.sha256(b"sco-console-session|" + key.encode()).digest()

    def issue(self, username: str, now: float, *, source: str = "console", groups: tuple[str, ...] = (),
              display_name: str = "") -> str:
        return self.seal({"u": username, "n": secrets.token_urlsafe(16), "e": int(now) + SESSION_S, "s": source,
                          "g": list(groups), "d": display_name})

    def seal(self, data: dict) -> str:
        """`data` as base64 JSON with its signature (readable by anyone, changeable by no one)."""
        body = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode().rstrip("=")
        return f"{body}.{self._sign(body)}"

    def unseal(self, cookie: str | None) -> dict | None:
        """What `seal` sealed, or None when the value is missing, malformed or not signed by this key."""
        if not cookie or cookie.count(".") != 1 or len(cookie) > 4096:
            return None
        body, signature = cookie.split(".")
        if not hmac.compare_digest(signature, self._sign(body)):
            return None
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def read(self, cookie: str | None, now: float) -> Session | None:
        """The session a cookie proves, or None (missing, forged, malformed or expired)."""
        data = self.unseal(cookie)
        if data is None:
            return None
        try:
            session = Session(str(data["u"]), str(data["n"]), int(data["e"]), str(data.get("s", "console")),
                              tuple(str(g) for g in data.get("g") or ()), str(data.get("d", "")))
        except (ValueError, KeyError, TypeError):
            return None
        return session if session.expires > now else None

    def csrf_token(self, nonce: str) -> str:
        return self._sign(f"csrf|{nonce}")

    def csrf_ok(self, nonce: str, token: str | None) -> bool:
        return bool(token) and hmac.compare_digest(str(token), self.csrf_token(nonce))

    def _sign(self, text: str) -> str:
        digest = hmac.new(self._key, text.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")


def new_nonce() -> str:
    return secrets.token_urlsafe(16)
