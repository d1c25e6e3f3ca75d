"""OIDC access tokens: JWTs (RS256/ES256) checked against the provider's JWKS.

The signing keys are fetched from the JWKS URL and kept for `cache_s`; a token signed with a
key id not in the cache triggers one refetch (the provider rotated its keys), at most once per
`min_refetch_s`, so a stream of tokens with made-up key ids cannot hammer the provider.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import structlog

if TYPE_CHECKING:
    import jwt

log = structlog.get_logger("consumers.oidc")

MAX_GROUPS = 256
MAX_CLAIM_CHARS = 256


class InvalidToken(Exception):
    """The token is not one this deployment accepts (the message is safe to show the caller)."""


@dataclass(frozen=True, slots=True)
class VerifiedToken:
    """The claims that make a principal."""

    subject: str
    display_name: str
    groups: tuple[str, ...]


def fetch_jwks(url: str) -> Mapping[str, Any]:
    """GET the JWKS document (a short timeout: this runs while a request waits)."""
    response = httpx.get(url, timeout=5.0, follow_redirects=False)
    response.raise_for_status()
    return response.json()


class JwksCache:
    """Signing keys by key id, refetched when stale or when an unknown key id shows up."""

    def __init__(
        self,
        url: str,
        *,
        cache_s: float = 300.0,
        min_refetch_s: float = 10.0,
        fetch: Callable[[str], Mapping[str, Any]] = fetch_jwks,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url, self._cache_s, self._min_refetch_s = url, cache_s, min_refetch_s
        self._fetch, self._clock = fetch, clock
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at: float | None = None
        self._lock = threading.Lock()

    def key(self, kid: str) -> jwt.PyJWK:
        """The key with id `kid`; InvalidToken when the provider has none such."""
        with self._lock:
            now = self._clock()
            stale = self._fetched_at is None or now - self._fetched_at >= self._cache_s
            may_refetch = self._fetched_at is None or now - self._fetched_at >= self._min_refetch_s
            if stale or (kid not in self._keys and may_refetch):
                self._refresh(now)
            found = self._keys.get(kid)
        if found is None:
            raise InvalidToken("token signed with an unknown key")
        return found

    def _refresh(self, now: float) -> None:
        import jwt  # PyJWT loads cryptography (~5 MB PSS): a server without OIDC never pays it

        try:
            document = self._fetch(self._url)
            keys = jwt.PyJWKSet.from_dict(dict(document)).keys
        except (httpx.HTTPError, ValueError, jwt.PyJWKSetError, jwt.InvalidKeyError) as exc:
            # Keep the keys we had: a provider blip must not log everyone out.
            log.warning("oidc.jwks_unavailable", url=self._url, error=str(exc))
            if self._fetched_at is None:
                raise InvalidToken("signing keys unavailable") from exc
            return
        self._keys = {key.key_id: key for key in keys if key.key_id}
        self._fetched_at = now
        log.info("oidc.jwks_fetched", url=self._url, keys=sorted(self._keys))


class JwtVerifier:
    """Checks signature, issuer, audience, expiry (with leeway) and returns who the token names."""

    def __init__(
        self,
        keys: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...] = ("RS256", "ES256"),
        leeway_s: int = 30,
        groups_claim: str = "groups",
        name_claim: str = "preferred_username",
    ) -> None:
        self._keys, self._issuer, self._audience = keys, issuer, audience
        self._algorithms, self._leeway_s = algorithms, leeway_s
        self._groups_claim, self._name_claim = groups_claim, name_claim

    def verify(self, token: str) -> VerifiedToken:
        """The token's principal claims; InvalidToken for anything not fully valid."""
        import jwt  # on the first token, as in JwksCache._refresh

        try:
            header = jwt.get_unverified_header(token)
            unverified = jwt.decode(token, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise InvalidToken("malformed token") from exc
        if header.get("alg") not in self._algorithms:
            raise InvalidToken(f"token algorithm must be one of {', '.join(self._algorithms)}")
        if unverified.get("iss") != self._issuer:
            raise InvalidToken("token from an unknown issuer")  # before any key fetch
        kid = header.get("kid")
        if not isinstance(kid, str) or not kid:
            raise InvalidToken("token has no key id")
        key = self._keys.key(kid)
        try:
            claims = jwt.decode(
                token,
                key=key.key,
                algorithms=[header["alg"]],
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway_s,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise InvalidToken("token expired") from exc
        except jwt.PyJWTError as exc:
            raise InvalidToken(f"token refused: {type(exc).__name__}") from exc
        return self._principal_claims(claims)

    def _principal_claims(self, claims: Mapping[str, Any]) -> VerifiedToken:
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_CLAIM_CHARS:
            raise InvalidToken("token subject is not a usable identity")
        name = claims.get(self._name_claim)
        display = name if isinstance(name, str) and 0 < len(name) <= MAX_CLAIM_CHARS else subject
        raw = claims.get(self._groups_claim, [])
        raw = [raw] if isinstance(raw, str) else raw
        if not isinstance(raw, list):
            raise InvalidToken(f"claim {self._groups_claim!r} must be a list of group names")
        groups = tuple(
            g for g in raw[:MAX_GROUPS] if isinstance(g, str) and 0 < len(g) <= MAX_CLAIM_CHARS
        )
        return VerifiedToken(subject, display, groups)
