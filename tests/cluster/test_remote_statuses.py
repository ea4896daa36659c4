"""What a node tells of a market another node runs: the owner's word, under the
market's current epoch and while it is fresh, or that it has not been heard."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from level4.cluster.cluster_view import ClusterView, NodeRow


def view_of_two() -> ClusterView:
    view = ClusterView("a", "http://a")
    now = datetime.now(UTC)
    nodes = [NodeRow("a", "http://a", now, 1.0, True), NodeRow("b", "http://b", now, 1.0, True)]
    view.update({1: ("b", 3), 2: ("a", 1)}, nodes, frozenset({1, 2}))
    return view


def test_the_owners_word_under_the_current_epoch_while_fresh() -> None:
    view = view_of_two()
    assert view.peers() == [("b", "http://b")] and view.mine() == {2: 1}
    live = {"id": 1, "epoch": 3, "status": "live", "status_reason": None, "connection": None}
    view.set_remote_statuses("b", {1: live}, time.monotonic())
    assert view.remote_status(1, max_age=5.0) == live
    assert view.remote_status(2, max_age=5.0) is None  # runs here: the board tells it


def test_an_old_word_or_one_of_another_epoch_is_not_taken() -> None:
    view = view_of_two()
    before_the_move = {"id": 1, "epoch": 2, "status": "live", "status_reason": None, "connection": None}
    view.set_remote_statuses("b", {1: before_the_move}, time.monotonic())
    assert view.remote_status(1, max_age=5.0) is None
    current = dict(before_the_move, epoch=3)
    view.set_remote_statuses("b", {1: current}, time.monotonic() - 10.0)
    assert view.remote_status(1, max_age=5.0) is None
