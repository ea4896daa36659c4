"""Supervision trees on pykka: SupervisedActor children under Supervisor actors."""

from level4.supervision.supervised import ChildDown, SupervisedActor, describe_reason, stop_quietly

__all__ = ["ChildDown", "SupervisedActor", "describe_reason", "stop_quietly"]
