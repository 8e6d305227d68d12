"""`bidlake serve` as a process: configuration printed without secrets, SIGTERM drains
in-flight requests and publishes every log file, `--workers 2` shares one port and one
/metrics, and a bidder killed with SIGKILL loses nothing its successor cannot salvage
except the last unflushed events."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TypeVar

import httpx
import orjson

from contract.landing_names import INPROGRESS_SUFFIX, is_closed_log
from tests.bidder.conftest import free_port
from tests.bidder.test_cases import BOOK, read_events
from tests.bidder.test_service import request
from tests.support.polling import NeverHappened, eventually

T = TypeVar("T")
SECRET = "s3cret-value-never-printed"


class Server:
    def __init__(self, process: subprocess.Popen[bytes], url: str, stderr: Path) -> None:
        self.process, self.url, self.stderr = process, url, stderr

    def output(self) -> str:
        return self.stderr.read_text(errors="replace")

    def wait(self, probe: Callable[[], T], what: str, timeout: float = 30) -> T:
        """`eventually(probe)` while the server runs; a failure carries the server's output."""
        try:
            return eventually(probe, timeout=timeout, interval=0.02, what=what, alive=self.running)
        except NeverHappened as exc:
            raise NeverHappened(f"{exc}\n--- bidlake serve output ---\n{self.output()}") from None

    def running(self) -> bool:
        return self.process.poll() is None

    def wait_for_output(self, text: str, timeout: float = 30) -> None:
        self.wait(lambda: text in self.output(), f"{text!r} in the output", timeout)


@contextmanager
def bidlake_serve(home: Path, *flags: str) -> Iterator[Server]:
    port = free_port()
    stderr = home / f"serve-{port}.err"
    env = {**os.environ, "BIDLAKE_HOME": str(home), "BIDLAKE_BIDDER_SECRET": SECRET}
    command = [sys.executable, "-m", "bidlake.cli", "serve", "--port", str(port)]
    command += ["--campaigns", str(BOOK), "--log-rotate-s", "3600", *flags]
    with stderr.open("wb") as err:
        process = subprocess.Popen(command, env=env, stdout=err, stderr=subprocess.STDOUT)
    server = Server(process, f"http://127.0.0.1:{port}", stderr)
    try:
        server.wait(
            lambda: httpx.get(server.url + "/readyz", timeout=1).status_code == 200,
            "bidlake serve ready (/readyz 200)",
            timeout=60,
        )
        yield server
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=30)


def landing_files(home: Path, event_type: str) -> tuple[list[Path], list[Path]]:
    folder = home / "landing" / event_type
    files = list(folder.iterdir()) if folder.exists() else []
    return (
        [p for p in files if is_closed_log(p)],
        [p for p in files if p.name.endswith(INPROGRESS_SUFFIX)],
    )


def send_bids(url: str, n: int, prefix: str, fresh_connections: bool = False) -> None:
    limits = httpx.Limits(max_keepalive_connections=0) if fresh_connections else None
    with httpx.Client(base_url=url, limits=limits or httpx.Limits()) as client:
        for i in range(n):
            response = client.post("/openrtb2/bid", content=orjson.dumps(request(f"{prefix}{i}")))
            assert response.status_code in (200, 204)


def test_serve_prints_config_and_drains_on_sigterm(home: Path, models_root: Path) -> None:
    with bidlake_serve(home) as server:
        out = server.output()
        assert "bidlake serve" in out and "log_rotate_s" in out and "3600.0" in out
        assert "secret" in out and "(set)" in out and SECRET not in out
        send_bids(server.url, 20, "r")

        # One request in flight at SIGTERM: headers and half the body sent.
        body = orjson.dumps(request("in-flight"))
        host, port = server.url.removeprefix("http://").split(":")
        with socket.create_connection((host, int(port))) as conn:
            head = (
                f"POST /openrtb2/bid HTTP/1.1\r\nHost: {host}\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
            )
            conn.sendall(head.encode() + body[:40])
            server.process.send_signal(signal.SIGTERM)
            server.wait_for_output("Shutting down")
            conn.sendall(body[40:])
            answer = conn.recv(65536)
        assert answer.split(b"\r\n", 1)[0] in (b"HTTP/1.1 200 OK", b"HTTP/1.1 204 No Content")
        assert server.process.wait(timeout=30) == 0
        out = server.output()
    assert "bidder summary (1 worker(s))" in out
    published, open_files = landing_files(home, "bid_request")
    assert open_files == [] and len(published) == 1
    ids = [e["request_id"] for e in read_events(home / "landing", "bid_request")]
    assert sorted(ids) == sorted([f"r{i}" for i in range(20)] + ["in-flight"])
    assert not list((home / "landing" / ".writers").iterdir())  # locks released


def test_two_workers_share_the_port_metrics_and_landing(home: Path, models_root: Path) -> None:
    with bidlake_serve(home, "--workers", "2") as server:
        send_bids(server.url, 40, "r", fresh_connections=True)

        # Each worker publishes its counters about once a second; /metrics adds them up.
        def all_answered() -> bool:
            text = httpx.get(server.url + "/metrics").text
            answered = sum(
                int(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("bidder_requests_total{")
            )
            assert answered == 40, f"/metrics counts {answered} of 40 requests"
            return True

        server.wait(all_answered, "/metrics summed over both workers", timeout=20)
        server.process.send_signal(signal.SIGTERM)
        assert server.process.wait(timeout=30) == 0
        out = server.output()
    assert "each of the 2 workers spends at most 1/2 of every budget" in out
    assert "bidder summary (2 worker(s))" in out
    published, open_files = landing_files(home, "bid_request")
    assert open_files == []
    # Each worker writes under its own id (the kernel decides which accepts how many
    # connections, so one of them may have served all 40).
    writers = {p.name.rsplit("-", 2)[0] for p in published}
    assert 1 <= len(writers) <= 2
    assert len(read_events(home / "landing", "bid_request")) == 40


def test_killed_bidder_is_salvaged_by_its_successor(home: Path, models_root: Path) -> None:
    with bidlake_serve(home, "--log-flush-s", "0.05") as first:
        send_bids(first.url, 30, "r")

        # Wait until the periodic flush handed all 30 events to the OS, then crash.
        def all_flushed() -> bool:
            _, open_files = landing_files(home, "bid_request")
            lines = sum(p.read_bytes().count(b"\n") for p in open_files)
            assert lines == 30, f"{lines} of 30 events flushed"
            return True

        first.wait(all_flushed, "the flush of all 30 events to the OS", timeout=20)
        first.process.send_signal(signal.SIGKILL)
        assert first.process.wait(timeout=30) == -signal.SIGKILL
    published, open_files = landing_files(home, "bid_request")
    assert published == [] and len(open_files) == 1  # nothing published by the dead one

    with bidlake_serve(home) as second:
        assert "salvaged" in second.output()
        second.process.send_signal(signal.SIGTERM)
        assert second.process.wait(timeout=30) == 0
    published, open_files = landing_files(home, "bid_request")
    assert open_files == []
    assert len(read_events(home / "landing", "bid_request")) == 30


def test_invalid_settings_exit_2(home: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "bidlake.cli", "serve", "--log-format", "xml"],
        env={**os.environ, "BIDLAKE_HOME": str(home)},
        capture_output=True,
        text=True,
    )
    assert result.returncode == 2
    assert "log_format must be jsonl or protobuf" in result.stdout + result.stderr
