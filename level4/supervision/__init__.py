"""Supervision trees on pykka: SupervisedActor children under Supervisor actors."""

from level4.supervision.pykka_adapter import tell, teller
from level4.supervision.supervised import ChildDown, SupervisedActor, describe_reason, stop_quietly
from level4.supervision.supervisor import (
    ChildEvent,
    ChildEventCallback,
    ChildSpec,
    GiveUpCallback,
    Restart,
    Strategy,
    Supervisor,
    SupervisorGaveUp,
)

__all__ = [
    "ChildDown",
    "ChildEvent",
    "ChildEventCallback",
    "ChildSpec",
    "GiveUpCallback",
    "Restart",
    "Strategy",
    "SupervisedActor",
    "Supervisor",
    "SupervisorGaveUp",
    "describe_reason",
    "stop_quietly",
    "tell",
    "teller",
]
