"""Bearer and HTTP basic authentication, compared in constant time."""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from config.settings import Settings


@dataclass(frozen=True, slots=True)
class Credentials:
    """What a caller may present: a bearer token, and optionally a basic user/password pair."""

    bearer: str
    basic_user: str | None = None
    basic_password: str | None = None

    def accepts(self, authorization: str | None) -> bool:
        """True when the Authorization header carries one of these credentials."""
        if not authorization:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        scheme = scheme.lower()
        if scheme == "bearer":
            return _same(value.strip(), self.bearer)
        if scheme == "basic" and self.basic_user is not None and self.basic_password is not None:
            user, password = _decode_basic(value.strip())
            # Evaluate both comparisons, so timing does not reveal which half was wrong.
            return _same(user, self.basic_user) & _same(password, self.basic_password)
        return False


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password


def webhook_credentials(settings: Settings) -> Credentials:
    """What Alertmanager and Prometheus must present: the webhook token, or the basic pair."""
    password = settings.webhook_password.get_secret_value() if settings.webhook_password else None
    return Credentials(bearer=settings.webhook_secret(), basic_user=settings.webhook_username,
                       basic_password=password)


def api_credentials(settings: Settings) -> Credentials:
    """What callers of the read and control API must present."""
    return Credentials(bearer=settings.api_secret())
