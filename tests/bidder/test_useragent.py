"""bidder.useragent: the User-Agent and `device.os` -> device type, os and browser."""

from __future__ import annotations

import pytest

from bidder import useragent


@pytest.mark.parametrize(
    ("ua", "expected"),
    [
        (
            "Mozilla/5.0 (iPad; CPU OS 17_0 like Mac OS X) AppleWebKit/605 Safari/604.1",
            ("tablet", "ios", "safari"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14; Pixel 8) Chrome/120 Mobile Safari/537.36",
            ("phone", "android", "chrome"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 13; SM-X700) AppleWebKit/537.36 Chrome/120 Safari/537.36",
            ("tablet", "android", "chrome"),
        ),
        (
            "Mozilla/5.0 (Linux; Android 14) SamsungBrowser/23.0 Chrome/115 Mobile Safari/537.36",
            ("phone", "android", "samsung"),
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Chrome/120 Safari/537.36 Edg/120.0",
            ("desktop", "windows", "edge"),
        ),
        (
            "Mozilla/5.0 (X11; Linux x86_64; rv:121.0) Gecko/20100101 Firefox/121.0",
            ("desktop", "linux", "firefox"),
        ),
        ("curl/8.0", ("desktop", "other", "other")),
        ("", ("", "", "")),
    ],
)
def test_user_agent(ua: str, expected: tuple[str, str, str]) -> None:
    assert useragent.parse(ua) == expected


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("iOS", "ios"),
        ("iPadOS", "ios"),
        ("OS X", "macos"),
        ("Windows Phone", "windows"),
        ("Chrome OS", "linux"),
        ("Tizen", "other"),
        ("", ""),
    ],
)
def test_os_names(name: str, value: str) -> None:
    assert useragent.os_from_name(name) == value
