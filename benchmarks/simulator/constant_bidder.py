"""A minimal OpenRTB bidder for benchmarking the replay: a raw ASGI app that bids a
constant on every banner and answers the win/click/conversion URLs it hands out.

It does as little as an HTTP bidder can (parse the request for its id, answer a fixed bid
shape), so the replay's figures against it are the exchange side's own cost. Run as
`uvicorn benchmarks.simulator.constant_bidder:app`.
"""

from __future__ import annotations

import orjson

HEADERS = [(b"content-type", b"application/json")]


async def _body(receive) -> bytes:
    chunks = []
    more = True
    while more:
        message = await receive()
        chunks.append(message.get("body", b""))
        more = message.get("more_body", False)
    return b"".join(chunks)


async def app(scope, receive, send) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    path = scope["path"]
    if path == "/openrtb2/bid":
        request = orjson.loads(await _body(receive))
        imp = request["imp"][0]
        if "banner" not in imp:
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        host = dict(scope["headers"]).get(b"host", b"127.0.0.1").decode()
        base = f"http://{host}"
        bid_id = "b-" + request["id"]
        body = orjson.dumps(
            {
                "id": request["id"],
                "cur": "USD",
                "seatbid": [
                    {
                        "seat": "bench",
                        "bid": [
                            {
                                "id": bid_id,
                                "impid": imp["id"],
                                "price": 4.0,
                                "cid": "cmp-101",
                                "crid": "cr-101-300x250",
                                "nurl": f"{base}/win?b={bid_id}&price=${{AUCTION_PRICE}}",
                                "adm": "<a href='https://shoes.example/'>ad</a>",
                                "ext": {
                                    "click_url": f"{base}/click?b={bid_id}",
                                    "conversion_url": f"{base}/conversion?b={bid_id}"
                                    "&value=${CONVERSION_VALUE}",
                                },
                            }
                        ],
                    }
                ],
            }
        )
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await send({"type": "http.response.body", "body": body})
        return
    await _body(receive)
    status = 302 if path == "/click" else 204
    headers = [(b"location", b"https://shoes.example/")] if status == 302 else []
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b""})
