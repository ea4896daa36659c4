"""The guard against compiled hot-path modules built from other sources."""

from __future__ import annotations

import importlib.machinery
import json
from pathlib import Path

from level4 import compiled

SUFFIX = importlib.machinery.EXTENSION_SUFFIXES[0]


def _tree(tmp_path: Path) -> Path:
    (tmp_path / "level4").mkdir()
    (tmp_path / "translations").mkdir()
    (tmp_path / "translations" / "__init__.py").write_text("")
    (tmp_path / "translations" / "venue.py").write_text("X = 1\n")
    return tmp_path


def _compile(root: Path) -> None:
    """What the build leaves: a library beside the source and the manifest of hashes."""
    (root / "translations" / f"venue{SUFFIX}").write_bytes(b"")
    (root / f"level4_hot__mypyc{SUFFIX}").write_bytes(b"")
    hashes = {"translations.venue": compiled.module_digest("translations.venue", root)}
    compiled.manifest(root).write_text(json.dumps(hashes))


def test_the_translations_package_is_compiled_but_not_its_registry(tmp_path: Path) -> None:
    names = compiled.modules(_tree(tmp_path))
    assert "translations.venue" in names and "translations.__init__" not in names
    assert "level4.book.orderbook" in names


def test_a_pure_tree_has_nothing_stale(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    assert compiled.compiled(root) == [] and compiled.stale(root) == []


def test_an_edited_source_makes_its_library_stale(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _compile(root)
    assert compiled.compiled(root) == ["translations.venue"] and compiled.stale(root) == []
    (root / "translations" / "venue.py").write_text("X = 2\n")
    assert compiled.stale(root) == ["translations.venue"]


def test_a_library_without_a_manifest_is_not_trusted(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _compile(root)
    compiled.manifest(root).unlink()
    assert compiled.stale(root) == ["translations.venue"]


def test_clean_leaves_pure_python(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    _compile(root)
    gone = compiled.clean(root)
    assert len(gone) == 3
    assert compiled.compiled(root) == [] and (root / "translations" / "venue.py").exists()


def test_this_tree_runs_current_code() -> None:
    # Whatever this checkout is (pure, or compiled by the build), nothing stale can be imported.
    assert compiled.stale() == []


def test_an_edited_header_makes_the_c_module_stale(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    name = "level4.book._ladder"
    book = root / "level4" / "book"
    book.mkdir()
    for part in compiled.parts(name, root):
        part.write_text(f"/* {part.name} */\n")
    (book / f"_ladder{SUFFIX}").write_bytes(b"")
    compiled.manifest(root).write_text(json.dumps({name: compiled.module_digest(name, root)}))
    assert compiled.stale(root) == []
    (book / "ladder_decimal.h").write_text("/* edited */\n")
    assert compiled.stale(root) == [name]


def test_the_c_ladder_is_built_from_one_unit_per_job() -> None:
    units = [p.name for p in compiled.parts("level4.book._ladder") if p.suffix == ".c"]
    assert units == ["_ladder.c", "ladder_decimal.c", "ladder_checksum.c"]
    assert all(p.exists() for p in compiled.parts("level4.book._ladder"))
