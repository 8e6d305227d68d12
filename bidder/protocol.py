"""The HTTP protocol `bidlake serve` runs: uvicorn's httptools protocol plus read limits.

uvicorn (0.54, pinned in requirements.lock) bounds neither how long a request may take to
arrive nor how many connections are open: its keep-alive timer is armed only after a
response, and any byte received cancels it. A client that sends its headers a byte at a
time, or a body shorter than its Content-Length, or nothing at all, holds a connection
(and its file descriptor) for as long as it likes; `limit_concurrency` answers 503 to good
requests once such connections fill it, rather than refusing the bad ones. So this
subclass adds, per worker (every limit is a setting, bidder.settings):

- `max_connections`: a connection beyond it is closed as soon as it is accepted, so slow
  clients cannot take the file descriptors the exchanges' connections need; connections
  already open keep being served;
- `keepalive_timeout_s` from the moment a connection is accepted, not only after a first
  response: a connection that never sends a request is closed;
- `header_timeout_s` from a request's first byte to the end of its headers, and
  `max_header_bytes` on what may arrive before that end (431);
- `body_timeout_s` from the end of the headers to the end of the body (also for endpoints
  that never read a body: the connection cannot serve another request before).

A request that misses a deadline gets 408 (when no response was started) and the connection
is closed; the app, if it was waiting for the body, sees a disconnect. Timers are armed only
when a request straddles packets: one sent in one piece, as exchanges send them, costs no
timer at all. uvicorn loads the class by name (`bidder.protocol:LimitedHttpToolsProtocol`),
so `--workers N` needs nothing pickled; the limits are read from the app's settings.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, NamedTuple

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.server import ServerState

from bidder.settings import Settings

log = logging.getLogger("bidder.protocol")

IDLE, HEADERS, BODY = 0, 1, 2
LOG_EVERY_S = 10.0  # refusals and timeouts are logged as counts, at most this often


class Limits(NamedTuple):
    max_connections: int
    header_timeout_s: float
    body_timeout_s: float
    max_header_bytes: int

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(
            settings.max_connections,
            settings.header_timeout_s,
            settings.body_timeout_s,
            settings.max_header_bytes,
        )


def limits_of(config: Config) -> Limits:
    """The limits of the app uvicorn serves (its `settings`), else the defaults."""
    app: Any = config.loaded_app
    for _ in range(8):  # through uvicorn's middleware wrappers, which keep `.app`
        settings = getattr(app, "settings", None)
        if isinstance(settings, Settings):
            return Limits.of(settings)
        app = getattr(app, "app", None)
    return Limits.of(Settings())


class _Tally:
    """Counts of refused and timed-out connections, logged now and then (a flood of them
    must not become a flood of log lines)."""

    def __init__(self) -> None:
        self.counts: dict[str, int] = {}
        self.logged_at = 0.0

    def add(self, what: str) -> None:
        self.counts[what] = self.counts.get(what, 0) + 1
        now = time.monotonic()
        if now - self.logged_at >= LOG_EVERY_S:
            self.logged_at = now
            summary = ", ".join(f"{k} {v}" for k, v in sorted(self.counts.items()))
            log.warning("connections closed by the read limits so far: %s", summary)


TALLY = _Tally()


def _response(status: bytes, message: str) -> bytes:
    body = b'{"error":"%s"}' % message.encode()
    return (
        b"HTTP/1.1 %s\r\ncontent-type: application/json\r\nconnection: close\r\n"
        b"content-length: %d\r\n\r\n%s" % (status, len(body), body)
    )


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits_of(config)
        self._phase = IDLE
        self._messages = 0  # requests begun on this connection
        self._header_bytes = 0
        self._timer: asyncio.TimerHandle | None = None
        self._timer_for = (IDLE, 0)  # (phase, message) the timer was armed for

    # ---- connection ----

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        if len(self.connections) > self.limits.max_connections:
            TALLY.add("over max_connections")
            transport.close()
            return
        # uvicorn arms its keep-alive timer only after a response; arm it for the wait for
        # the first request too (any byte received cancels it, as for later requests).
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )

    def connection_lost(self, exc: Exception | None) -> None:
        self._cancel_timer()
        super().connection_lost(exc)

    # ---- reading ----

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.transport.is_closing():  # a malformed request: uvicorn answered 400
            return
        phase = self._phase
        if phase == HEADERS:
            self._header_bytes += len(data)
            if self._header_bytes > self.limits.max_header_bytes:
                self._give_up(
                    "header bytes",
                    b"431 Request Header Fields Too Large",
                    f"request headers exceed {self.limits.max_header_bytes} bytes",
                )
                return
        key = (phase, self._messages)
        if key != self._timer_for:  # a request straddles packets: time what is missing
            self._cancel_timer()
            self._timer_for = key
            if phase == HEADERS:
                self._timer = self.loop.call_later(self.limits.header_timeout_s, self._headers_late)
            elif phase == BODY:
                self._timer = self.loop.call_later(self.limits.body_timeout_s, self._body_late)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._phase = HEADERS
        self._messages += 1
        self._header_bytes = 0

    def on_headers_complete(self) -> None:
        self._phase = BODY
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._phase = IDLE
        super().on_message_complete()

    # ---- deadlines ----

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _headers_late(self) -> None:
        self._timer = None
        self._give_up(
            "header timeout",
            b"408 Request Timeout",
            f"request headers not complete within {self.limits.header_timeout_s:g} s",
        )

    def _body_late(self) -> None:
        self._timer = None
        self._give_up(
            "body timeout",
            b"408 Request Timeout",
            f"request body not complete within {self.limits.body_timeout_s:g} s",
        )

    def _give_up(self, what: str, status: bytes, message: str) -> None:
        """Answer `status` if this request has no response under way, and close."""
        transport = self.transport
        if transport.is_closing():
            return
        TALLY.add(what)
        cycle = self.cycle
        if self._phase == HEADERS:
            # The request has no cycle yet; the connection's last one must be finished.
            answer = cycle is None or cycle.response_complete
        else:
            answer = cycle is not None and not cycle.response_started
        if answer:
            transport.write(_response(status, message))
        if cycle is not None and not cycle.response_complete:
            cycle.keep_alive = False
        transport.close()
