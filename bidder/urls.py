"""The win-notice, click and conversion URLs the bidder puts into its bids, signed.

Each bid carries the ids its later events need (bid, request, campaign, creative, user, bid
time, bid price) in the query string of three URLs, each with its own MAC:

    {base}/win?<token>&price=${AUCTION_PRICE}           (OpenRTB nurl)
    {base}/click?<token>                                 (bid.ext.click_url; 302 to the ad)
    {base}/conversion?<token>&value=${CONVERSION_VALUE}  (bid.ext.conversion_url; a pixel)

so the endpoints can record complete events without a lookup table shared by the fleet
(any bidder process can take any notice), and refuse forged or edited ones.

What the MAC covers, and why:
- **An unambiguous encoding.** Every field is length-prefixed (4 bytes, big-endian) before
  it is MACed, so no choice of ids can shift bytes from one field into the next (with a
  separator byte, a request id containing the separator could forge another campaign's win).
- **A purpose tag per endpoint.** The win, click and conversion MACs differ, so the click URL
  every browser sees in the markup cannot be turned into a win URL by editing the path.
- **A key id** (`k=`, `bidlake.keys.Key.key_id`): the MAC is checked with the key that made
  it, so keys rotate without breaking the notices of bids already out: set the new key,
  keep the old one among the retired keys until its notices have aged out.

The MAC is keyed BLAKE2b (RFC 7693's MAC mode), 96 bits, personalised per token version,
which costs a third of an HMAC-SHA256 here (OpenSSL 3 looks its digest up by name on every
HMAC). Text fields with control characters are refused, both when the bidder parses a
request and when it reads a token.

`${AUCTION_PRICE}` is the clearing CPM and `${CONVERSION_VALUE}` the conversion's value,
both decimal amounts in the account currency (e.g. "1.25"); the conversion URL may also get
`type=purchase|signup|install|lead` and `order=<advertiser order id>`. The macros stay
literal in the URL, because exchanges substitute them textually.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Literal, NamedTuple
from urllib.parse import parse_qs, quote

AUCTION_PRICE_MACRO = "${AUCTION_PRICE}"
CONVERSION_VALUE_MACRO = "${CONVERSION_VALUE}"
SIGNATURE_BYTES = 12  # 96 bits: forging one is out of reach, and URLs stay short
MAX_PRICE_MICROS = 1_000_000_000  # 1,000 currency units CPM / per conversion: sanity cap
MAX_FIELD_CHARS = 512  # no id the bidder issues or accepts is longer
_PERSON = b"bidlake-trk-v2"  # the token format's version, mixed into every MAC

Purpose = Literal["win", "click", "conversion"]
PURPOSES: tuple[Purpose, ...] = ("win", "click", "conversion")
_TOKEN_PARAMS = ("k", "b", "q", "c", "r", "u", "t", "p", "s")


class TokenError(ValueError):
    """A tracking URL that is incomplete, edited or not ours: HTTP 400."""


class Token(NamedTuple):  # a tuple: built once per bid, cheaper than a frozen dataclass
    bid_id: str
    request_id: str
    campaign_id: str
    creative_id: str
    user_id: str
    bid_time_ms: int
    bid_price_micros: int


class SignedUrls(NamedTuple):
    """The query strings (no leading '?') of one bid's three tracking URLs."""

    win: str
    click: str
    conversion: str


_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def has_control_characters(text: str) -> bool:
    return _CONTROL.search(text) is not None


def quote_value(value: str) -> str:
    """Percent-encode a query value; ids are nearly always plain, so check that first."""
    return value if _SAFE.fullmatch(value) else quote(value, safe="")


@lru_cache(maxsize=1024)
def _quote_known(value: str) -> str:
    return quote_value(value)


def _field(value: str | int) -> bytes:
    data = str(value).encode()
    return len(data).to_bytes(4, "big") + data


def _message(purpose: str, t: Token) -> bytes:
    return b"".join(
        (
            _field(purpose),
            _field(t.bid_id),
            _field(t.request_id),
            _field(t.campaign_id),
            _field(t.creative_id),
            _field(t.user_id),
            _field(t.bid_time_ms),
            _field(t.bid_price_micros),
        )
    )


def key_id(secret: bytes) -> str:
    # The same id as bidlake.keys.Key.key_id, computed here so the bidder's hot path does
    # not need the Key object.
    return hashlib.blake2b(secret, digest_size=4, person=b"bidlake-key-id").hexdigest()


class Signer:
    """Signs with the current key; verifies with the current key or any retired one."""

    def __init__(self, current: bytes, retired: Iterable[bytes] = ()) -> None:
        if not current:
            raise ValueError("the tracking key is empty")
        self.key_id = key_id(current)
        self._keys = {key_id(k): self._mac_key(k) for k in (*retired, current) if k}

    @staticmethod
    def _mac_key(secret: bytes) -> bytes:
        # BLAKE2b takes keys of up to 64 bytes; a longer secret is hashed down to one.
        return secret if len(secret) <= 64 else hashlib.blake2b(secret).digest()

    def _mac(self, kid: str, purpose: str, t: Token) -> str:
        return hashlib.blake2b(
            _message(purpose, t), key=self._keys[kid], digest_size=SIGNATURE_BYTES, person=_PERSON
        ).hexdigest()

    def urls(self, t: Token) -> SignedUrls:
        """The three signed query strings of a bid."""
        # Bid ids are hex (bidder.service); campaign and creative ids repeat (cached).
        common = (
            f"k={self.key_id}&b={t.bid_id}&q={quote_value(t.request_id)}"
            f"&c={_quote_known(t.campaign_id)}&r={_quote_known(t.creative_id)}"
            f"&u={quote_value(t.user_id)}&t={t.bid_time_ms}&p={t.bid_price_micros}&s="
        )
        kid = self.key_id
        return SignedUrls(
            common + self._mac(kid, "win", t),
            common + self._mac(kid, "click", t),
            common + self._mac(kid, "conversion", t),
        )

    def read(self, query_string: bytes | str, purpose: Purpose) -> tuple[Token, dict[str, str]]:
        """(verified token, the other parameters) of a tracking URL's query string."""
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        try:
            parsed = parse_qs(query_string, keep_blank_values=True, strict_parsing=False)
        except ValueError:
            raise TokenError("tracking URL query string is malformed") from None
        repeated = sorted(k for k, v in parsed.items() if len(v) > 1)
        if repeated:
            raise TokenError(f"tracking URL repeats parameter {repeated[0]!r}")
        params = {k: v[0] for k, v in parsed.items()}
        try:
            kid, signature = params["k"], params["s"]
            token = Token(
                bid_id=params["b"],
                request_id=params["q"],
                campaign_id=params["c"],
                creative_id=params["r"],
                user_id=params["u"],
                bid_time_ms=_integer(params["t"], "t"),
                bid_price_micros=_integer(params["p"], "p"),
            )
        except KeyError as exc:
            raise TokenError(f"tracking URL lacks parameter {exc.args[0]!r}") from None
        for name, value in zip(("b", "q", "c", "r", "u"), token[:5], strict=True):
            if len(value) > MAX_FIELD_CHARS:
                raise TokenError(f"tracking URL parameter {name!r} is too long")
            if has_control_characters(value):
                raise TokenError(f"tracking URL parameter {name!r} has control characters")
        if kid not in self._keys:
            raise TokenError(f"tracking URL signed with an unknown key id {kid[:16]!r}")
        if not token.bid_id or not hmac.compare_digest(signature, self._mac(kid, purpose, token)):
            raise TokenError(f"tracking URL signature is not valid for /{purpose}")
        return token, {k: v for k, v in params.items() if k not in _TOKEN_PARAMS}


def _integer(text: str, name: str) -> int:
    if not text.isdigit() or len(text) > 18:
        raise TokenError(f"tracking URL parameter {name!r} must be a non-negative integer")
    return int(text)


def parse_amount_micros(text: str, what: str, cap_micros: int = MAX_PRICE_MICROS) -> int:
    """A decimal amount in currency units ("1.25") -> micros; TokenError when invalid."""
    if len(text) > 32:
        raise TokenError(f"{what} is too long to be an amount")
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise TokenError(f"{what} must be a decimal amount, got {text!r}") from None
    if not amount.is_finite() or amount < 0:
        raise TokenError(f"{what} must be a finite amount >= 0, got {text!r}")
    micros = int((amount * 1_000_000).to_integral_value())
    if micros > cap_micros:
        raise TokenError(
            f"{what} {text!r} is above the cap of {cap_micros / 1_000_000:g} currency units"
        )
    return micros
