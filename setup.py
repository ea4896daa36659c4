"""Build: the per-frame hot path compiled to C extensions with mypyc.

    pip install .                      compiled (pure Python, with a warning, where it cannot be)
    pip install -e .                   pure Python: an edited .py runs as it is
    LEVEL4_COMPILE=1 pip install ...   compiled, or the build fails
    LEVEL4_COMPILE=0 pip install ...   pure Python

Everything else is in pyproject.toml; level4/compiled.py names the modules
and guards against compiled modules older than their sources.
"""

from __future__ import annotations

import importlib.util
import json
import os
import sys
from pathlib import Path
from typing import Any

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent


def _compiled_module() -> Any:
    # By path: importing the package would run its guard against the very libraries being rebuilt.
    spec = importlib.util.spec_from_file_location("_level4_compiled", HERE / "level4" / "compiled.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


compiled = _compiled_module()
choice = os.environ.get("LEVEL4_COMPILE", "").strip()
editable = "editable_wheel" in sys.argv
required = choice == "1"
wanted = required or (choice != "0" and not editable)


def _warn(message: str) -> None:
    print(f"level4: {message}; installing pure Python", file=sys.stderr)


class BuildExt(build_ext):
    """Records what was compiled from which sources; falls back to pure
    Python where compiling was only the default and did not work."""

    def run(self) -> None:
        try:
            super().run()
        except Exception as exc:
            if required:
                raise
            for ext in self.extensions:
                Path(self.get_ext_fullpath(ext.name)).unlink(missing_ok=True)
            _warn(f"compiling failed ({type(exc).__name__}: {exc})")
            return
        if not self.extensions:
            return
        # The package root of the libraries just built (the source tree for an editable install).
        root = Path(self.get_ext_fullpath("level4.book.orderbook")).parents[2]
        hashes = {name: compiled.module_digest(name, HERE) for name in compiled.everything(HERE)}
        compiled.manifest(root).write_text(json.dumps(hashes, indent=1, sort_keys=True) + "\n")


def extensions() -> list[Any]:
    if not wanted:
        if editable:
            compiled.clean(HERE)  # libraries left in the tree by an earlier compiled install would shadow the sources
        return []
    paths = [str(compiled.source(name, HERE).relative_to(HERE)) for name in compiled.modules(HERE)]
    native = [
        Extension(
            name,
            [str(p.relative_to(HERE)) for p in compiled.parts(name, HERE) if p.suffix == ".c"],
            depends=[str(p.relative_to(HERE)) for p in compiled.parts(name, HERE) if p.suffix == ".h"],
            extra_compile_args=["-O2"],
        )
        for name in compiled.NATIVE
    ]
    try:
        from mypyc.build import mypycify

        return native + list(mypycify(paths, opt_level="3", debug_level="0", group_name="level4_hot"))
    except (Exception, SystemExit) as exc:  # mypy reports type errors by exiting
        if required:
            raise
        _warn(f"mypyc could not compile the hot path ({type(exc).__name__}: {exc})")
        return []


setup(ext_modules=extensions(), cmdclass={"build_ext": BuildExt})
