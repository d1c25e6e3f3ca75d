"""Local console accounts: how passwords and one-time login links are kept (scrypt, sha256)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets

# scrypt at n=2**14, r=8, p=1: about 16 MiB and tens of milliseconds a check (OWASP's minimum).
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
USERNAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
MIN_PASSWORD_CHARS = 12
LINK_PREFIX = "scl_"


def check_username(name: str) -> str:
    """The username as given, or ValueError: lowercase letters, digits, '.', '-', '_', 1-64 long."""
    if not USERNAME_PATTERN.fullmatch(name):
        raise ValueError(f"username {name[:80]!r} must match {USERNAME_PATTERN.pattern}")
    return name


def check_password(password: str) -> str:
    """The password as given, or ValueError when it is shorter than MIN_PASSWORD_CHARS."""
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return password


def hash_password(password: str, *, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$salt$hash` (base64): what the store keeps of a password."""
    salt = salt or secrets.token_bytes(16)
    digest = hashlib.scrypt(password.encode(), salt=salt, n=SCRYPT_N, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return "$".join(["scrypt", str(SCRYPT_N), str(SCRYPT_R), str(SCRYPT_P), _b64(salt), _b64(digest)])


def verify_password(password: str, stored: str) -> bool:
    """Whether `password` matches a `hash_password` value (constant-time compare; False if malformed)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = base64.b64decode(digest)
        given = hashlib.scrypt(password.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p),
                               dklen=len(expected))
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(given, expected)


# A password nobody knows, for an account that signs in only with one-time links.
UNUSABLE_PASSWORD = "!"


def new_login_token() -> str:
    """A one-time login token: the prefix and 256 random bits (stored as its sha256)."""
    return LINK_PREFIX + secrets.token_urlsafe(32)


def hash_login_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()
