"""Times as a person reads them: in the browser's own time zone, "today 09:45", "yesterday
14:02", "3 Nov 2026, 08:45" (never a raw UTC ISO string).

The page tells the server its time zone once, when it loads (``remember``); every list the
server renders for that browser session uses it (``zone_of``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any

# The browser's time zone, read by the page's load event (Intl.DateTimeFormat).
TIMEZONE_JS = "() => { try { return Intl.DateTimeFormat().resolvedOptions().timeZone || ''; } catch (e) { return ''; } }"

_MAX_SESSIONS = 10_000
_zones: OrderedDict[str, str] = OrderedDict()
_lock = threading.Lock()


def _session_of(request: Any) -> str:
    return str(getattr(request, "session_hash", "") or "")


def remember(request: Any, zone_name: str) -> None:
    """Keep this browser session's time zone (an IANA name such as ``Europe/Oslo``)."""
    key = _session_of(request)
    if not key or not zone_name:
        return
    with _lock:
        _zones[key] = str(zone_name)[:64]
        _zones.move_to_end(key)
        while len(_zones) > _MAX_SESSIONS:
            _zones.popitem(last=False)


def zone_of(request: Any) -> tzinfo:
    """The session's time zone; UTC when the browser did not say (or named an unknown one)."""
    with _lock:
        name = _zones.get(_session_of(request), "")
    return parse_zone(name)


def parse_zone(name: str) -> tzinfo:
    if not name:
        return timezone.utc
    try:
        from zoneinfo import ZoneInfo

        return ZoneInfo(name)
    except Exception:  # unknown or malformed name: say UTC rather than fail
        return timezone.utc


def human_time(iso: str, zone: tzinfo | None = None, now: datetime | None = None) -> str:
    """``iso`` (a UTC ISO-8601 time such as 2026-12-01T08:45:43Z) in ``zone``, in words."""
    if not iso:
        return ""
    try:
        when = datetime.fromisoformat(str(iso).replace("Z", "+00:00"))
    except ValueError:
        return str(iso)
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    zone = zone or timezone.utc
    local = when.astimezone(zone)
    today = (now or datetime.now(timezone.utc)).astimezone(zone).date()
    clock = local.strftime("%H:%M")
    if local.date() == today:
        day = "today"
    elif local.date() == today - timedelta(days=1):
        day = "yesterday"
    elif local.year == today.year:
        day = f"{local.day} {local.strftime('%b')}"
    else:
        day = f"{local.day} {local.strftime('%b %Y')}"
    suffix = " UTC" if zone is timezone.utc else ""
    return f"{day}, {clock}{suffix}" if day[0].isdigit() else f"{day} {clock}{suffix}"


__all__ = ["TIMEZONE_JS", "remember", "zone_of", "parse_zone", "human_time"]
