"""Which modules of the per-frame hot path are compiled (mypyc, and the book's
C ladder), and a guard against running a compiled module whose source has
changed since.

A wheel (`pip install .`) compiles them by default; an editable install
(`pip install -e .`) keeps them pure Python unless built with
LEVEL4_COMPILE=1 (setup.py). A compiled module is a shared library beside
its .py file, and Python imports the library first, so an edited .py would
silently not run: the build records each source's hash (`manifest`), and
importing `level4` or `translations` fails loudly while any compiled
module's source differs from what was compiled.

    python -c 'import level4.compiled as c; c.main()'    what is compiled, and whether it is current

An editable install without LEVEL4_COMPILE=1 removes the tree's compiled
modules (`clean`), so `pip install -e .` is always back to pure Python.

This module must stay pure Python and import nothing from the project:
setup.py loads it by path before anything is built.
"""

from __future__ import annotations

import hashlib
import importlib.machinery
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent  # the directory holding level4/ and translations/

# The hot path: every frame passes through these (translations/__init__ is the registry, not hot).
PACKAGES = ("translations",)
MODULES = (
    "level4.book.orderbook",
    "level4.feed.events",
    "level4.feed.bookkeeper",
    "level4.feed.translator",
    "level4.replay.replayer",
)
# Written in C, built beside the mypyc modules (pure twin: level4/book/pyladder.py).
NATIVE = ("level4.book._ladder",)
# The other files each C module is built from, beside its main .c (one unit per job, a header each).
NATIVE_PARTS: dict[str, tuple[str, ...]] = {
    "level4.book._ladder": (
        "ladder_decimal.c",
        "ladder_checksum.c",
        "ladder_entry.h",
        "ladder_decimal.h",
        "ladder_checksum.h",
    ),
}


def modules(root: Path = ROOT) -> list[str]:
    """Every module mypyc compiles, by dotted name."""
    names = list(MODULES)
    for package in PACKAGES:
        names.extend(f"{package}.{p.stem}" for p in sorted((root / package).glob("*.py")) if p.stem != "__init__")
    return names


def everything(root: Path = ROOT) -> list[str]:
    """Every compiled module: mypyc's and the C ones."""
    return modules(root) + list(NATIVE)


def manifest(root: Path = ROOT) -> Path:
    """Where the build records the hash of each source it compiled."""
    return root / "level4" / "compiled-sources.json"


def source(name: str, root: Path = ROOT) -> Path:
    return root.joinpath(*name.split(".")).with_suffix(".c" if name in NATIVE else ".py")


def parts(name: str, root: Path = ROOT) -> list[Path]:
    """Every file a module is built from: its source, and a C module's other units and headers."""
    main = source(name, root)
    return [main] + [main.with_name(part) for part in NATIVE_PARTS.get(name, ())]


def module_digest(name: str, root: Path = ROOT) -> str:
    """One hash over every file the module is built from, so an edited header counts too."""
    h = hashlib.sha256()
    for path in parts(name, root):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def _libraries(name: str, root: Path) -> list[Path]:
    base = source(name, root).with_suffix("")
    return [base.with_name(base.name + suffix) for suffix in importlib.machinery.EXTENSION_SUFFIXES]


def compiled(root: Path = ROOT) -> list[str]:
    """The modules present as compiled libraries."""
    return [name for name in everything(root) if any(p.exists() for p in _libraries(name, root))]


def stale(root: Path = ROOT) -> list[str]:
    """Compiled modules whose source is not the one they were compiled from."""
    present = compiled(root)
    if not present:
        return []
    try:
        recorded: dict[str, str] = json.loads(manifest(root).read_text())
    except (OSError, ValueError):
        return present  # compiled, but nothing says from what: not to be trusted
    out = []
    for name in present:
        if not all(p.exists() for p in parts(name, root)) or recorded.get(name) != module_digest(name, root):
            out.append(name)
    return out


_checked = False


def check() -> None:
    """Refuse to run compiled modules built from other sources than these."""
    global _checked
    if _checked:
        return
    _checked = True
    changed = stale()
    if changed:
        raise ImportError(
            f"compiled modules are older than their sources ({', '.join(changed)}): rebuild them with "
            "`LEVEL4_COMPILE=1 pip install -e .`, or go back to pure Python with `pip install -e .`"
        )


def clean(root: Path = ROOT) -> list[Path]:
    """Remove this tree's compiled modules, their shared library and the manifest."""
    gone = []
    for name in everything(root):
        for path in _libraries(name, root):
            if path.exists():
                path.unlink()
                gone.append(path)
    for suffix in importlib.machinery.EXTENSION_SUFFIXES:
        for path in root.glob(f"*__mypyc{suffix}"):
            path.unlink()
            gone.append(path)
    recorded = manifest(root)
    if recorded.exists():
        recorded.unlink()
        gone.append(recorded)
    return gone


def describe() -> str:
    present = compiled()
    return f"{len(present)} of {len(everything())} hot-path modules compiled" if present else "pure Python"


def main() -> None:
    """Print what is compiled; exit 1 when nothing is (a build that should have compiled)."""
    print(describe())
    sys.exit(0 if compiled() else 1)
