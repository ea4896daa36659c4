"""Reads recorded sessions in cryptofeed's raw-capture format.

wss://host/path <-> 1618677816.84          connection opened
wss://host/path <- 1618677817.02: {...}    frame the client sent
1618677817.06: {...}                       frame the client received
https://host/path?q -> 1633998512.32: {...} REST answer
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import orjson


@dataclass(frozen=True, slots=True)
class Opened:
    url: str
    time: float


@dataclass(frozen=True, slots=True)
class Sent:
    url: str
    time: float
    frame: str


@dataclass(frozen=True, slots=True)
class Received:
    time: float
    frame: str


@dataclass(frozen=True, slots=True)
class HttpAnswer:
    url: str
    time: float
    body: str

    @property
    def path(self) -> str:
        """Path and query, the part a scheme's Fetch names."""
        parts = urlsplit(self.url)
        return parts.path + (f"?{parts.query}" if parts.query else "")


Record = Opened | Sent | Received | HttpAnswer


class CaptureError(ValueError):
    pass


def parse_line(line: str) -> Record | None:
    line = line.rstrip("\n")
    if not line.strip():
        return None
    if " <-> " in line and ": " not in line.split(" <-> ", 1)[1]:
        url, _, stamp = line.partition(" <-> ")
        return Opened(url, float(stamp))
    head, sep, body = line.partition(": ")
    if not sep:
        raise CaptureError(f"not a capture line: {line[:80]!r}")
    if " <- " in head:
        url, _, stamp = head.partition(" <- ")
        return Sent(url, float(stamp), body)
    if " -> " in head:
        url, _, stamp = head.partition(" -> ")
        return HttpAnswer(url, float(stamp), body)
    return Received(float(head), body)


def read(path: str | Path) -> Iterator[Record]:
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            try:
                record = parse_line(line)
            except (CaptureError, ValueError) as exc:
                if not line.endswith("\n"):
                    return  # a torn last line: the recorder was stopped mid-write
                raise CaptureError(f"{path}:{number}: {exc}") from exc
            if not line.endswith("\n") and not _whole(record):
                return  # the last record was cut short
            if record is not None:
                yield record


def _whole(record: Record | None) -> bool:
    """Whether an unterminated last line holds a complete frame."""
    body = getattr(record, "frame", None) or getattr(record, "body", None)
    if body is None:
        return True
    try:
        orjson.loads(body)
    except orjson.JSONDecodeError:
        return False
    return True


def is_http_file(path: str | Path) -> bool:
    return ".http." in Path(path).name


def companions(ws_path: str | Path) -> list[Path]:
    """The REST answer files recorded beside a websocket capture."""
    p = Path(ws_path)
    venue = p.name.split(".", 1)[0]
    return sorted(p.parent.glob(f"{venue}.http.*"))


def is_list_file(path: str | Path) -> bool:
    """`VENUE.0`: the venue's instrument list answers, recorded before the session."""
    parts = Path(path).name.split(".")
    return len(parts) == 2 and parts[1] == "0"


def list_file(ws_path: str | Path) -> Path | None:
    """The instrument list recorded beside a capture (`VENUE.0`), where there is one."""
    p = Path(ws_path)
    found = p.parent / f"{p.name.split('.', 1)[0]}.0"
    return found if found.is_file() and found != p else None


def read_list(path: str | Path) -> Iterator[HttpAnswer]:
    """The REST answers of an instrument list file; its `configuration:` line (what the
    recorder was asked to subscribe) is no answer and is passed over."""
    with open(path, encoding="utf-8", errors="replace") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip() or line.startswith("configuration: "):
                continue
            try:
                record = parse_line(line)
            except ValueError as exc:
                raise CaptureError(f"{path}:{number}: {exc}") from exc
            if not isinstance(record, HttpAnswer):
                raise CaptureError(f"{path}:{number}: an instrument list holds REST answers only")
            yield record


def url_of(paths: list[Path]) -> str:
    """The URL the session spoke to: of the first connection or REST answer recorded
    ("" when none is), which tells a venue's APIs apart (by host, and path)."""
    for path in paths:
        if is_list_file(path):
            continue
        for rec in read(path):
            url = getattr(rec, "url", "")
            if url:
                return str(url)
    return ""


def host_of(paths: list[Path]) -> str:
    """The host of `url_of`."""
    return urlsplit(url_of(paths)).hostname or ""
