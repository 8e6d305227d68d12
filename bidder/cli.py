"""`bidlake serve`: run the OpenRTB bidder under uvicorn (httptools + uvloop).

Every setting of bidder.settings is a flag (`--log-format protobuf`) and an environment
variable (`BIDLAKE_BIDDER_LOG_FORMAT`); a flag wins over the environment. The resolved
configuration is printed at start, secrets redacted, and handed to the workers through
the environment. `--workers N` runs N processes on one listening socket (uvicorn's
supervisor; the kernel spreads connections). SIGTERM or Ctrl-C drains: the listener
closes, in-flight requests finish (up to `--drain-seconds`), then every worker publishes
its open log files and exits; the command ends with a summary of what the workers did.

Slow or idle clients cannot hold connections: uvicorn runs bidder.protocol's httptools
protocol, which closes a connection beyond `--max-connections` (1000 per worker) at once,
an idle one after `--keepalive-timeout-s` (20 s, also before its first request), and a
request whose headers take over `--header-timeout-s` (5 s) or whose body takes over
`--body-timeout-s` (1 s) with a 408; headers over `--max-header-bytes` (32 KiB) get 431.

`serve()` is the runner other code (orchestration, tests) calls with a Settings object.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import tempfile
from dataclasses import MISSING, fields
from pathlib import Path

from bidder.settings import ENV_PREFIX, Settings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    for f in fields(Settings):
        if f.name in ("secret", "run_dir"):
            continue  # secret: environment only (a flag shows in `ps`); run_dir: internal
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default is not MISSING else None
        help_text = (
            f"{f.metadata.get('help', '')} [env {ENV_PREFIX}{f.name.upper()}; default {default!r}]"
        )
        if f.type == "bool":
            parser.add_argument(
                flag,
                dest=f.name,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=help_text,
            )
        else:
            kind = {"int": int, "float": float}.get(str(f.type), str)
            parser.add_argument(flag, dest=f.name, type=kind, default=None, help=help_text)
    parser.add_argument(
        "--drain-seconds",
        type=float,
        default=10.0,
        help="on SIGTERM, how long in-flight requests may take before connections are cut",
    )


def run(args: argparse.Namespace) -> int:
    from bidder.settings import SettingsError

    overrides = {
        f.name: getattr(args, f.name)
        for f in fields(Settings)
        if getattr(args, f.name, None) is not None
    }
    try:
        settings = Settings.from_env(**overrides)
    except SettingsError as exc:
        print(f"bidlake serve: {exc}")
        return 2
    return serve(settings, drain_seconds=args.drain_seconds)


def serve(settings: Settings, drain_seconds: float = 10.0) -> int:
    """Run the bidder until SIGTERM/SIGINT; returns the exit code."""
    import uvicorn
    from rich.console import Console
    from rich.table import Table

    console = Console(stderr=True)
    table = Table(title="bidlake serve", show_header=True, header_style="bold")
    table.add_column("setting")
    table.add_column("value")
    for name, value in settings.describe():
        table.add_row(name, value)
    console.print(table)
    if settings.state == "memory" and settings.workers > 1:
        console.print(
            f"[yellow]budgets are per process with --state memory: each of the "
            f"{settings.workers} workers spends at most 1/{settings.workers} of every "
            f"budget; use --state redis://... for one shared budget[/yellow]",
            soft_wrap=True,
        )

    # uvicorn drains on SIGTERM/SIGINT and then re-raises the signal to the handler that
    # was installed before it started; with the default one the process would die right
    # there, before the summary. This handler only notes it: the drain is already done.
    stopped_by: list[int] = []
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda signum, _frame: stopped_by.append(signum))
    run_dir = Path(tempfile.mkdtemp(prefix="bidlake-serve-"))
    settings = settings.with_overrides(run_dir=str(run_dir))
    os.environ.update(settings.to_env())
    try:
        config = uvicorn.Config(
            "bidder.app:create_app",
            factory=True,
            host=settings.host,
            port=settings.port,
            workers=settings.workers,
            loop="uvloop",
            # httptools plus the read deadlines and connection cap uvicorn lacks (by name,
            # so every worker imports it): bidder/protocol.py, settings max_connections,
            # keepalive_timeout_s, header_timeout_s, body_timeout_s, max_header_bytes.
            # No `limit_concurrency`: it answers 503 to good requests once slow clients
            # fill it; the cap at accept refuses the newcomers instead.
            http="bidder.protocol:LimitedHttpToolsProtocol",
            timeout_keep_alive=settings.keepalive_timeout_s,
            lifespan="on",
            access_log=False,  # one line per bid request would cost more than the bid
            # The bidder never reads the client address (the exchange's IP): skip the
            # X-Forwarded-For middleware uvicorn wraps every app in by default.
            proxy_headers=False,
            timeout_graceful_shutdown=int(drain_seconds),
            backlog=4096,
            log_config=_log_config(),
        )
        server = uvicorn.Server(config)
        if settings.workers > 1:
            from uvicorn.supervisors import Multiprocess

            sock = config.bind_socket()
            Multiprocess(config, sockets=[sock]).run()
        else:
            server.run()
        code = 0 if (settings.workers > 1 or server.started) else 3
        _summary(console, run_dir)
        return code
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)


def _log_config() -> dict:
    """uvicorn's logging set-up plus the bidder's loggers, applied in every worker."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["loggers"]["bidder"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _summary(console, run_dir: Path) -> None:  # type: ignore[no-untyped-def]
    import orjson
    from rich.table import Table

    totals: dict[str, dict[str, int]] = {"requests": {}, "imps": {}, "tracking": {}, "events": {}}
    workers = 0
    for path in run_dir.glob("metrics-*.json"):
        snap = orjson.loads(path.read_bytes())
        workers += 1
        for key, into in totals.items():
            for k, v in snap.get(key, {}).items():
                into[k] = into.get(k, 0) + v
    table = Table(title=f"bidder summary ({workers} worker(s))", show_header=True)
    table.add_column("what")
    table.add_column("count", justify="right")
    for k, v in sorted(totals["requests"].items()):
        table.add_row(f"requests: {k}", f"{v:,}")
    for k, v in sorted(totals["imps"].items()):
        table.add_row(f"imps: {k or 'bid'}", f"{v:,}")
    for k, v in sorted(totals["tracking"].items()):
        table.add_row(f"notices: {k}", f"{v:,}")
    for k, v in sorted(totals["events"].items()):
        table.add_row(f"events logged: {k}", f"{v:,}")
    console.print(table)
