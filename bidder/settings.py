"""The bidder's settings: every knob in one place, read from the environment at call time.

`bidlake serve` turns its flags into these environment variables before it starts the
server, because with `--workers N` every worker process builds its app from the
environment (a factory cannot take arguments across a fork/spawn). Each variable is
`BIDLAKE_BIDDER_<FIELD>` (upper case); `BIDLAKE_HOME` and `BIDLAKE_CAMPAIGNS` keep their
platform-wide names. `describe()` is what is printed at start: secrets never appear in it.
"""

from __future__ import annotations

import ipaddress
import os
import socket
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from bidlake.keys import MIN_KEY_BYTES, Key, load_key
from bidlake.paths import home
from bidlake.redact import redact_url

ENV_PREFIX = "BIDLAKE_BIDDER_"
SECRET_FIELDS = frozenset({"secret", "old_secrets"})
TRACKING_KEY = "tracking"  # <home>/keys/tracking.key when no secret is set (loopback only)


class SettingsError(ValueError):
    """A setting with a value the bidder cannot run with; the message names it."""


def _s(default: object, help_text: str) -> Any:
    """A setting: its default and the help text `bidlake serve --help` shows."""
    return field(default=default, metadata={"help": help_text})


@dataclass(frozen=True)
class Settings:
    # ---- HTTP ----
    host: str = _s("127.0.0.1", "interface to listen on")
    port: int = _s(8080, "TCP port")
    workers: int = _s(1, "worker processes (one per core)")
    public_url: str = _s(
        "",
        "base of the win/click/conversion URLs put into bids, reachable by exchanges and "
        "browsers (default http://HOST:PORT)",
    )
    max_body_bytes: int = _s(128 * 1024, "larger bid requests get 400 (a 20-imp one is ~20 KB)")
    # Read limits of `bidlake serve` (bidder.protocol): uvicorn itself has no header or body
    # read timeout, so a slow client could hold a connection forever.
    max_connections: int = _s(
        1000,
        "open connections per worker at most; a connection beyond it is closed at once "
        "(keep the file limit, ulimit -n, above it)",
    )
    keepalive_timeout_s: int = _s(
        20, "an idle connection (also a new one that never sends a request) is closed after it"
    )
    header_timeout_s: float = _s(
        5.0, "a request's headers must be complete this long after its first byte: else 408, closed"
    )
    body_timeout_s: float = _s(
        1.0,
        "a request's body must be complete this long after its headers: else 408, closed (an "
        "exchange sends the whole request at once; past the default tmax a bid is worthless)",
    )
    max_header_bytes: int = _s(32 * 1024, "larger request headers get 431 (connection closed)")
    # ---- auction ----
    currency: str = _s("USD", "account currency, the only one the bidder bids in")
    seat: str = _s("bidlake", "our seat id at exchanges (matched against wseat/bseat)")
    default_tmax_ms: int = _s(100, "tmax assumed when a request has none")
    default_exchange: str = _s(
        "unknown",
        "exchange name logged when a request names none (no ?exchange=, no ext.exchange)",
    )
    tmax_margin_ms: int = _s(
        10,
        "time kept back from tmax for the network; past tmax minus this since arrival, "
        "the bidder stops deciding and answers no-bid (reason timeout)",
    )
    creative_base_url: str = _s(
        "https://cdn.bidlake.example/creatives", "where creative assets are served from"
    )
    # ---- campaigns, models ----
    campaigns: str = _s(
        "",
        "campaign book: a database URL (sqlite:///…, postgresql+psycopg://…) or a JSON book file "
        "(default $BIDLAKE_CAMPAIGNS_URL, else $BIDLAKE_HOME/campaigns.sqlite3)",
    )
    campaign_poll_s: float = _s(
        1.0, "seconds between checks of the campaign book's version (a change bids within it)"
    )
    models_root: str = _s("", "model registry (default $BIDLAKE_HOME/models)")
    ctr_version: str = _s("", "pin the CTR model to this version (default: follow CURRENT)")
    cvr_version: str = _s("", "pin the CVR model to this version (default: follow CURRENT)")
    model_poll_s: float = _s(
        1.0,
        "seconds between checks of the model pointer; a promotion is served within it plus "
        "the artifact's load time",
    )
    model_pointer: str = _s(
        "auto",
        "where the promoted model versions are read: 'auto' (with --state redis://… the "
        "fleet's key <redis-prefix>:model:<name>:current, which promotion publishes when "
        "BIDLAKE_MODELS_REDIS is set, else CURRENT while nothing is published; with memory "
        "state the CURRENT file) or 'file' (always <models-root>/<name>/CURRENT)",
    )
    # ---- budgets, pacing, state ----
    state: str = _s("memory", "budget state: 'memory' (per process) or a redis:// URL (fleet)")
    redis_prefix: str = _s("bidlake:bidder", "key prefix in Redis")
    pacing_slack_hours: float = _s(
        1.0,
        "how many hours' worth of the daily budget spend may run ahead of the even spread "
        "before pacing throttles (1 h: at most 2/24 of the budget by 01:00 UTC)",
    )
    pacing_min_factor: float = _s(0.1, "bids are never shaded below this share of their value")
    reservation_ttl_s: int = _s(
        60,
        "a bid holds its worst-case cost against the budget until its win notice or this "
        "many seconds; later win notices still count but may overshoot",
    )
    win_dedupe_s: int = _s(
        900,
        "win notices for bids older than this many seconds are refused; within it a "
        "repeated notice counts once",
    )
    click_window_s: int = _s(
        86_400,
        "clicks on bids older than this are refused; a win is remembered this long, and a "
        "click counts only on a won bid, once",
    )
    conversion_window_s: int = _s(
        8 * 86_400,
        "conversions on bids older than this are refused (7-day post-click attribution plus "
        "the click window); one conversion per (bid, order id)",
    )
    max_conversion_value: float = _s(
        1000.0, "conversion values above this (account currency) are refused with 400"
    )
    notices_db: str = _s(
        "",
        "memory state: SQLite file of counted notices, shared by this host's workers and "
        "kept over restarts (default $BIDLAKE_HOME/bidder/notices.sqlite3)",
    )
    state_refresh_s: float = _s(0.2, "Redis: seconds between refreshes of the pacing view")
    # ---- tracking logs ----
    events_to: str = _s(
        "files",
        "where events go: 'files' (tracking logs in --landing) or kafka://HOST:PORT[,...] "
        "(a topic per event type, values in --log-format; what Kafka cannot take waits in "
        "$BIDLAKE_HOME/bidder/kafka-spill)",
    )
    landing: str = _s("", "tracking-log folder (default $BIDLAKE_HOME/landing)")
    log_format: str = _s("jsonl", "tracking-log format: jsonl or protobuf")
    log_compress: bool = _s(False, "gzip the tracking logs")
    log_rotate_s: float = _s(60.0, "seconds between publications of the open log files")
    log_flush_s: float = _s(1.0, "seconds between flushes of log buffers to the OS")
    max_events_per_file: int = _s(1_000_000, "events per log file at most")
    writer_id: str = _s("", "log writer id (default bidder-HOSTNAME-PID; unique per process)")
    run_dir: str = _s(
        "", "folder where the workers of one server share /metrics snapshots (set by serve)"
    )
    # ---- security ----
    secret: str = _s(
        "",
        "key of the MAC signing tracking URLs (env only; never printed). Required, at least "
        f"{MIN_KEY_BYTES} bytes, off loopback; on loopback the default is a private per-home "
        "key file",
    )
    old_secrets: str = _s(
        "", "retired tracking keys still accepted for verification, comma-separated (env only)"
    )

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides: object) -> Settings:
        """Settings from `BIDLAKE_BIDDER_*` (and `overrides`), validated."""
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is None:
                continue
            values[f.name] = _parse(f.name, str(f.type), raw)
        values.update(overrides)
        return cls(**values).validated()  # type: ignore[arg-type]

    def validated(self) -> Settings:
        problems = []
        if self.log_format not in ("jsonl", "protobuf"):
            problems.append(f"log_format must be jsonl or protobuf, got {self.log_format!r}")
        if self.events_to != "files":
            from contract.kafka import bootstrap_of  # light: no Kafka client is loaded

            try:
                if not self.events_to.startswith("kafka://"):
                    raise ValueError(f"'files' or kafka://HOST:PORT, got {self.events_to!r}")
                bootstrap_of(self.events_to)
            except ValueError as exc:
                problems.append(f"events_to: {exc}")
        if not (self.state == "memory" or self.state.startswith(("redis://", "rediss://"))):
            problems.append(f"state must be 'memory' or a redis:// URL, got {self.state!r}")
        if self.model_pointer not in ("auto", "file"):
            problems.append(f"model_pointer must be auto or file, got {self.model_pointer!r}")
        if self.workers < 1:
            problems.append(f"workers must be >= 1, got {self.workers}")
        if not 0 < self.pacing_min_factor <= 1:
            problems.append(f"pacing_min_factor must be in (0, 1], got {self.pacing_min_factor}")
        if not 0 < self.pacing_slack_hours <= 24:
            problems.append(f"pacing_slack_hours must be in (0, 24], got {self.pacing_slack_hours}")
        if self.default_tmax_ms <= 0 or self.tmax_margin_ms < 0:
            problems.append("default_tmax_ms must be > 0 and tmax_margin_ms >= 0")
        if len(self.currency) != 3 or not self.currency.isupper():
            problems.append(f"currency must be an ISO 4217 code, got {self.currency!r}")
        if not self.loopback_only:
            if not self.secret:
                problems.append(
                    f"secret: BIDLAKE_BIDDER_SECRET must be set to listen on {self.host!r} "
                    "(not loopback): every bidder of a fleet must verify every notice"
                )
            elif len(self.secret.encode()) < MIN_KEY_BYTES:
                problems.append(
                    f"secret: BIDLAKE_BIDDER_SECRET is shorter than {MIN_KEY_BYTES} bytes; "
                    f"refused off loopback (listening on {self.host!r})"
                )
        if not 0 < self.max_conversion_value <= 1000.0:
            problems.append("max_conversion_value must be in (0, 1000]")
        for name in (
            "max_body_bytes",
            "reservation_ttl_s",
            "win_dedupe_s",
            "click_window_s",
            "conversion_window_s",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        for name in (
            "model_poll_s",
            "campaign_poll_s",
            "state_refresh_s",
            "log_rotate_s",
            "log_flush_s",
        ):
            if getattr(self, name) <= 0:
                problems.append(f"{name} must be > 0")
        for name in (
            "max_connections",
            "keepalive_timeout_s",
            "header_timeout_s",
            "body_timeout_s",
            "max_header_bytes",
        ):
            if not getattr(self, name) > 0:
                problems.append(f"{name} must be > 0")
        if problems:
            raise SettingsError("invalid bidder settings: " + "; ".join(problems))
        return self

    # ---- derived, resolved at call time ----

    @property
    def loopback_only(self) -> bool:
        """Listening on a loopback address only (nothing off this host can reach it)."""
        if self.host == "localhost":
            return True
        try:
            return ipaddress.ip_address(self.host).is_loopback
        except ValueError:
            return False

    def tracking_keys(self) -> tuple[Key, list[bytes]]:
        """(the key that signs, retired keys still accepted)."""
        if self.secret:
            current = Key(self.secret.encode(), "env BIDLAKE_BIDDER_SECRET")
        else:
            current = load_key(TRACKING_KEY, ENV_PREFIX + "SECRET", home().root)
        retired = [k.strip().encode() for k in self.old_secrets.split(",") if k.strip()]
        return current, retired

    @property
    def notices_path(self) -> Path:
        return (
            Path(self.notices_db) if self.notices_db else home().root / "bidder" / "notices.sqlite3"
        )

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")

    @property
    def landing_path(self) -> Path:
        return Path(self.landing) if self.landing else home().landing

    @property
    def models_path(self) -> Path:
        return Path(self.models_root) if self.models_root else home().models

    @property
    def models_from_redis(self) -> bool:
        """The model versions follow the fleet's Redis key (else the CURRENT files)."""
        return self.model_pointer == "auto" and self.state != "memory"

    @property
    def campaigns_path(self) -> Path | None:
        return Path(self.campaigns) if self.campaigns else None

    def resolved_writer_id(self) -> str:
        # The pid keeps workers of one host apart; a restarted worker gets a new pid, and the
        # writer skips sequence numbers a previous run already published anyway.
        if not self.writer_id:
            return f"bidder-{socket.gethostname()}-{os.getpid()}"
        # Workers of one server share the settings: each still needs an id of its own.
        return f"{self.writer_id}-{os.getpid()}" if self.workers > 1 else self.writer_id

    def with_overrides(self, **changes: object) -> Settings:
        return replace(self, **changes).validated()  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The environment that makes `from_env()` rebuild these settings in a worker."""
        out = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[ENV_PREFIX + f.name.upper()] = (
                ("1" if value else "0") if isinstance(value, bool) else str(value)
            )
        return out

    def describe(self) -> list[tuple[str, str]]:
        """(name, value) of every setting as the server will use it, secrets redacted."""
        rows = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in SECRET_FIELDS:
                if value:
                    shown = "(set)"
                elif f.name == "secret":
                    shown = "(unset: a private per-home key file, loopback only)"
                else:
                    shown = "(none)"
            elif f.name == "state":
                shown = redact_url(value)
            else:
                shown = str(value)
            rows.append((f.name, shown))
        rows += [
            ("-> base_url", self.base_url),
            ("-> landing", str(self.landing_path)),
            ("-> models", str(self.models_path)),
            (
                "-> campaigns",
                redact_url(
                    self.campaigns
                    or os.environ.get("BIDLAKE_CAMPAIGNS_URL")
                    or str(home().root / "campaigns.sqlite3")
                ),
            ),
        ]
        return rows


def _parse(name: str, type_name: str, raw: str) -> object:
    try:
        if type_name == "int":
            return int(raw)
        if type_name == "float":
            return float(raw)
        if type_name == "bool":
            lowered = raw.strip().lower()
            if lowered in ("1", "true", "yes", "on"):
                return True
            if lowered in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
    except ValueError:
        raise SettingsError(
            f"{ENV_PREFIX}{name.upper()}={raw!r} is not a valid {type_name}"
        ) from None
    return raw
