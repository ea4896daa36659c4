"""The adapter's hold on pykka's internals: what it relies on must still be there.

When an upgrade of pykka changes a private method the adapter overrides or
repeats, these tests fail and name the method; read pykka's new source, bring
level4/supervision/pykka_adapter.py in line, then record the new digest.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pykka
import pytest

from level4.supervision import pykka_adapter

ROOT = Path(__file__).resolve().parents[2]


def test_the_installed_pykka_is_the_one_the_adapter_was_written_for() -> None:
    assert pykka_adapter.check_pykka() == []


def test_a_changed_method_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    def _actor_loop_running(self: Any) -> None:  # a pykka whose loop reads messages differently
        while not self.actor_stopped.is_set():
            self._handle_receive(self.actor_inbox.get().message)

    monkeypatch.setattr(pykka.Actor, "_actor_loop_running", _actor_loop_running)
    problems = pykka_adapter.check_pykka()
    assert len(problems) == 1
    assert "changed Actor._actor_loop_running" in problems[0]


def test_a_removed_or_reshaped_method_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delattr(pykka.Actor, "_actor_loop_teardown")
    monkeypatch.setattr(pykka.Actor, "_handle_receive", lambda self, message, sender=None: None)
    problems = "\n".join(pykka_adapter.check_pykka())
    assert "has no Actor._actor_loop_teardown" in problems
    assert "Actor._handle_receive takes ('self', 'message', 'sender')" in problems


def test_no_other_module_touches_pykka_private_api() -> None:
    # The adapter is the one place; everything else uses pykka's public API and its hooks.
    private = [
        "_actor_loop",
        "_handle_failure",
        "_handle_receive",
        "_create_actor_inbox",
        "_create_future",
        "_start_actor_loop",
        "pykka._",
        "_ActorStop",
        "_envelope",
    ]
    adapter = Path(inspect.getfile(pykka_adapter)).resolve()
    offenders = []
    for path in sorted((ROOT / "level4").rglob("*.py")):
        if path.resolve() == adapter:
            continue
        text = path.read_text()
        offenders += [f"{path.relative_to(ROOT)}: {name}" for name in private if name in text]
    assert offenders == []
