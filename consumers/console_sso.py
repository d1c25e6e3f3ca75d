"""Console sign-in with the OIDC provider: the authorization-code flow with PKCE.

`/console/sso` sends the browser to the provider with a random state, nonce and PKCE challenge
kept in a short-lived signed cookie; `/console/sso/callback` checks the state, trades the code for
tokens at the token endpoint (server to server) and verifies the access token exactly as the API
does (`JwtVerifier`: issuer, audience, signature from the JWKS). The person's roles then come from
roles.yaml by subject and groups, as for the API and chat.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from dataclasses import dataclass
from urllib.parse import urlencode

import httpx

from consumers.oidc import InvalidToken, JwtVerifier, VerifiedToken

FLOW_COOKIE = "sco_console_sso"
FLOW_S = 600


@dataclass(frozen=True, slots=True)
class SsoFlow:
    """One sign-in in progress: what the callback must see again."""

    state: str
    nonce: str
    verifier: str
    next: str

    def encode(self) -> str:
        return base64.urlsafe_b64encode(json.dumps([self.state, self.nonce, self.verifier, self.next]).encode()).decode()

    @classmethod
    def decode(cls, raw: str) -> SsoFlow | None:
        try:
            state, nonce, verifier, target = json.loads(base64.urlsafe_b64decode(raw.encode()))
            return cls(str(state), str(nonce), str(verifier), str(target))
        except (ValueError, TypeError):
            return None


class SsoLogin:
    """The provider's endpoints and this client's registration."""

    def __init__(self, *, authorize_url: str, token_url: str, client_id: str, client_secret: str | None,
                 verifier: JwtVerifier, timeout_s: float = 10.0) -> None:
        self.authorize_url, self.token_url = authorize_url, token_url
        self.client_id, self.client_secret = client_id, client_secret
        self.verifier, self.timeout_s = verifier, timeout_s

    def start(self, redirect_uri: str, target: str) -> tuple[str, SsoFlow]:
        """Where to send the browser, and the flow to remember in a cookie."""
        flow = SsoFlow(secrets.token_urlsafe(24), secrets.token_urlsafe(24), secrets.token_urlsafe(48), target)
        challenge = base64.urlsafe_b64encode(hashlib.sha256(flow.verifier.encode()).digest()).decode().rstrip("=")
        query = urlencode({"response_type": "code", "client_id": self.client_id, "redirect_uri": redirect_uri,
                           "scope": "openid profile", "state": flow.state, "nonce": flow.nonce,
                           "code_challenge": challenge, "code_challenge_method": "S256"})
        separator = "&" if "?" in self.authorize_url else "?"
        return f"{self.authorize_url}{separator}{query}", flow

    def finish(self, code: str, redirect_uri: str, flow: SsoFlow) -> VerifiedToken:
        """Trade the code for tokens and verify the access token; InvalidToken when anything is off."""
        form = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
                "client_id": self.client_id, "code_verifier": flow.verifier}
        auth = (self.client_id, self.client_secret) if self.client_secret else None
        try:
            answer = httpx.post(self.token_url, data=form, auth=auth, timeout=self.timeout_s,
                                follow_redirects=False)
            answer.raise_for_status()
            token = answer.json().get("access_token")
        except (httpx.HTTPError, ValueError, AttributeError) as exc:
            raise InvalidToken(f"the provider did not give a token: {type(exc).__name__}") from exc
        if not isinstance(token, str):
            raise InvalidToken("the provider's answer has no access_token")
        return self.verifier.verify(token)
