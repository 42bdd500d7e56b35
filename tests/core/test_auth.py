"""Auth flows: Basic, Function, NetRC, Digest (RFC 7616), and the sync/async drivers."""

from __future__ import annotations

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from httplib._core.auth import (
    Challenge,
    DigestChallenge,
    parse_www_authenticate,
)

# --- WWW-Authenticate parsing ------------------------------------------------------------------

RFC7616_NONCE = "7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v"
RFC7616_OPAQUE = "FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS"
RFC7616_CNONCE = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ"


def rfc7616_challenge(algorithm: str) -> str:
    """The challenge of RFC 7616 section 3.9.1 for one algorithm."""
    return (
        f'Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm={algorithm}, '
        f'nonce="{RFC7616_NONCE}", opaque="{RFC7616_OPAQUE}"'
    )


def test_parse_rfc7616_challenge() -> None:
    [challenge] = parse_www_authenticate(rfc7616_challenge("SHA-256"))
    assert challenge == Challenge(
        "digest",
        {
            "realm": "http-auth@example.org",
            "qop": "auth, auth-int",
            "algorithm": "SHA-256",
            "nonce": RFC7616_NONCE,
            "opaque": RFC7616_OPAQUE,
        },
    )


def test_parse_several_challenges_in_one_value() -> None:
    # The example of RFC 7235 section 4.1, with escapes and commas inside a quoted-string.
    value = (
        'Newauth realm="apps", type=1, title="Login to \\"apps\\", please", '
        'Basic realm="simple", Bearer abc+/def==, Digest Realm="r", NONCE="n"'
    )
    assert parse_www_authenticate(value) == [
        Challenge("newauth", {"realm": "apps", "type": "1", "title": 'Login to "apps", please'}),
        Challenge("basic", {"realm": "simple"}),
        Challenge("bearer", token68="abc+/def=="),
        Challenge("digest", {"realm": "r", "nonce": "n"}),
    ]


def test_parse_tolerates_whitespace_and_empty_list_elements() -> None:
    value = ' ,  DIGEST  realm = "r" ,, nonce=abc ,\t, Negotiate '
    assert parse_www_authenticate(value) == [
        Challenge("digest", {"realm": "r", "nonce": "abc"}),
        Challenge("negotiate"),
    ]


@pytest.mark.parametrize(
    ("value", "complaint"),
    [
        ('Digest realm="unterminated', "unterminated quoted-string for 'realm'"),
        ('Digest nonce="n", realm=@x', "missing value for parameter 'realm'"),
        # "realm=" before a comma is a token68, so "nonce" reads as a scheme followed by "=".
        ("Digest realm=, nonce=x", "unexpected '=' at position 20"),
        ('Digest realm="a" nonce="b"', "unexpected 'n' at position 17"),
        ('Digest realm="a", realm="b"', "duplicate parameter 'realm'"),
        ('Digest realm="a", REALM="b"', "duplicate parameter 'realm'"),
        ('="a"', "expected an auth-scheme at position 0"),
        ('Digest"realm"', "unexpected '\"' at position 6"),
    ],
)
def test_parse_rejects_malformed_values(value: str, complaint: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_www_authenticate(value)
    assert complaint in str(info.value)
    assert repr(value) in str(info.value)


TOKEN_CHARS = string.ascii_letters + string.digits + "!#$%&'*+-.^_`|~"
tokens = st.text(TOKEN_CHARS, min_size=1, max_size=12)
# Any text a quoted-string can carry: visible ASCII, space, tab, and obs-text.
quotable = st.text(st.characters(codec="latin-1", exclude_categories=("Cc",)), max_size=30)


def render(value: str) -> str:
    escaped = value.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'


@settings(max_examples=150)
@given(
    scheme=tokens,
    params=st.dictionaries(tokens.map(str.lower), quotable | tokens, min_size=1, max_size=6),
    quote_all=st.booleans(),
)
def test_parse_round_trips_quoted_and_token_values(
    scheme: str, params: dict[str, str], quote_all: bool
) -> None:
    def as_param(name: str, value: str) -> str:
        bare = value and not quote_all and all(c in TOKEN_CHARS for c in value)
        return f"{name}={value if bare else render(value)}"

    value = f"{scheme} " + ", ".join(as_param(k, v) for k, v in params.items())
    assert parse_www_authenticate(value + ", Basic realm=x") == [
        Challenge(scheme.lower(), params),
        Challenge("basic", {"realm": "x"}),
    ]


# --- Digest computations against published vectors --------------------------------------------


@pytest.mark.parametrize(
    ("algorithm", "expected"),
    [
        ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
        ("SHA-256", "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1"),
    ],
)
def test_digest_response_matches_rfc7616_example(algorithm: str, expected: str) -> None:
    [parsed] = parse_www_authenticate(rfc7616_challenge(algorithm))
    challenge = DigestChallenge.from_params(parsed.params)
    response = challenge.response(
        username=b"Mufasa",
        password=b"Circle of Life",
        method=b"GET",
        uri=b"/dir/index.html",
        nc_value=b"00000001",
        cnonce=RFC7616_CNONCE.encode(),
        qop=b"auth",
    )
    assert response.decode() == expected


def test_digest_response_matches_rfc2617_example() -> None:
    challenge = DigestChallenge(
        realm=b"testrealm@host.com",
        nonce=b"dcd98b7102dd2f0e8b11d0f600bfb0c093",
        qop=b"auth,auth-int",
        opaque=b"5ccc069c403ebaf9f0171e9517f40e41",
    )
    response = challenge.response(
        username=b"Mufasa",
        password=b"Circle Of Life",
        method=b"GET",
        uri=b"/dir/index.html",
        nc_value=b"00000001",
        cnonce=b"0a4f113b",
        qop=b"auth",
    )
    assert response == b"6629fae49393a05397450978507c4ef1"


def test_digest_challenge_defaults_and_requirements() -> None:
    challenge = DigestChallenge.from_params({"realm": "r", "nonce": "n"})
    assert challenge == DigestChallenge(realm=b"r", nonce=b"n", algorithm="MD5")
    assert challenge.is_supported
    assert not DigestChallenge(b"r", b"n", algorithm="SHA-512-256").is_supported
    assert DigestChallenge(b"r", b"n", algorithm="sha-256-sess").is_supported
    with pytest.raises(ValueError, match="missing realm and nonce"):
        DigestChallenge.from_params({"opaque": "o"})
    with pytest.raises(ValueError, match="missing nonce"):
        DigestChallenge.from_params({"realm": "r"})
