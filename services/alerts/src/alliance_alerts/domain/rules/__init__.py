"""Alert rules and lifecycle, pure: no I/O, no clock (time is passed in), no randomness.

- `alert`: the Alert, its typed transitions (raised, acknowledged, resolved, auto_resolved,
  snoozed, reassigned, handed_over, escalated_to_supervisors, escalation_recorded, updated),
  the notice of a transition and its recipients.
- `signals`: scoring's events raise, update or resolve alerts (`on_scoring`).
- `reconcile`: when scoring withdraws signals, the case's alerts follow the signals that
  still hold (`implied`, `reconcile`).
- `lifecycle`: a user's commands, case assignments (handovers) and the clock's escalations,
  decided as events and applied once recorded (`on_command`, `on_assignment`,
  `escalation_due`, `on_clock`, `on_input`).

Ids derive from the inputs, so a replay or a redelivery produces the same alerts, transitions and
notices. The application layer imports from this package.
"""

from __future__ import annotations

from alliance_alerts.domain.rules.alert import (
    Alert,
    Cause,
    Key,
    Transition,
    TransitionRefused,
    notice,
    recipients,
)
from alliance_alerts.domain.rules.lifecycle import (
    AlertInput,
    CommandRejected,
    escalation_due,
    on_assignment,
    on_clock,
    on_command,
    on_input,
)
from alliance_alerts.domain.rules.reconcile import implied, reconcile
from alliance_alerts.domain.rules.signals import on_scoring

__all__ = [
    "Alert",
    "AlertInput",
    "Cause",
    "CommandRejected",
    "Key",
    "Transition",
    "TransitionRefused",
    "escalation_due",
    "implied",
    "notice",
    "on_assignment",
    "on_clock",
    "on_command",
    "on_input",
    "on_scoring",
    "recipients",
    "reconcile",
]
