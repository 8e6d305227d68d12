"""A throwaway PostgreSQL 15 server for tests, run as the `postgres` user.

`initdb` and `pg_ctl` refuse to run as root, so they run through `runuser -u postgres`
when the test runs as root. The cluster lives in its own temporary folder directly under
the system temp dir (pytest's tmp_path is private to root, postgres could not enter it),
owned by postgres, listens on a free loopback port and a private socket folder, with fsync
off (a test server, nothing to keep); `stop()` shuts it down (fast mode) and deletes it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def available() -> str | None:
    """None when a test server can run here, else the reason it cannot."""
    if not (PG_BIN / "pg_ctl").exists():
        return f"PostgreSQL 15 not installed ({PG_BIN}); run scripts/system-deps.sh"
    if os.geteuid() == 0 and shutil.which("runuser") is None:
        return "running as root without runuser"
    return None


def _bin(name: str) -> str:
    return str(PG_BIN / name)


def _as_postgres(cmd: list[str]) -> list[str]:
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


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

    def stop(self) -> None:
        subprocess.run(
            _as_postgres([_bin("pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop"]),
            check=False,
            capture_output=True,
        )
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
    subprocess.run(
        _as_postgres(
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
        ),
        check=True,
        capture_output=True,
    )
    options = f"-F -p {port} -k {sockets} -c listen_addresses=127.0.0.1"
    subprocess.run(
        _as_postgres(
            [_bin("pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "log"), "-w", "start"]
        ),
        check=True,
        capture_output=True,
    )
    psql = [_bin("psql"), "-h", str(sockets), "-p", str(port), "-U", "postgres"]
    sql = f"CREATE ROLE {user} LOGIN PASSWORD '{password}'; CREATE DATABASE {user} OWNER {user};"
    for statement in sql.split("; "):
        subprocess.run(
            _as_postgres([*psql, "-v", "ON_ERROR_STOP=1", "-c", statement]),
            check=True,
            capture_output=True,
        )
    return PostgresServer(data=data, sockets=sockets, port=port, user=user, password=password)
