"""A throwaway PostgreSQL server for tests, run as the `postgres` user.

Shared by the warehouse tests (the reporting export) and the orchestration tests (Dagster's
PostgreSQL storage, `bidlake run` exporting the reporting marts).

`initdb` and `pg_ctl` refuse to run as root, so they run through `runuser -u postgres`
when the test runs as root. The cluster lives in its own temporary folder directly under
the system temp dir (pytest's tmp_path is private to root, postgres could not enter it),
owned by postgres, listens on a free loopback port and a private socket folder, with fsync,
synchronous commit and full-page writes off (a test server, nothing to keep). `start()`
creates a login role with a password and its own database, reached over TCP with
scram-sha-256 (the path a real deployment takes); `stop()` shuts it down (fast mode) and
deletes it. `running()` wraps both and skips the test when no server can run here.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

# Each pg command gets this long; a stuck initdb or pg_ctl fails the test instead of CI.
TIMEOUT_S = 120


def postgres_bin() -> Path | None:
    """The newest Debian-installed PostgreSQL's bin folder, else the one on PATH, else None."""
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"), reverse=True)
    if candidates:
        return candidates[0].parent
    found = shutil.which("pg_ctl")
    return Path(found).parent if found else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> str | None:
    """None when a test server can run here, else the reason it cannot."""
    if postgres_bin() is None:
        return "PostgreSQL is not installed (scripts/system-deps.sh installs it)"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


def _bin(name: str) -> str:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError(available())
    return str(bin_dir / name)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def _run(cmd: list[str], *, check: bool = True) -> None:
    subprocess.run(_as_postgres(cmd), check=check, capture_output=True, timeout=TIMEOUT_S)


@dataclass
class PostgresServer:
    data: Path
    sockets: Path
    port: int
    user: str
    password: str

    @property
    def url(self) -> str:
        """A password-authenticated URL over TCP (the path a real deployment takes)."""
        return f"postgresql://{self.user}:{self.password}@127.0.0.1:{self.port}/{self.user}"

    @property
    def sqlalchemy_url(self) -> str:
        """`url` with the psycopg 3 driver, as BIDLAKE_REPORTING_URL spells it."""
        return self.url.replace("postgresql://", "postgresql+psycopg://", 1)

    def stop(self) -> None:
        _run([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"], check=False)
        shutil.rmtree(self.data.parent, ignore_errors=True)


def start(user: str = "bidlake", password: str = "s3cret-pw") -> PostgresServer:
    """initdb + start a server; create `user` (with `password`) and its database."""
    root = Path(tempfile.mkdtemp(prefix="bidlake-test-pg-"))
    data, sockets = root / "pgdata", root / "pgsock"
    sockets.mkdir()
    if os.geteuid() == 0:
        shutil.chown(root, "postgres")
        shutil.chown(sockets, "postgres")
    port = free_port()
    _run(
        [
            _bin("initdb"),
            "-D",
            str(data),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-U",
            "postgres",
            "--no-sync",
        ]
    )
    options = (
        f"-F -p {port} -k {sockets} -c listen_addresses=127.0.0.1 "
        "-c synchronous_commit=off -c full_page_writes=off"
    )
    _run([_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"])
    server = PostgresServer(data=data, sockets=sockets, port=port, user=user, password=password)
    try:
        psql = [_bin("psql"), "-h", str(sockets), "-p", str(port), "-U", "postgres"]
        for statement in (
            f"CREATE ROLE {user} LOGIN PASSWORD '{password}'",
            f"CREATE DATABASE {user} OWNER {user}",
        ):
            _run([*psql, "-v", "ON_ERROR_STOP=1", "-c", statement])
    except BaseException:
        server.stop()
        raise
    return server


@contextmanager
def running() -> Iterator[PostgresServer]:
    """A started server, stopped and deleted afterwards; skips when none can run here."""
    reason = available()
    if reason:
        pytest.skip(reason)
    server = start()
    try:
        yield server
    finally:
        server.stop()
