"""An OIDC provider for tests: keys made in the test, a JWKS served over HTTP on 127.0.0.1, tokens signed here."""

from __future__ import annotations

import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa

ISSUER = "https://idp.test/realms/sre"
AUDIENCE = "smartcloudops"


class SigningKey:
    """A private key, its key id and algorithm; `public_jwk` is what the provider publishes."""

    def __init__(self, alg: str = "RS256", kid: str | None = None) -> None:
        self.alg, self.kid = alg, kid or uuid.uuid4().hex[:12]
        if alg == "RS256":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            algorithm = jwt.algorithms.RSAAlgorithm
        else:
            self.private = ec.generate_private_key(ec.SECP256R1())
            algorithm = jwt.algorithms.ECAlgorithm
        self.public_jwk = {**json.loads(algorithm.to_jwk(self.private.public_key())), "kid": self.kid,
                           "alg": alg, "use": "sig"}

    def token(self, subject: str = "alice", *, groups: list[str] | None = None, issuer: str = ISSUER,
              audience: str = AUDIENCE, expires_in: float = 300, kid: str | None = None,
              **claims: Any) -> str:
        now = int(time.time())
        body = {"iss": issuer, "aud": audience, "sub": subject, "iat": now, "exp": now + int(expires_in),
                "preferred_username": subject.title(), "groups": groups or [], **claims}
        return jwt.encode(body, self.private, algorithm=self.alg, headers={"kid": kid or self.kid})


class Provider:
    """The JWKS endpoint: which keys are published, and how often they were fetched."""

    def __init__(self) -> None:
        self.keys: list[SigningKey] = []
        self.fetches = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's name
                provider.fetches += 1
                body = json.dumps({"keys": [k.public_jwk for k in provider.keys]}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/protocol/openid-connect/certs"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
