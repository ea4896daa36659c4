"""Journal settings from the environment and the command line."""

from __future__ import annotations

from pathlib import Path

import pytest

from level4.cli import build_parser, settings_from
from level4.journal.options import DEFAULT_ROTATE_BYTES, JournalOptions, parse_age, parse_size


def test_sizes_and_ages_read_as_people_write_them() -> None:
    assert parse_size("65536") == 65536
    assert parse_size("64K") == parse_size("64KiB") == 64 * 1024
    assert parse_size("64m") == 64 * 1024**2 and parse_size("1G") == 1024**3
    assert parse_age("90") == 90 and parse_age("90m") == 5400 and parse_age("12h") == 43200
    assert parse_age("7d") == 7 * 86400 and parse_age("0.5h") == 1800
    for bad in ("", "0", "-1", "64X", "1.5M", "M"):
        with pytest.raises(ValueError):
            parse_size(bad)
    for bad in ("", "0", "7w", "d"):
        with pytest.raises(ValueError):
            parse_age(bad)


def test_no_directory_no_journal_and_the_environment_sets_every_limit(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("DIR", "ROTATE", "MAX_FILES", "MAX_BYTES", "MAX_AGE"):
        monkeypatch.delenv(f"LEVEL4_JOURNAL_{name}", raising=False)
    assert JournalOptions.from_env() == JournalOptions()
    assert JournalOptions().directory is None and JournalOptions().rotate_bytes == DEFAULT_ROTATE_BYTES
    monkeypatch.setenv("LEVEL4_JOURNAL_DIR", "/var/lib/level4/journal")
    monkeypatch.setenv("LEVEL4_JOURNAL_ROTATE", "16M")
    monkeypatch.setenv("LEVEL4_JOURNAL_MAX_FILES", "10")
    monkeypatch.setenv("LEVEL4_JOURNAL_MAX_BYTES", "1G")
    monkeypatch.setenv("LEVEL4_JOURNAL_MAX_AGE", "7d")
    options = JournalOptions.from_env()
    assert options.directory == Path("/var/lib/level4/journal")
    assert (options.rotate_bytes, options.max_files, options.max_bytes, options.max_age) == (
        16 * 1024**2,
        10,
        1024**3,
        7 * 86400.0,
    )
    monkeypatch.setenv("LEVEL4_JOURNAL_MAX_FILES", "none")
    with pytest.raises(SystemExit, match="LEVEL4_JOURNAL_MAX_FILES"):
        JournalOptions.from_env()


def test_the_command_line_overrides_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("LEVEL4_JOURNAL_DIR", "/elsewhere")
    monkeypatch.setenv("LEVEL4_JOURNAL_MAX_FILES", "3")
    argv = ["serve", "--journal", str(tmp_path), "--journal-rotate", "1M", "--journal-max-age", "2h"]
    options = settings_from(build_parser().parse_args(argv)).journal
    assert options.directory == tmp_path
    assert (options.rotate_bytes, options.max_files, options.max_age) == (1024**2, 3, 7200.0)
    console = settings_from(build_parser().parse_args(["console", "--journal-max-bytes", "5M"])).journal
    assert console.directory == Path("/elsewhere") and console.max_bytes == 5 * 1024**2


def test_bad_values_on_the_command_line_are_refused(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "--journal", "/tmp/j", "--journal-rotate", "lots"])
    assert "not a size: 'lots'" in capsys.readouterr().err
