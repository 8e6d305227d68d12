"""The bidder's ASGI application: routing, request bodies, lifespan — nothing else.

A raw ASGI callable rather than a Starlette app: the bid path is the whole point of the
process, and Starlette's routing, Request and Response cost ~13 µs of CPU per request here
(a constant body drops from ~51k to ~30k req/s per CPU-second, benchmarks/bidder) — a
fifth of the bidder's own work, for nothing it needs. Routing is one dict lookup on the
path; the body is read with a size limit (checked against
Content-Length first, then while streaming, and after gzip decoding for gzip bodies).

Status codes: 200 bid / tracked; 204 no-bid; 302 click redirect; 400 bad input, with a
JSON `{"error": "<what and where>"}`; 404/405 unknown path or method; 503 before start-up
finished (or a /readyz without a model). Any other exception is a bug: 500, logged with
its traceback — never for bad input, which the parsers turn into 400, and never on the bid
path, where a bug gives back its reservations and answers a no-bid (`internal_error`,
counted as outcome `bid_internal_error`). A body refused for its size is answered with
`connection: close`, so the rest of it is never read. Read deadlines and the connection
cap are the server protocol's (bidder/protocol.py, what `bidlake serve` runs).

`create_app()` is the factory uvicorn calls in every worker (`bidder.app:create_app`);
the settings come from the environment (bidder.settings).
"""

from __future__ import annotations

import logging
import time
import zlib
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qs

from bidder.service import JSON, Answer, Bidder, bad_request
from bidder.settings import Settings

log = logging.getLogger("bidder.app")

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send = Callable[[dict[str, Any]], Awaitable[None]]

NOT_FOUND = Answer(404, JSON, b'{"error":"no such endpoint"}')
NOT_STARTED = Answer(503, JSON, b'{"error":"the bidder is starting or stopping"}')
INTERNAL = Answer(500, JSON, b'{"error":"internal error"}')
# A notice the bidder could not record (its state store is away): the exchange retries it,
# and the claims make the retry count once.
NOTICE_UNAVAILABLE = Answer(
    503,
    [*JSON, (b"retry-after", b"1")],
    b'{"error":"the notice could not be recorded now; retry"}',
)
INTERNAL_NO_BID = Bidder.NO_BID_INTERNAL_ERROR
CLOSE = [*JSON, (b"connection", b"close")]


def refuse(reason: str) -> Answer:
    """A 400 that closes the connection: the unread rest of the body is never read."""
    return bad_request(reason)._replace(headers=CLOSE)


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    pass


class BidderApp:
    def __init__(
        self, settings: Settings | None = None, clock: Callable[[], int] | None = None
    ) -> None:
        self.settings = settings or Settings.from_env()
        self.bidder = Bidder(self.settings, clock)
        self._exchanges: dict[bytes, str] = {}
        self._get = {
            "/healthz": self._healthz,
            "/readyz": self._readyz,
            "/metrics": self._metrics,
            "/win": self._win,
            "/click": self._click,
            "/conversion": self._conversion,
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        kind = scope["type"]
        if kind == "http":
            await self._http(scope, receive, send)
        elif kind == "lifespan":
            await self._lifespan(receive, send)

    # ---- lifespan ----

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                try:
                    await self.bidder.start()
                except Exception as exc:
                    log.exception("bidder start-up failed")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                try:
                    await self.bidder.stop()
                except Exception as exc:
                    log.exception("bidder shutdown failed")
                    await send({"type": "lifespan.shutdown.failed", "message": str(exc)})
                    return
                await send({"type": "lifespan.shutdown.complete"})
                return

    # ---- HTTP ----

    async def _http(self, scope: Scope, receive: Receive, send: Send) -> None:
        t0 = time.perf_counter()
        path = scope["path"]
        method = scope["method"]
        outcome = "other"
        try:
            if not self.bidder.started:
                answer = NOT_STARTED
            elif path == "/openrtb2/bid":
                if method != "POST":
                    answer = Answer(405, [*JSON, (b"allow", b"POST")], b'{"error":"POST only"}')
                else:
                    answer = await self._bid(scope, receive, t0)
                outcome = (
                    "bid"
                    if answer.status == 200
                    else ("no_bid" if answer is not INTERNAL_NO_BID else "bid_internal_error")
                    if answer.status == 204
                    else "bad_request"
                )
            else:
                handler = self._get.get(path)
                if handler is None:
                    answer = NOT_FOUND
                elif method not in ("GET", "HEAD", "POST"):
                    answer = Answer(405, [*JSON, (b"allow", b"GET, POST")], b'{"error":"GET"}')
                else:
                    answer = await handler(scope, receive)
        except ClientGone:
            return
        except Exception:
            log.exception("unhandled error on %s %s", method, path)
            answer = INTERNAL
            outcome = "error"
        await send(
            {
                "type": "http.response.start",
                "status": answer.status,
                "headers": [*answer.headers, (b"content-length", b"%d" % len(answer.body))]
                if answer.status != 204
                else answer.headers,
            }
        )
        await send({"type": "http.response.body", "body": answer.body})
        if path == "/openrtb2/bid":
            self.bidder.metrics.request(outcome, time.perf_counter() - t0)

    async def _bid(self, scope: Scope, receive: Receive, t0: float) -> Answer:
        limit = self.settings.max_body_bytes
        gzipped = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                if not value.isdigit():
                    return bad_request("Content-Length is not a number")
                if int(value) > limit:
                    return refuse(f"body of {int(value)} bytes exceeds {limit} bytes")
            elif name == b"content-encoding":
                encoding = value.strip().lower()
                if encoding == b"gzip":
                    gzipped = True
                elif encoding not in (b"", b"identity"):
                    return bad_request(f"unsupported Content-Encoding {value.decode('latin-1')!r}")
        try:
            body = await read_body(receive, limit)
        except BodyTooLarge:
            return refuse(f"body exceeds {limit} bytes")
        if gzipped:
            try:
                body = gunzip(body, limit)
            except BodyTooLarge:
                return bad_request(f"body exceeds {limit} bytes once decompressed")
            except (zlib.error, EOFError) as exc:
                return bad_request(f"body is not valid gzip: {exc}")
        if not body:
            return bad_request("empty body: expected an OpenRTB BidRequest JSON object")
        query = scope.get("query_string", b"")
        exchange = self._exchanges.get(query) if query else ""
        if exchange is None:
            # An exchange calls with the same query string every time: parse it once.
            values = parse_qs(query.decode("latin-1")).get("exchange")
            exchange = values[0] if values else ""
            if len(self._exchanges) >= 1024:  # bounded: junk query strings cannot grow it
                self._exchanges.clear()
            self._exchanges[query] = exchange
        return await self.bidder.bid(body, exchange, t0)

    async def _healthz(self, scope: Scope, receive: Receive) -> Answer:
        return self.bidder.health()

    async def _readyz(self, scope: Scope, receive: Receive) -> Answer:
        return self.bidder.ready()

    async def _metrics(self, scope: Scope, receive: Receive) -> Answer:
        return self.bidder.metrics_text()

    async def _win(self, scope: Scope, receive: Receive) -> Answer:
        return await self._notice(self.bidder.win, await _query(scope, receive))

    async def _click(self, scope: Scope, receive: Receive) -> Answer:
        return await self._notice(self.bidder.click, await _query(scope, receive))

    async def _conversion(self, scope: Scope, receive: Receive) -> Answer:
        return await self._notice(self.bidder.conversion, await _query(scope, receive))

    async def _notice(self, handle: Callable[[bytes], Awaitable[Answer]], query: bytes) -> Answer:
        try:
            return await handle(query)
        except Exception:
            # Redis down, a locked SQLite file: the claim and the spend are one step, so a
            # store that failed counted nothing, and the exchange's retry counts once.
            log.exception("a notice could not be recorded")
            self.bidder.metrics.track("notice_unavailable")
            return NOTICE_UNAVAILABLE


async def _query(scope: Scope, receive: Receive) -> bytes:
    """The notice's parameters: the query string, or a POSTed form body (some exchanges)."""
    query: bytes = scope.get("query_string", b"")
    if scope["method"] == "POST":
        try:
            body = await read_body(receive, 16 * 1024)
        except BodyTooLarge:
            return query
        if body:
            query = query + b"&" + body if query else body
    return query


async def read_body(receive: Receive, limit: int) -> bytes:
    chunks = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks) if len(chunks) != 1 else chunks[0]


def gunzip(body: bytes, limit: int) -> bytes:
    """Decompress a gzip body, refusing to inflate beyond `limit` (a zip bomb stops here)."""
    decompressor = zlib.decompressobj(wbits=31)
    out = decompressor.decompress(body, limit + 1)
    if len(out) > limit:
        raise BodyTooLarge
    if not decompressor.eof:
        raise EOFError("truncated gzip stream")
    return out


def create_app(
    settings: Settings | None = None, clock: Callable[[], int] | None = None
) -> BidderApp:
    """The ASGI app; with no settings, from the environment (what each worker does).

    `clock` (epoch ms) replaces the wall clock, for tests of hour targeting and pacing.
    """
    return BidderApp(settings, clock)
