"""API keys: how they look and how they are stored (a hash only; the key is shown once)."""

from __future__ import annotations

import hashlib
import re
import secrets

PREFIX = "sco_"
NAME_PATTERN = re.compile(r"[a-z0-9][a-z0-9_-]{0,63}")
SHOWN_PREFIX_CHARS = 12


def new_api_key() -> str:
    """A fresh key: the prefix and 256 random bits (so a fast hash is enough to store it)."""
    return PREFIX + secrets.token_urlsafe(32)


def hash_api_key(key: str) -> str:
    """What the store keeps of a key: its SHA-256, hex."""
    return hashlib.sha256(key.encode()).hexdigest()


def check_key_name(name: str) -> str:
    """A key's name as given, or ValueError: lowercase letters, digits, '-' and '_', 1-64 long."""
    if not NAME_PATTERN.fullmatch(name):
        raise ValueError(f"key name {name[:80]!r} must match {NAME_PATTERN.pattern}")
    return name
