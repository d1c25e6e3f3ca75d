"""OIDC tokens: signature, issuer, audience, expiry with leeway, algorithms, groups, key rotation."""

from __future__ import annotations

import jwt as pyjwt
import pytest
from tests.oidc_provider import AUDIENCE, ISSUER, SigningKey

from consumers.oidc import InvalidToken, JwksCache, JwtVerifier


def verifier(url: str, **options) -> JwtVerifier:  # type: ignore[no-untyped-def]
    cache = JwksCache(url, cache_s=options.pop("cache_s", 300), min_refetch_s=options.pop("min_refetch_s", 0))
    return JwtVerifier(cache, issuer=ISSUER, audience=AUDIENCE, **options)


@pytest.mark.parametrize("key_name", ["rsa_key", "ec_key"])
def test_a_valid_token_names_its_subject_display_name_and_groups(provider, request, key_name) -> None:
    key = request.getfixturevalue(key_name)
    verified = verifier(provider.url).verify(key.token("alice", groups=["sre-leads", "S01SRETEAM1"]))
    assert (verified.subject, verified.display_name, verified.groups) == (
        "alice", "Alice", ("sre-leads", "S01SRETEAM1"))


def test_groups_come_from_the_configured_claim(provider, rsa_key) -> None:
    token = rsa_key.token("alice", cognito_groups=["ops"])
    assert verifier(provider.url, groups_claim="cognito_groups").verify(token).groups == ("ops",)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda k, i: k.token(expires_in=-120), "token expired"),
        (lambda k, i: k.token(issuer="https://evil.example"), "unknown issuer"),
        (lambda k, i: k.token(audience="someone-else"), "InvalidAudienceError"),
        (lambda k, i: i.token(), "InvalidSignatureError"),
        (lambda k, i: k.token(kid="never-published"), "unknown key"),
        (lambda k, i: "not.a.jwt", "malformed"),
    ],
    ids=["expired", "unknown-issuer", "wrong-audience", "bad-signature", "unknown-kid", "malformed"],
)
def test_invalid_tokens_are_refused(provider, rsa_key, impostor_key, make, message) -> None:
    with pytest.raises(InvalidToken, match=message):
        verifier(provider.url).verify(make(rsa_key, impostor_key))


def test_expiry_allows_the_configured_clock_skew(provider, rsa_key) -> None:
    token = rsa_key.token(expires_in=-10)
    assert verifier(provider.url, leeway_s=30).verify(token).subject == "alice"
    with pytest.raises(InvalidToken, match="expired"):
        verifier(provider.url, leeway_s=0).verify(token)


def test_unsigned_and_symmetric_tokens_are_refused(provider, rsa_key) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "sub": "mallory", "iat": 0, "exp": 2**31}
    unsigned = pyjwt.encode(claims, None, algorithm="none", headers={"kid": "rsa-1"})
    # The classic confusion attack: HS256 keyed with the provider's public key.
    public_pem = rsa_key.public_jwk["n"].encode()
    symmetric = pyjwt.encode(claims, public_pem, algorithm="HS256", headers={"kid": "rsa-1"})
    for token in (unsigned, symmetric):
        with pytest.raises(InvalidToken, match="algorithm"):
            verifier(provider.url).verify(token)


def test_tokens_without_subject_or_expiry_are_refused(provider, rsa_key) -> None:
    claims = {"iss": ISSUER, "aud": AUDIENCE, "iat": 0, "sub": "alice"}
    no_exp = pyjwt.encode(claims, rsa_key.private, algorithm="RS256", headers={"kid": "rsa-1"})
    with pytest.raises(InvalidToken):
        verifier(provider.url).verify(no_exp)


def test_a_rotated_key_is_fetched_once_and_a_removed_key_stops_working(provider, rsa_key) -> None:
    checker = verifier(provider.url, cache_s=300)
    assert checker.verify(rsa_key.token()).subject == "alice"
    assert provider.fetches == 1
    assert checker.verify(rsa_key.token("bob")).subject == "bob"
    assert provider.fetches == 1  # cached

    rotated = SigningKey("RS256", kid="rsa-2")
    provider.keys = [rotated]  # the provider rotates: new key in, old key out
    assert checker.verify(rotated.token("carol")).subject == "carol"
    assert provider.fetches == 2  # an unknown kid refetched the set once
    with pytest.raises(InvalidToken, match="unknown key"):
        checker.verify(rsa_key.token())


def test_made_up_key_ids_cannot_hammer_the_provider(provider, rsa_key) -> None:
    now = [0.0]
    cache = JwksCache(provider.url, cache_s=300, min_refetch_s=10, clock=lambda: now[0])
    checker = JwtVerifier(cache, issuer=ISSUER, audience=AUDIENCE)
    for attempt in range(20):
        with pytest.raises(InvalidToken):
            checker.verify(rsa_key.token(kid=f"made-up-{attempt}"))
    assert provider.fetches == 1
    now[0] = 11.0
    with pytest.raises(InvalidToken):
        checker.verify(rsa_key.token(kid="made-up-again"))
    assert provider.fetches == 2


def test_the_last_good_keys_survive_a_provider_outage(provider, rsa_key) -> None:
    now = [0.0]
    checker = JwtVerifier(JwksCache(provider.url, cache_s=60, clock=lambda: now[0]),
                          issuer=ISSUER, audience=AUDIENCE)
    assert checker.verify(rsa_key.token()).subject == "alice"
    provider.close()
    now[0] = 120.0  # stale, and the provider is gone
    assert checker.verify(rsa_key.token()).subject == "alice"


def test_no_keys_at_all_refuses(rsa_key) -> None:
    checker = verifier("http://127.0.0.1:9/nothing-listens")
    with pytest.raises(InvalidToken, match="signing keys unavailable"):
        checker.verify(rsa_key.token())
