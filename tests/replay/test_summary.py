"""The replay summary as plain data, in either build (compiled, a dataclass
instance has no __dict__)."""

from __future__ import annotations

from level4.replay.replayer import Summary


def test_summary_as_dict_names_every_count() -> None:
    summary = Summary(frames=3, seconds=0.5, checksums_verified=2)
    assert summary.as_dict() == {
        "frames": 3,
        "seconds": 0.5,
        "markets": 0,
        "trades": 0,
        "resyncs": 0,
        "malformed": 0,
        "ignored": 0,
        "checksums_verified": 2,
        "checksum_failures": 0,
        "reconnects_requested": 0,
        "resubscribes_requested": 0,
        "unplaced": 0,
        "off_tick": 0,
    }
