"""Tracking tokens: length-prefixed MACs with a purpose tag and a key id (bidder.urls)."""

from __future__ import annotations

import hashlib
from urllib.parse import parse_qsl, urlencode

import pytest

from bidder.urls import Signer, Token, TokenError, key_id, parse_amount_micros

KEY = b"k" * 32
TOKEN = Token("b1", "r1", "cmp-a", "cr-1", "u-1", 1_767_614_400_000, 4_530_000)


def _query(query: str, **changes: str) -> str:
    params = dict(parse_qsl(query, keep_blank_values=True))
    params.update(changes)
    return urlencode(params)


def test_each_url_verifies_for_its_own_endpoint_only() -> None:
    signer = Signer(KEY)
    urls = signer.urls(TOKEN)
    for purpose in ("win", "click", "conversion"):
        token, _ = signer.read(getattr(urls, purpose), purpose)
        assert token == TOKEN
    # The click URL every browser sees cannot be turned into a win notice.
    with pytest.raises(TokenError, match="not valid for /win"):
        signer.read(urls.click, "win")
    with pytest.raises(TokenError, match="not valid for /click"):
        signer.read(urls.win, "click")


def test_fields_cannot_shift_into_each_other() -> None:
    """With a separator byte, ("x\\x1fcmp-b", "cmp-a") and ("x", "cmp-b\\x1fcmp-a") MAC the
    same bytes. Length prefixes make them different messages."""
    signer = Signer(KEY)
    a = Token("b1", "r1\x1fcmp-b", "cmp-a", "cr", "u", 1, 1)
    b = Token("b1", "r1", "cmp-b\x1fcmp-a", "cr", "u", 1, 1)
    old_style = [
        "\x1f".join(str(f) for f in t).encode() for t in (a, b)
    ]  # what the old MAC covered
    assert old_style[0] == old_style[1]
    forged = _query(signer.urls(a).win, q="r1", c="cmp-b\x1fcmp-a")
    with pytest.raises(TokenError):
        signer.read(forged, "win")


@pytest.mark.parametrize("field", ["b", "q", "c", "r", "u"])
def test_control_characters_are_refused(field: str) -> None:
    signer = Signer(KEY)
    with pytest.raises(TokenError, match="control characters"):
        signer.read(_query(signer.urls(TOKEN).win, **{field: "x\x1fy"}), "win")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"p": "99999999"}, "signature is not valid"),  # the bid price raised
        ({"c": "cmp-other"}, "signature is not valid"),  # another campaign
        ({"t": "-5"}, "non-negative integer"),
        ({"k": "deadbeef"}, "unknown key id"),
    ],
)
def test_edited_tokens_are_refused(changes: dict[str, str], message: str) -> None:
    signer = Signer(KEY)
    with pytest.raises(TokenError, match=message):
        signer.read(_query(signer.urls(TOKEN).win, **changes), "win")


def test_a_repeated_parameter_is_refused() -> None:
    signer = Signer(KEY)
    with pytest.raises(TokenError, match="repeats parameter 'c'"):
        signer.read(signer.urls(TOKEN).win + "&c=cmp-other", "win")


def test_keys_rotate_without_breaking_notices_already_out() -> None:
    old, new = b"o" * 32, b"n" * 32
    out_before = Signer(old).urls(TOKEN).win
    rotated = Signer(new, retired=[old])
    assert rotated.read(out_before, "win")[0] == TOKEN  # signed with the old key: accepted
    assert f"k={key_id(new)}" in rotated.urls(TOKEN).win  # new bids use the new key
    with pytest.raises(TokenError, match="unknown key id"):
        Signer(new).read(out_before, "win")  # once the old key is retired for good


def test_the_key_id_reveals_nothing_of_the_key() -> None:
    assert key_id(KEY) == hashlib.blake2b(KEY, digest_size=4, person=b"bidlake-key-id").hexdigest()
    assert key_id(KEY) not in KEY.decode()


def test_amounts_have_a_cap() -> None:
    assert parse_amount_micros("1.25", "price") == 1_250_000
    with pytest.raises(TokenError, match="above the cap of 50"):
        parse_amount_micros("50.01", "value", cap_micros=50_000_000)
