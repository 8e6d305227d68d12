"""The win-notice, click and conversion URLs the bidder puts into its bids, signed.

Each bid carries one *token*: the ids the later events need (bid, request, campaign,
creative, user, bid time, bid price) plus a MAC of them under the bidder's secret: keyed
BLAKE2b (RFC 7693's MAC mode), 96 bits, which costs a third of an HMAC-SHA256 here (OpenSSL
3 looks its digest up by name on every HMAC) and is computed once per bid. The three URLs
carry the same token, so the endpoints can record complete events without a lookup table
shared by the fleet (any bidder process can take any notice) and can refuse forged or
edited ones (a hand-made win notice would otherwise add spend).

    {base}/win?<token>&price=${AUCTION_PRICE}           (OpenRTB nurl)
    {base}/click?<token>                                 (bid.ext.click_url; 302 to the ad)
    {base}/conversion?<token>&value=${CONVERSION_VALUE}  (bid.ext.conversion_url; a pixel)

`${AUCTION_PRICE}` is the clearing CPM and `${CONVERSION_VALUE}` the conversion's value,
both decimal amounts in the account currency (e.g. "1.25"); the conversion URL may also
get `type=purchase|signup|install|lead` and `order=<advertiser order id>`. The macros stay
literal in the URL, because exchanges substitute them textually.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import parse_qs, quote

AUCTION_PRICE_MACRO = "${AUCTION_PRICE}"
CONVERSION_VALUE_MACRO = "${CONVERSION_VALUE}"
SIGNATURE_HEX = 24  # 96 bits: forging one is out of reach, and URLs stay short
MAX_PRICE_MICROS = 1_000_000_000  # 1,000 currency units CPM / per conversion: sanity cap


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


_SAFE = re.compile(r"[A-Za-z0-9_.~-]*")


def quote_value(value: str) -> str:
    """Percent-encode a query value; ids are nearly always plain, so check that first."""
    return value if _SAFE.fullmatch(value) else quote(value, safe="")


@lru_cache(maxsize=1024)
def _quote_known(value: str) -> str:
    return quote_value(value)


class Signer:
    def __init__(self, secret: str) -> None:
        # BLAKE2b takes keys of up to 64 bytes; a longer secret is hashed down to one.
        key = secret.encode()
        self._key = key if len(key) <= 64 else hashlib.blake2b(key).digest()

    def _mac(self, t: Token) -> str:
        message = (
            f"{t.bid_id}\x1f{t.request_id}\x1f{t.campaign_id}\x1f{t.creative_id}\x1f"
            f"{t.user_id}\x1f{t.bid_time_ms}\x1f{t.bid_price_micros}"
        ).encode()
        return hashlib.blake2b(message, key=self._key, digest_size=SIGNATURE_HEX // 2).hexdigest()

    def query(self, t: Token) -> str:
        """The token as a query string (no leading '?')."""
        # Bid ids are hex (bidder.service); campaign and creative ids repeat (cached).
        return (
            f"b={t.bid_id}&q={quote_value(t.request_id)}&c={_quote_known(t.campaign_id)}"
            f"&r={_quote_known(t.creative_id)}&u={quote_value(t.user_id)}&t={t.bid_time_ms}"
            f"&p={t.bid_price_micros}&s={self._mac(t)}"
        )

    def read(self, query_string: bytes | str) -> tuple[Token, dict[str, str]]:
        """(verified token, the other parameters) of a tracking URL's query string."""
        if isinstance(query_string, bytes):
            query_string = query_string.decode("latin-1")
        params = {k: v[0] for k, v in parse_qs(query_string, keep_blank_values=True).items()}
        try:
            token = Token(
                bid_id=params["b"],
                request_id=params["q"],
                campaign_id=params["c"],
                creative_id=params["r"],
                user_id=params["u"],
                bid_time_ms=int(params["t"]),
                bid_price_micros=int(params["p"]),
            )
            signature = params["s"]
        except KeyError as exc:
            raise TokenError(f"tracking URL lacks parameter {exc.args[0]!r}") from None
        except ValueError:
            raise TokenError("tracking URL parameters t and p must be integers") from None
        if not token.bid_id or not hmac.compare_digest(signature, self._mac(token)):
            raise TokenError("tracking URL signature does not match (edited or not ours)")
        return token, params


def parse_amount_micros(text: str, what: str) -> int:
    """A decimal amount in currency units ("1.25") -> micros; TokenError when invalid."""
    try:
        amount = Decimal(text.strip())
    except InvalidOperation:
        raise TokenError(f"{what} must be a decimal amount, got {text!r}") from None
    if not amount.is_finite() or amount < 0:
        raise TokenError(f"{what} must be a finite amount >= 0, got {text!r}")
    micros = int((amount * 1_000_000).to_integral_value())
    if micros > MAX_PRICE_MICROS:
        raise TokenError(f"{what} {text!r} is beyond any plausible price")
    return micros
