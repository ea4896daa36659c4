"""The record format: every kind comes back exactly; a cut or damaged file
yields every whole record before the damage and says what it dropped."""

from __future__ import annotations

from pathlib import Path

import pytest

from level4.journal.format import (
    BEGIN,
    CLOSED,
    END,
    GAP,
    HEADER,
    MAGIC,
    OPENED,
    REST,
    Begin,
    Closed,
    End,
    FileReport,
    Frames,
    Gap,
    Header,
    JournalError,
    Opened,
    Rest,
    append_record,
    frames_payload,
    json_payload,
    read_file,
)


def write(path: Path, payloads: list[bytes | bytearray]) -> list[int]:
    """Write records; returns each record's start offset."""
    out = bytearray(MAGIC)
    starts = []
    for payload in payloads:
        starts.append(len(out))
        append_record(out, payload)
    path.write_bytes(out)
    return starts


PAYLOADS: list[bytes | bytearray] = [
    json_payload(HEADER, {"run": "r1", "market": {"tag": "X"}, "begin": None, "generation": None, "created": 1.5}),
    json_payload(BEGIN, {"time": 2.0, "run": "r1", "market": {"tag": "X"}, "actors": {"exchange": "urn:1"}}),
    json_payload(OPENED, {"time": 3.0, "generation": 7}),
    frames_payload(7, [(1700000000.123456, '{"a": "é€"}'), (1700000000.5, b"\x00\xffbinary"), (1.0, "")]),
    json_payload(REST, {"time": 4.0, "symbol": "S", "path": "/p?q=1", "body": {"big": 2**70, "x": 0.1}, "error": None}),
    json_payload(GAP, {"time": 5.0, "frames": 12}),
    json_payload(CLOSED, {"time": 6.0, "generation": 7, "reason": "closed by venue"}),
    json_payload(END, {"time": 7.0}),
]

EXPECTED = [
    Header("r1", {"tag": "X"}, None, None, 1.5),
    Begin(2.0, "r1", {"tag": "X"}, {"exchange": "urn:1"}),
    Opened(3.0, 7),
    Frames(7, [(1700000000.123456, '{"a": "é€"}'), (1700000000.5, b"\x00\xffbinary"), (1.0, "")]),
    Rest(4.0, "S", "/p?q=1", {"big": 2**70, "x": 0.1}, None),
    Gap(5.0, 12),
    Closed(6.0, 7, "closed by venue"),
    End(7.0),
]


def test_every_kind_of_record_comes_back_exactly(tmp_path: Path) -> None:
    path = tmp_path / "a.l4j"
    write(path, PAYLOADS)
    report = FileReport(path)
    assert list(read_file(path, report)) == EXPECTED
    assert (report.records, report.frames, report.discarded, report.torn) == (8, 3, 0, False)


def test_a_last_record_cut_anywhere_costs_only_itself(tmp_path: Path) -> None:
    path = tmp_path / "a.l4j"
    starts = write(path, PAYLOADS)
    whole = path.read_bytes()
    last = starts[3]  # the frames record, cut at every byte (then the file simply ends there)
    for cut in range(last, starts[4]):
        path.write_bytes(whole[:cut])
        report = FileReport(path)
        assert list(read_file(path, report)) == EXPECTED[:3], cut
        assert report.discarded == cut - last
        assert report.torn is (cut > last)


def test_a_zero_filled_tail_is_an_unwritten_record(tmp_path: Path) -> None:
    path = tmp_path / "a.l4j"
    write(path, PAYLOADS[:3])
    with path.open("ab") as fh:
        fh.write(b"\0" * 4096)  # space a file system allocated but the process never wrote
    report = FileReport(path)
    assert list(read_file(path, report)) == EXPECTED[:3]
    assert report.torn and report.discarded == 4096


def test_damage_inside_a_file_stops_it_there_and_is_not_called_torn(tmp_path: Path) -> None:
    path = tmp_path / "a.l4j"
    starts = write(path, PAYLOADS)
    data = bytearray(path.read_bytes())
    data[starts[2] + 12] ^= 0xFF  # a flipped bit in the Opened record's payload
    path.write_bytes(data)
    report = FileReport(path)
    assert list(read_file(path, report)) == EXPECTED[:2]
    assert not report.torn and report.problem == "CRC mismatch"
    assert report.discarded == len(data) - starts[2]
    assert "damaged" in report.describe()


def test_a_file_killed_before_its_magic_was_whole_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "a.l4j"
    path.write_bytes(MAGIC[:5])
    report = FileReport(path)
    assert list(read_file(path, report)) == []
    assert report.torn and report.discarded == 5


def test_a_file_that_is_not_a_journal_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.l4j"
    path.write_bytes(b"1618677817.06: {}\n")
    with pytest.raises(JournalError, match="not a level4 journal file"):
        list(read_file(path))
