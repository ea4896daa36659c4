"""Host names and origins as the API compares them (lower case, no port for
hosts); shared by the guard and the configuration that lists them."""

from __future__ import annotations

from urllib.parse import urlsplit

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")
ANY = "*"


def host_name(host: str) -> str:
    """The name of a Host header or an allowed-host entry, without the port: `[::1]:8000` -> `[::1]`."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[: host.find("]") + 1] if "]" in host else host
    if host.count(":") > 1:  # a bare IPv6 address, as written in a list
        return f"[{host}]"
    name, _, port = host.partition(":")
    return name.rstrip(".") if not port or port.isdigit() else host


def origin_of(value: str) -> str | None:
    """`scheme://host[:port]` lower-cased, or None when the value is no such origin."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()
