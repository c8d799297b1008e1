"""No network during tests: every connection or name lookup that would leave the machine is
blocked and recorded.

``install(log)`` patches the socket module of this process. Child processes get the same guard
through ``tests/netguard_site/sitecustomize.py`` (on ``PYTHONPATH``) and write their attempts to
the same log file, so a server started by a test is watched too. ``tests/conftest.py`` fails the
test during which an attempt happened, and the session if one happened outside any test.

Loopback, the unspecified address (binding a server) and Unix sockets are allowed.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import threading
import traceback
from pathlib import Path
from typing import Iterator

LOG_ENV = "ASSISTANT_TEST_NETGUARD_LOG"
SITE_DIR = Path(__file__).resolve().parent / "netguard_site"


class NetworkBlocked(ConnectionRefusedError):
    """Raised instead of a connection or lookup that would leave the machine."""


_lock = threading.Lock()
_state = {"installed": False, "log": None, "expected": None}
attempts: list[str] = []  # this process's unexpected attempts


def is_local(host) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%")[0].rstrip(".").lower()
    if host in ("", "localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback", "*"):
        return True
    if host.endswith(".localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return ip.is_loopback or ip.is_unspecified


def _record(what: str) -> None:
    stack = "".join(traceback.format_stack(limit=12)[:-3])
    line = f"pid {os.getpid()}: {what}"
    with _lock:
        expected = _state["expected"]
        if expected is not None:
            expected.append(line)
        else:
            attempts.append(line + "\n" + stack)
            log = _state["log"]
            if log:
                try:
                    with open(log, "a", encoding="utf-8") as fh:
                        fh.write(line.replace("\n", " ") + "\n")
                except OSError:
                    pass
    raise NetworkBlocked(f"network access blocked in tests: {what}")


def _check(family, address, action: str) -> None:
    if family in (socket.AF_INET, socket.AF_INET6) and isinstance(address, tuple) and address:
        if not is_local(address[0]):
            _record(f"{action} {address[0]}:{address[1] if len(address) > 1 else ''}")


def install(log: str | os.PathLike | None = None) -> None:
    """Patch this process's socket module (idempotent)."""
    with _lock:
        if log is not None:
            _state["log"] = str(log)
        if _state["installed"]:
            return
        _state["installed"] = True

    real_connect = socket.socket.connect
    real_connect_ex = socket.socket.connect_ex
    real_sendto = socket.socket.sendto
    real_getaddrinfo = socket.getaddrinfo
    real_gethostbyname = socket.gethostbyname
    real_gethostbyname_ex = socket.gethostbyname_ex

    def connect(self, address):
        _check(self.family, address, "connect to")
        return real_connect(self, address)

    def connect_ex(self, address):
        _check(self.family, address, "connect to")
        return real_connect_ex(self, address)

    def sendto(self, data, *args):
        address = args[-1]
        _check(self.family, address, "send to")
        return real_sendto(self, data, *args)

    def getaddrinfo(host, *args, **kwargs):
        if not is_local(host):
            _record(f"look up {host!r}")
        return real_getaddrinfo(host, *args, **kwargs)

    def gethostbyname(host):
        if not is_local(host):
            _record(f"look up {host!r}")
        return real_gethostbyname(host)

    def gethostbyname_ex(host):
        if not is_local(host):
            _record(f"look up {host!r}")
        return real_gethostbyname_ex(host)

    socket.socket.connect = connect
    socket.socket.connect_ex = connect_ex
    socket.socket.sendto = sendto
    socket.getaddrinfo = getaddrinfo
    socket.gethostbyname = gethostbyname
    socket.gethostbyname_ex = gethostbyname_ex


def installed() -> bool:
    return bool(_state["installed"])


@contextlib.contextmanager
def expect_blocked() -> Iterator[list[str]]:
    """Attempts made inside are still blocked but collected here, not counted as violations."""
    seen: list[str] = []
    with _lock:
        previous, _state["expected"] = _state["expected"], seen
    try:
        yield seen
    finally:
        with _lock:
            _state["expected"] = previous


def logged(log: str | os.PathLike) -> list[str]:
    """Attempts written to a log file (by this process or its children)."""
    try:
        return [ln for ln in Path(log).read_text(encoding="utf-8").splitlines() if ln.strip()]
    except FileNotFoundError:
        return []


def child_environment(log: str | os.PathLike) -> dict[str, str]:
    """Environment variables that put the guard into every Python child process."""
    path = os.environ.get("PYTHONPATH", "")
    parts = [str(SITE_DIR)] + [p for p in path.split(os.pathsep) if p and p != str(SITE_DIR)]
    return {"PYTHONPATH": os.pathsep.join(parts), LOG_ENV: str(log)}
