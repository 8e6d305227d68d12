"""A small keep-alive HTTP/1.1 client for loopback, on asyncio streams and httptools.

Why not httpx: measured in this process tree, httpx's AsyncClient spends about 2 ms of
CPU per call (httpcore looks for trio with a failing import on every request), so a replay
could not push more than a few hundred requests/s at a bidder that serves thousands on
the same two cores. This client does only what the replay needs — GET and POST, plain
`http://`, one pool of persistent connections per host — and parses responses with
httptools (the C parser uvicorn uses: Content-Length, chunked, keep-alive), so the
replay, not the client, is what costs.

Redirects are never followed (a click's redirect leads to the advertiser, off loopback).
A request that finds its idle keep-alive connection closed by the server is retried once
on a new connection, as every HTTP client does; a fresh connection is never retried.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

import httptools


class HttpError(Exception):
    """A call that got no complete HTTP response."""


class ConnectError(HttpError):
    pass


class Timeout(HttpError):
    pass


class ProtocolError(HttpError):
    pass


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes


class _Parsed:
    """httptools callbacks: collects the body, notes when the message is complete."""

    __slots__ = ("body", "complete")

    def __init__(self) -> None:
        self.body: list[bytes] = []
        self.complete = False

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Connection:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer

    async def exchange(self, request: bytes) -> tuple[Response, bool]:
        """Sends `request`, reads one response: (response, connection reusable)."""
        self.writer.write(request)
        await self.writer.drain()
        parsed = _Parsed()
        parser = httptools.HttpResponseParser(parsed)
        while not parsed.complete:
            data = await self.reader.read(65536)
            if not data:
                raise ProtocolError("the server closed the connection before a full response")
            try:
                parser.feed_data(data)
            except httptools.HttpParserError as exc:
                raise ProtocolError(f"malformed HTTP response: {exc}") from exc
        return Response(parser.get_status_code(), b"".join(parsed.body)), bool(
            parser.should_keep_alive()
        )

    def close(self) -> None:
        self.writer.close()


class LoopbackClient:
    """Keep-alive connections per (host, port), at most `max_connections` each."""

    def __init__(self, max_connections: int = 16, timeout_s: float = 2.0) -> None:
        self.max_connections = max_connections
        self.timeout_s = timeout_s
        self._idle: dict[tuple[str, int], list[_Connection]] = {}
        self._slots: dict[tuple[str, int], asyncio.Semaphore] = {}

    async def get(self, url: str) -> Response:
        return await self.request("GET", url)

    async def post(
        self,
        url: str,
        body: bytes,
        headers: dict[str, str],
        on_send: Callable[[], None] | None = None,
    ) -> Response:
        return await self.request("POST", url, body, headers, on_send)

    async def request(
        self,
        method: str,
        url: str,
        body: bytes = b"",
        headers: dict[str, str] | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> Response:
        """One call; `on_send()` runs once a connection slot is free, right before the
        request goes out (what an open-loop replay measures its lateness by)."""
        parts = urlsplit(url)
        if parts.scheme != "http" or not parts.hostname:
            raise HttpError(f"only plain http:// URLs are supported, got {url!r}")
        host, port = parts.hostname, parts.port or 80
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        netloc = parts.netloc.rsplit("@", 1)[-1]
        lines = [f"{method} {target} HTTP/1.1", f"host: {netloc}"]
        if body or method == "POST":
            lines.append(f"content-length: {len(body)}")
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        request = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body
        key = (host, port)
        slots = self._slots.setdefault(key, asyncio.Semaphore(self.max_connections))
        async with slots:
            if on_send is not None:
                on_send()
            try:
                async with asyncio.timeout(self.timeout_s):
                    return await self._send(key, request)
            except TimeoutError:
                raise Timeout(f"no response from {host}:{port} in {self.timeout_s} s") from None

    async def _send(self, key: tuple[str, int], request: bytes) -> Response:
        idle = self._idle.setdefault(key, [])
        while idle:
            connection = idle.pop()
            try:
                response, reusable = await connection.exchange(request)
            except (OSError, ProtocolError):
                connection.close()  # the server dropped an idle connection: try another
                continue
            except BaseException:
                connection.close()
                raise
            self._release(key, connection, reusable)
            return response
        try:
            reader, writer = await asyncio.open_connection(*key)
        except OSError as exc:
            raise ConnectError(f"cannot connect to {key[0]}:{key[1]}: {exc}") from exc
        connection = _Connection(reader, writer)
        try:
            response, reusable = await connection.exchange(request)
        except OSError as exc:
            connection.close()
            raise ProtocolError(f"connection to {key[0]}:{key[1]} failed: {exc}") from exc
        except BaseException:
            connection.close()
            raise
        self._release(key, connection, reusable)
        return response

    def _release(self, key: tuple[str, int], connection: _Connection, reusable: bool) -> None:
        if reusable:
            self._idle[key].append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        for connections in self._idle.values():
            for connection in connections:
                connection.close()
        self._idle.clear()

    async def __aenter__(self) -> LoopbackClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
