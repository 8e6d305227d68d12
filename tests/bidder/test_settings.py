"""Settings: environment parsing, validation naming the setting, redaction, worker ids."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from bidder.settings import Settings, SettingsError


def test_environment_values_are_typed() -> None:
    s = Settings.from_env(
        {
            "BIDLAKE_BIDDER_PORT": "9000",
            "BIDLAKE_BIDDER_LOG_COMPRESS": "yes",
            "BIDLAKE_BIDDER_PACING_SLACK_HOURS": "2.5",
            "BIDLAKE_BIDDER_STATE": "redis://127.0.0.1:6379/1",
        }
    )
    assert (s.port, s.log_compress, s.pacing_slack_hours) == (9000, True, 2.5)
    assert Settings.from_env(s.to_env()) == s  # what workers rebuild from


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"BIDLAKE_BIDDER_PORT": "eighty"}, "BIDLAKE_BIDDER_PORT='eighty' is not a valid int"),
        ({"BIDLAKE_BIDDER_LOG_COMPRESS": "maybe"}, "is not a valid bool"),
        ({"BIDLAKE_BIDDER_STATE": "postgres://x"}, "state must be 'memory' or a redis:// URL"),
        ({"BIDLAKE_BIDDER_PACING_MIN_FACTOR": "0"}, "pacing_min_factor must be in (0, 1]"),
        ({"BIDLAKE_BIDDER_CURRENCY": "usd"}, "currency must be an ISO 4217 code"),
        ({"BIDLAKE_BIDDER_LOG_ROTATE_S": "0"}, "log_rotate_s must be > 0"),
    ],
)
def test_invalid_values_name_the_setting(env: dict[str, str], message: str) -> None:
    with pytest.raises(SettingsError) as info:
        Settings.from_env(env)
    assert message in str(info.value)


def test_describe_never_shows_secrets() -> None:
    s = Settings(secret="hunter2-very-secret", state="redis://:p4ssw0rd@cache:6379/0")
    shown = dict(s.describe())
    assert "hunter2" not in str(shown) and "p4ssw0rd" not in str(shown)
    assert shown["secret"] == "(set)"
    assert shown["state"] == "redis://:***@cache:6379/0"
    assert "per-home key file" in dict(Settings().describe())["secret"]


STRONG = "k" * 32


@pytest.mark.parametrize(
    ("host", "secret", "message"),
    [
        ("0.0.0.0", "", "BIDLAKE_BIDDER_SECRET must be set to listen on '0.0.0.0'"),
        ("10.1.2.3", "", "must be set"),
        ("0.0.0.0", "bidlake-dev-secret-change-me", "shorter than 32 bytes"),
        ("::", "short", "shorter than 32 bytes"),
    ],
)
def test_off_loopback_a_real_key_is_required(host: str, secret: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        Settings(host=host, secret=secret).validated()


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.9", "::1", "localhost"])
def test_on_loopback_the_per_home_key_is_allowed(host: str) -> None:
    assert Settings(host=host).validated().loopback_only


def test_a_strong_key_may_listen_anywhere() -> None:
    assert not Settings(host="0.0.0.0", secret=STRONG).validated().loopback_only


def test_without_a_secret_the_key_comes_from_the_home_and_is_stable(home: Path) -> None:
    first, retired = Settings().tracking_keys()
    again, _ = Settings().tracking_keys()
    assert first.secret == again.secret and first.strong and retired == []
    assert (home / "keys" / "tracking.key").exists()
    current, old = Settings(secret=STRONG, old_secrets="a" * 32 + ", " + "b" * 32).tracking_keys()
    assert current.secret == STRONG.encode() and old == [b"a" * 32, b"b" * 32]


def test_paths_follow_bidlake_home_at_call_time(home: Path) -> None:
    s = Settings()
    assert s.landing_path == home / "landing"
    assert s.models_path == home / "models"
    assert s.base_url == "http://127.0.0.1:8080"


def test_writer_ids_are_unique_per_worker() -> None:
    pid = os.getpid()
    assert Settings().resolved_writer_id().endswith(f"-{pid}")
    assert Settings(writer_id="edge-7").resolved_writer_id() == "edge-7"
    assert Settings(writer_id="edge-7", workers=4).resolved_writer_id() == f"edge-7-{pid}"
