"""The API token: `Authorization: Bearer <token>`, compared in constant time."""

from __future__ import annotations

import hmac
from collections.abc import Iterable


def bearer(headers: Iterable[tuple[bytes, bytes]]) -> bytes | None:
    """The credential of the request's bearer authorization, if any."""
    for key, value in headers:
        if key == b"authorization":
            scheme, _, credential = value.partition(b" ")
            return credential.strip() if scheme.lower() == b"bearer" else b""
    return None


def matches(supplied: bytes | None, token: bytes) -> bool:
    # compare_digest: the time taken says nothing about how much of the token matched
    return supplied is not None and hmac.compare_digest(supplied, token)
