"""OpenRTB BidResponse bodies and the ad markup inside each bid.

One seatbid (our seat) with one bid per imp the bidder bids on. Every bid carries the win
notice as `nurl` (with `${AUCTION_PRICE}`), and, as `ext.click_url` / `ext.conversion_url`,
the bidder's click redirect and conversion pixel (bidder.urls): the markup sends the
user's click through the redirect, and the advertiser fires the pixel on conversion.
`mtype` (2.6) tells the exchange which of the imp's formats the markup is.
"""

from __future__ import annotations

from html import escape

import orjson

from bidder.decision import ImpDecision
from bidder.urls import AUCTION_PRICE_MACRO, CONVERSION_VALUE_MACRO, SignedUrls, quote_value

MTYPE = {"banner": 1, "video": 2, "audio": 3, "native": 4}


def banner_adm(click_url: str, image_url: str, width: int, height: int) -> str:
    # The click URL is ours: only its "&" separators need escaping inside an attribute.
    return (
        f'<a href="{click_url.replace("&", "&amp;")}" target="_blank" rel="noopener">'
        f'<img src="{escape(image_url)}" width="{width}" height="{height}" alt="" '
        f'style="border:0"></a>'
    )


def video_adm(click_url: str, media_url: str, width: int, height: int, ad_id: str) -> str:
    """A minimal VAST 4.0 inline ad (the exchange's player fires its own impression)."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><VAST version="4.0">'
        f'<Ad id="{escape(ad_id)}"><InLine><AdSystem>bidlake</AdSystem><AdTitle>{escape(ad_id)}'
        "</AdTitle><Creatives><Creative><Linear><Duration>00:00:15</Duration><MediaFiles>"
        f'<MediaFile delivery="progressive" type="video/mp4" width="{width}" height="{height}">'
        f"<![CDATA[{media_url}]]></MediaFile></MediaFiles><VideoClicks><ClickThrough>"
        f"<![CDATA[{click_url}]]></ClickThrough></VideoClicks></Linear></Creative>"
        "</Creatives></InLine></Ad></VAST>"
    )


def native_adm(click_url: str, image_url: str, title: str) -> str:
    """An OpenRTB Native 1.2 response object, as a JSON string."""
    return orjson.dumps(
        {
            "native": {
                "ver": "1.2",
                "link": {"url": click_url},
                "assets": [
                    {"id": 1, "title": {"text": title}},
                    {"id": 2, "img": {"url": image_url}},
                ],
            }
        }
    ).decode()


def bid_object(
    decision: ImpDecision,
    bid_id: str,
    urls: SignedUrls,
    base_url: str,
    creative_base_url: str,
) -> dict[str, object]:
    priced = decision.bid
    assert priced is not None
    campaign = priced.plan.campaign
    creative = priced.creative
    click_url = f"{base_url}/click?{urls.click}"
    conversion_url = f"{base_url}/conversion?{urls.conversion}&value={CONVERSION_VALUE_MACRO}"
    asset = f"{creative_base_url}/{quote_value(creative.creative_id)}"
    if priced.ad_format == "video":
        adm = video_adm(
            click_url, asset + ".mp4", priced.width, priced.height, creative.creative_id
        )
    elif priced.ad_format == "native":
        adm = native_adm(click_url, asset + ".png", campaign.name)
    else:
        adm = banner_adm(click_url, asset + ".png", priced.width, priced.height)
    bid: dict[str, object] = {
        "id": bid_id,
        "impid": decision.imp.id,
        "price": priced.price_micros / 1_000_000,
        "nurl": f"{base_url}/win?{urls.win}&price={AUCTION_PRICE_MACRO}",
        "adm": adm,
        "adomain": list(campaign.adomain),
        "cid": campaign.campaign_id,
        "crid": creative.creative_id,
        "mtype": MTYPE.get(priced.ad_format, 1),
        "ext": {"click_url": click_url, "conversion_url": conversion_url},
    }
    if priced.width and priced.height:
        bid["w"] = priced.width
        bid["h"] = priced.height
    if priced.deal_id:
        bid["dealid"] = priced.deal_id
    return bid


def bid_response(request_id: str, response_id: str, seat: str, currency: str, bids: list) -> bytes:
    return orjson.dumps(
        {
            "id": request_id,
            "bidid": response_id,
            "cur": currency,
            "seatbid": [{"seat": seat, "bid": bids}],
        }
    )
