"""The vocabularies the services share, one definition each. Events, projections, alert rules
and the GraphQL schema all use these (GraphQL exposes the member names, e.g. `FOUNDATION`)."""

from __future__ import annotations

from enum import StrEnum


class RespondentRole(StrEnum):
    CLIENT = "client"
    PARENT = "parent"  # parent or caregiver of a child client
    THERAPIST = "therapist"


class AgeGroup(StrEnum):
    ADULT = "adult"
    ADOLESCENT = "adolescent"  # 13-17
    CHILD = "child"  # 6-12


class EpisodeEnding(StrEnum):
    PLANNED = "planned"  # by mutual agreement
    UNILATERAL = "unilateral"  # the client dropped out


class SignalKind(StrEnum):
    PHASE_CHANGED = "phase_changed"
    RUPTURE_OPENED = "rupture_opened"
    RUPTURE_REPAIRED = "rupture_repaired"
    RUPTURE_ESCALATED = "rupture_escalated"
    SPLIT_DETECTED = "split_detected"
    DETERIORATED = "deteriorated"
    OFF_TRACK = "off_track"
    CRITICAL_ITEM = "critical_item"
    TERMINATION_READY = "termination_ready"
    EARLY_LOW_ALLIANCE = "early_low_alliance"  # below the cut-off in the foundation phase
    EARLY_LOW_ALLIANCE_CLEARED = "early_low_alliance_cleared"  # back at or above the cut-off


class WithdrawalReason(StrEnum):
    """Why a signal no longer holds (the case was folded again without it)."""

    LATE_RESPONSE = "late_response"  # an earlier administration arrived after later ones
    RESPONSE_AMENDED = "response_amended"
    RESPONSE_VOIDED = "response_voided"
    DEMOGRAPHICS_CHANGED = "demographics_changed"  # a change of age band or norm set, back-dated


class RuleName(StrEnum):
    """A clinical rule's one name: its switch in `ClinicalConfig.rules_enabled` (when it has
    one), the `rule` of the evidence it writes, and its module in scoring's `domain/rules/`
    (docs/clinical.md)."""

    BELOW_CUTOFF = "below_cutoff"
    DROP_FROM_PREVIOUS = "drop_from_previous"
    RELIABLE_DROP = "reliable_drop"
    SUDDEN_LOSS = "sudden_loss"
    RUPTURE_REPAIRED = "rupture_repaired"  # the rupture lifecycle: always on
    RUPTURE_UNRESOLVED = "rupture_unresolved"  # the rupture lifecycle: always on
    SPLIT_ALLIANCE = "split_alliance"
    DETERIORATION = "deterioration"  # evidence written before issue 9: reliable_deterioration
    OFF_TRACK = "off_track"  # evidence written before issue 9: not_on_track
    CRITICAL_ITEMS = "critical_items"  # evidence written before issue 9: critical_item_endorsed
    TERMINATION_READINESS = "termination_readiness"
    PHASE_BOUNDARIES = "phase_boundaries"  # always on
    EARLY_LOW_ALLIANCE = "early_low_alliance"  # its alert kind switches it

    @classmethod
    def _missing_(cls, value: object) -> RuleName | None:
        # Evidence in events written before the names were unified (docs/decisions/0007) still
        # reads, as the rule it always was.
        return _LEGACY_RULE_NAMES.get(str(value))


_LEGACY_RULE_NAMES = {
    "reliable_deterioration": RuleName.DETERIORATION,
    "not_on_track": RuleName.OFF_TRACK,
    "critical_item_endorsed": RuleName.CRITICAL_ITEMS,
}


class AlertKind(StrEnum):
    RUPTURE = "rupture"
    EARLY_LOW_ALLIANCE = "early_low_alliance"  # low alliance in the foundation phase: dropout risk
    SPLIT_ALLIANCE = "split_alliance"
    DETERIORATION = "deterioration"
    OFF_TRACK = "off_track"
    CRITICAL_ITEM = "critical_item"
    TERMINATION_READINESS = "termination_readiness"


class AlertStatus(StrEnum):
    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class AlertPriority(StrEnum):
    SAME_DAY = "same_day"  # act today (critical items)
    URGENT = "urgent"  # before the next session
    ROUTINE = "routine"


class AlertAction(StrEnum):
    RAISED = "raised"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"  # by a user, with a note
    AUTO_RESOLVED = "auto_resolved"  # its condition cleared (e.g. the rupture was repaired)
    SNOOZED = "snoozed"
    ESCALATED = "escalated"  # to the clinic's supervisors
    REASSIGNED = "reassigned"  # by a user, one alert
    UPDATED = "updated"  # new evidence on an open alert (e.g. the rupture went unresolved)
    HANDED_OVER = "handed_over"  # the case moved to another therapist: to them, with its history


class AlertCommandAction(StrEnum):
    ACKNOWLEDGE = "acknowledge"
    RESOLVE = "resolve"
    SNOOZE = "snooze"
    REASSIGN = "reassign"


class StaffRole(StrEnum):
    THERAPIST = "therapist"
    SUPERVISOR = "supervisor"
    CLINIC_ADMIN = "clinic_admin"


class Phase(StrEnum):
    """Where a case is in therapy (docs/clinical.md, phases)."""

    FOUNDATION = "foundation"
    WORK = "work"
    TERMINATION = "termination"
    CLOSED = "closed"


class Severity(StrEnum):
    LOW = "low"
    MODERATE = "moderate"
    HIGH = "high"


class RuptureStatus(StrEnum):
    OPEN = "open"
    REPAIRED = "repaired"
    UNRESOLVED = "unresolved"  # escalated: not repaired within the window


class OutcomeClass(StrEnum):
    """Jacobson-Truax classes (docs/clinical.md, outcome)."""

    RECOVERED = "recovered"
    IMPROVED = "improved"
    UNCHANGED = "unchanged"
    DETERIORATED = "deteriorated"


class ScoreStatus(StrEnum):
    """A response version's status, in intake's history and on its score."""

    CURRENT = "current"  # as submitted, or the latest amendment
    AMENDED = "amended"  # its answers corrected by a later amendment
    VOIDED = "voided"  # withdrawn: no longer part of the case


class EpisodeStatus(StrEnum):
    OPEN = "open"
    ENDED = "ended"
