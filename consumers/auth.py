"""Who is calling: every credential the API accepts, each resolved to a Principal.

Credentials come only from the Authorization header (never from the query string):
- `Bearer <JWT>` from the OIDC provider, when SCO_OIDC_* is set: the principal is the token's
  subject, its groups come from the configured claim, its roles from roles.yaml (users and groups);
- `Bearer <API key>` made with `smartcloudops apikey create`: the principal `apikey:<name>` with
  the key's one role;
- the deprecated static tokens: SCO_WEBHOOK_TOKEN (and the basic pair) may only ingest;
  SCO_API_TOKEN holds SCO_API_TOKEN_ROLE.
Secrets are compared in constant time; a malformed or unknown credential is a 401.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request

from consumers.http import HttpError
from consumers.oidc import InvalidToken, JwtVerifier
from pipeline.api_keys import PREFIX as API_KEY_PREFIX, hash_api_key
from pipeline.nlu.authz import Principal, Role, RoleBook

if TYPE_CHECKING:
    from config.settings import Settings

# Names a client might use to put a token in a URL; refused so the mistake is seen, not ignored.
QUERY_TOKEN_PARAMS = frozenset({"access_token", "token", "api_key", "apikey", "jwt", "id_token"})
CHALLENGE = 'Bearer realm="smartcloudops"'


class ApiKeyLookup(Protocol):
    """Finds a live (not revoked) API key: the key's name and role label, or None."""

    def lookup(self, key: str) -> tuple[str, str] | None: ...


@dataclass(frozen=True, slots=True)
class StaticCredential:
    """A fixed secret (bearer token or basic pair) and the principal it stands for."""

    principal: Principal
    bearer: str | None = None
    basic_user: str | None = None
    basic_password: str | None = None

    def matches_bearer(self, token: str) -> bool:
        return self.bearer is not None and _same(token, self.bearer)

    def matches_basic(self, user: str, password: str) -> bool:
        if self.basic_user is None or self.basic_password is None:
            return False
        # Evaluate both comparisons, so timing does not reveal which half was wrong.
        return _same(user, self.basic_user) & _same(password, self.basic_password)


class Authenticator:
    """Resolves the Authorization header of a request to a Principal, or refuses with a 401."""

    def __init__(
        self,
        *,
        static: Sequence[StaticCredential] = (),
        api_keys: ApiKeyLookup | None = None,
        jwt: JwtVerifier | None = None,
        roles: RoleBook = RoleBook(),
    ) -> None:
        self._static, self._api_keys, self._jwt, self._roles = tuple(static), api_keys, jwt, roles

    async def authenticate(self, request: Request) -> Principal:
        """The proven principal of `request`; HttpError 401 (or 400 for a token in the URL)."""
        if QUERY_TOKEN_PARAMS & {name.lower() for name in request.query_params}:
            raise HttpError(400, "credentials are never accepted in the URL; use the Authorization header")
        scheme, _, value = (request.headers.get("authorization") or "").strip().partition(" ")
        value = value.strip()
        if not value:
            raise _unauthorized("missing credentials (Authorization: Bearer <token>)")
        if scheme.lower() == "basic":
            return self._basic(value)
        if scheme.lower() != "bearer":
            raise _unauthorized("unsupported authorization scheme")
        if self._jwt is not None and value.count(".") == 2:
            return await self._from_jwt(value)
        for credential in self._static:
            if credential.matches_bearer(value):
                return credential.principal
        if self._api_keys is not None and value.startswith(API_KEY_PREFIX) and len(value) < 200:
            found = await run_in_threadpool(self._api_keys.lookup, value)
            if found is not None:
                name, role = found
                return Principal(f"apikey:{name}", name, (), frozenset({Role.parse(role)}), "api_key")
        raise _unauthorized("invalid credentials")

    def _basic(self, value: str) -> Principal:
        user, password = _decode_basic(value)
        for credential in self._static:
            if credential.matches_basic(user, password):
                return credential.principal
        raise _unauthorized("invalid credentials")

    async def _from_jwt(self, token: str) -> Principal:
        verifier = self._jwt
        assert verifier is not None
        try:
            verified = await run_in_threadpool(verifier.verify, token)
        except InvalidToken as exc:
            raise _unauthorized(str(exc)) from exc
        roles = self._roles.roles_of(verified.subject, verified.groups)
        return Principal(verified.subject, verified.display_name, verified.groups, roles, "jwt")


def static_credentials(settings: Settings) -> list[StaticCredential]:
    """The deprecated fixed secrets: the webhook token (ingest only) and SCO_API_TOKEN."""
    ingest = frozenset({Role.INGEST})
    password = settings.webhook_password.get_secret_value() if settings.webhook_password else None
    found = [
        StaticCredential(Principal("webhook-token", "webhook token", (), ingest, "static_token"),
                         bearer=settings.webhook_secret()),
    ]
    if settings.webhook_username is not None:
        found.append(StaticCredential(
            Principal(f"webhook-basic:{settings.webhook_username}", settings.webhook_username, (), ingest,
                      "static_token"),
            basic_user=settings.webhook_username, basic_password=password))
    api_token = settings.api_secret()
    if api_token is not None:
        role = frozenset({Role.parse(settings.api_token_role)})
        found.append(StaticCredential(Principal("api-token", "SCO_API_TOKEN", (), role, "static_token"),
                                      bearer=api_token))
    return found


def _unauthorized(message: str) -> HttpError:
    return HttpError(401, message, {"WWW-Authenticate": CHALLENGE})


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


def _decode_basic(value: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(value, validate=True).decode()
    except (binascii.Error, UnicodeDecodeError):
        return "", ""
    user, _, password = decoded.partition(":")
    return user, password


class InMemoryApiKeys:
    """ApiKeyLookup over a dict (tests and the contract test); stores hashes like the real store."""

    def __init__(self, keys: dict[str, tuple[str, str]] | None = None) -> None:
        self._by_hash = {hash_api_key(key): found for key, found in (keys or {}).items()}

    def add(self, key: str, name: str, role: str) -> None:
        self._by_hash[hash_api_key(key)] = (name, role)

    def revoke(self, name: str) -> None:
        self._by_hash = {h: found for h, found in self._by_hash.items() if found[0] != name}

    def lookup(self, key: str) -> tuple[str, str] | None:
        return self._by_hash.get(hash_api_key(key))
