"""Sink URLs: what is accepted, what is refused with a reason, what reaches the client."""

from __future__ import annotations

import pytest

from level4.cli import build_parser, settings_from
from level4.config import Settings
from level4.sinks import SinkConfigError, parse_sinks
from level4.sinks.jetstream import subject_tokens
from level4.sinks.spec import parse_sink


def test_defaults() -> None:
    nats, redis = parse_sinks(["nats://127.0.0.1:4222", "redis://127.0.0.1:6379/0"])
    assert (nats.kind, nats.name, nats.options) == ("nats", "nats", {"stream": "LEVEL4", "prefix": "level4"})
    assert (redis.kind, redis.name, redis.options) == ("redis", "redis", {"prefix": "level4", "maxlen": "100000"})
    assert (redis.queue, redis.retry_max, redis.flush) == (100_000, 30.0, 3.0)


def test_own_parameters_are_taken_out_and_the_clients_are_kept() -> None:
    spec = parse_sink("rediss://:pw@cache:6380/2?maxlen=50&prefix=md&queue=10&retry_max=2&flush=1&socket_keepalive=1")
    assert spec.url == "rediss://:pw@cache:6380/2?socket_keepalive=1"
    assert (spec.queue, spec.retry_max, spec.flush, spec.options["maxlen"]) == (10, 2.0, 1.0, "50")
    assert spec.shown_url == "rediss://:***@cache:6380/2?socket_keepalive=1"


def test_names_are_unique() -> None:
    names = [s.name for s in parse_sinks(["redis://a", "redis://b", "nats://c?name=main", "nats://d?name=main"])]
    assert names == ["redis", "redis-2", "main", "main-2"]


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("kafka://broker:9092", "unknown scheme"),
        ("nats://", "no host"),
        ("nats://h?stream=a.b", "stream must be"),
        ("nats://h?prefix=a.*", "prefix must be"),
        ("nats://h?prefix=a..b", "prefix must be"),
        ("nats://h?durable=x", "unknown parameter 'durable'"),
        ("redis://h?maxlen=ten", "maxlen must be a number"),
        ("redis://h?maxlen=1.5", "maxlen must be a whole number"),
        ("redis://h?queue=0", "queue must be positive"),
        ("redis://h?retry_max=-1", "retry_max must be positive"),
        ("redis://:secret@h?prefix=", "prefix must not be empty"),
    ],
)
def test_refusals_say_why(url: str, says: str) -> None:
    with pytest.raises(SinkConfigError, match=says) as info:
        parse_sink(url)
    assert "secret" not in str(info.value)


def test_environment_and_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEVEL4_SINKS", " nats://a:4222 , ,redis://b/0")
    assert Settings().sinks == ["nats://a:4222", "redis://b/0"]
    args = build_parser().parse_args(["serve", "--sink", "redis://c/1", "--sink", "nats://d"])
    assert settings_from(args).sinks == ["redis://c/1", "nats://d"]  # the flag replaces the variable
    assert settings_from(build_parser().parse_args(["serve"])).sinks == ["nats://a:4222", "redis://b/0"]


def test_a_bad_sink_stops_the_service_before_it_starts() -> None:
    from level4.service.root import Service

    with pytest.raises(SystemExit, match="unknown scheme"):
        Service(Settings(database_url="sqlite://", sinks=["amqp://localhost"]))


@pytest.mark.parametrize(
    ("tag", "tokens"),
    [
        ("COINBASE.SPOT:BTC-USD", "COINBASE.SPOT.BTC-USD"),
        ("DERIBIT.OPTION:BTC-24SEP21-8000-P", "DERIBIT.OPTION.BTC-24SEP21-8000-P"),
        ("OKX.OPTION:BTC-USD-0.5 *>", "OKX.OPTION.BTC-USD-0_5___"),
        ("BTC-USD", "BTC-USD"),
        ("a.b", "a_b"),
        ("", "_"),
    ],
)
def test_market_tags_become_subject_tokens(tag: str, tokens: str) -> None:
    assert subject_tokens(tag) == tokens
