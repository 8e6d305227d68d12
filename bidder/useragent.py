"""User-Agent and OpenRTB device fields -> the contract's device_type, os and browser.

Exchanges send `device.devicetype` and `device.os` most of the time, but not always
(desktop web traffic often carries only the User-Agent), and campaigns target device
types, so the bidder falls back to the User-Agent. The rules are substring tests in a
fixed order, the way every UA parser starts; they are not a full UA database, so rare
devices land in "other". A few thousand distinct UAs cover most traffic, so results are
cached per string (bounded, so a flood of unique UAs costs CPU but not memory).
"""

from __future__ import annotations

from functools import lru_cache

# OpenRTB 2.x `device.devicetype` (List 5.21) -> the contract's DeviceType vocabulary.
DEVICE_TYPES: dict[int, str] = {
    1: "mobile",  # "Mobile/Tablet" (the 2.0 catch-all)
    2: "desktop",  # "Personal Computer"
    3: "ctv",
    4: "phone",
    5: "tablet",
    6: "connected_device",
    7: "set_top_box",
    8: "ooh",  # 2.6: digital out-of-home screens
}

_OS_NAMES: tuple[tuple[str, str], ...] = (
    # (substring of lower-cased device.os, contract value); first match wins.
    ("android", "android"),
    ("ios", "ios"),
    ("iphone", "ios"),
    ("ipad", "ios"),
    ("windows", "windows"),
    ("os x", "macos"),
    ("macos", "macos"),
    ("mac os", "macos"),
    ("linux", "linux"),
    ("ubuntu", "linux"),
    ("chrome os", "linux"),
)


@lru_cache(maxsize=256)
def os_from_name(name: str) -> str:
    """`device.os` ("iOS", "OS X", "Android") -> the contract's Os value."""
    lowered = name.strip().lower()
    if not lowered:
        return ""
    for needle, value in _OS_NAMES:
        if needle in lowered:
            return value
    return "other"


@lru_cache(maxsize=4096)
def parse(ua: str) -> tuple[str, str, str]:
    """(device_type, os, browser) guessed from a User-Agent; "" when `ua` is empty."""
    if not ua:
        return "", "", ""
    if "iPad" in ua or "Tablet" in ua or ("Android" in ua and "Mobile" not in ua):
        device = "tablet"
    elif "iPhone" in ua or "iPod" in ua or "Mobile" in ua or "Android" in ua:
        device = "phone"
    elif "SmartTV" in ua or "SMART-TV" in ua or "CrKey" in ua or "AppleTV" in ua:
        device = "ctv"
    else:
        device = "desktop"

    if "Android" in ua:
        os_name = "android"
    elif "iPhone" in ua or "iPad" in ua or "iPod" in ua:
        os_name = "ios"
    elif "Windows" in ua:
        os_name = "windows"
    elif "Macintosh" in ua or "Mac OS X" in ua:
        os_name = "macos"
    elif "Linux" in ua or "X11" in ua or "CrOS" in ua:
        os_name = "linux"
    else:
        os_name = "other"

    # Order matters: Edge and Samsung UAs also say "Chrome", Chrome's also says "Safari".
    if "Edg/" in ua or "Edge/" in ua or "EdgA/" in ua or "EdgiOS/" in ua:
        browser = "edge"
    elif "SamsungBrowser" in ua:
        browser = "samsung"
    elif "Firefox/" in ua or "FxiOS/" in ua:
        browser = "firefox"
    elif "Chrome/" in ua or "CriOS/" in ua or "Chromium/" in ua:
        browser = "chrome"
    elif "Safari/" in ua:
        browser = "safari"
    else:
        browser = "other"
    return device, os_name, browser
