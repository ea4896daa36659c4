"""Venue timestamps: the hand-read UTC form gives datetime's very float."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from translations.timeparse import _parsed, iso_seconds

moments = st.datetimes(min_value=datetime(1971, 1, 1), max_value=datetime(2200, 12, 31))


@settings(max_examples=500, deadline=None)
@given(moment=moments, digits=st.text("0123456789", min_size=0, max_size=9))
def test_utc_timestamps_read_by_hand_equal_datetimes(moment: datetime, digits: str) -> None:
    text = moment.strftime("%Y-%m-%dT%H:%M:%S") + (f".{digits}" if digits else "") + "Z"
    assert iso_seconds(text) == _parsed(text)
    expected = moment.replace(microsecond=0, tzinfo=UTC) + timedelta(microseconds=int((digits + "0" * 6)[:6]))
    assert iso_seconds(text) == expected.timestamp()


def test_other_forms_and_bad_text() -> None:
    assert iso_seconds("2021-04-17T16:43:37.075687+00:00") == iso_seconds("2021-04-17T16:43:37.075687Z")
    assert iso_seconds("2021-04-17T18:43:37.5+02:00") == iso_seconds("2021-04-17T16:43:37.5Z")
    for bad in ["2021-04-17T16:61:37Z", "2021-04-17T16:4a:37.1Z", "2021-13-17T16:43:37Z", "2021-04-17T16:43:60.1Z"]:
        with pytest.raises(ValueError):
            iso_seconds(bad)
