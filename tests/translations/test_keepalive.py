"""A scheme's `keepalive` test marks only frames its `translate` turns into
nothing: over every frame of the venue's recorded session, and the
simulator's spelling of the same keep-alive."""

from __future__ import annotations

import orjson
import pytest

from level4.replay.capture import url_of
from level4.replay.replayer import load
from tests.captures import capture
from translations import scheme_for, scheme_for_url

SESSIONS = {"COINBASE": "COINBASE.ws.28.0", "KRAKEN": "KRAKEN.ws.50.0", "GEMINI": "GEMINI.ws.1.0"}
# Keep-alives as the venues document them (the Coinbase session has its heartbeat channel off).
SPELLED = {
    "COINBASE": [
        '{"type":"heartbeat","last_trade_id":20,"product_id":"BTC-USD","sequence":10,"time":"2014-11-07T08:19:28.464459Z"}',
        '{"type":"heartbeat","sequence":11,"last_trade_id":21,"product_id":"ETH-USD","time":"2014-11-07T08:19:29Z"}',
    ],
    "KRAKEN": ['{"event":"heartbeat"}'],
    "GEMINI": ['{"type":"heartbeat","timestamp":1630000000000}'],
}


@pytest.mark.parametrize("venue", sorted(SESSIONS))
def test_keepalives_in_a_recorded_session_translate_to_nothing(venue: str) -> None:
    files = [capture(SESSIONS[venue])]
    scheme = scheme_for_url(venue, url_of(files))  # the API the session spoke (Kraken's v1)
    keepalive = getattr(scheme, "keepalive")  # noqa: B009
    session = load(scheme, files)
    marked = 0
    for conn in session.connections:
        state = scheme.initial_state(conn.instruments)
        for raw in [raw for _, raw in conn.frames] + SPELLED[venue]:
            frame = orjson.loads(raw)
            instructions, state = scheme.translate(frame, state)
            if keepalive(raw) or keepalive(raw.encode()):
                marked += 1
                assert instructions == [], raw
            else:
                assert not (isinstance(frame, dict) and frame.get("event", frame.get("type")) == "heartbeat"), raw
    assert marked > 0


def test_every_scheme_without_keepalive_is_unaffected() -> None:
    # Only venues whose keep-alive is pure have one; the rest go through translate as before.
    with_keepalive = {name for name in SESSIONS if getattr(scheme_for(name), "keepalive", None) is not None}
    assert with_keepalive == set(SESSIONS)
    assert getattr(scheme_for("BITFINEX"), "keepalive", None) is None
