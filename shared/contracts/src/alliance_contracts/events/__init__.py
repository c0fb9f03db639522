"""Versioned event contracts. Every event carries the same envelope; payloads are per type, one
module per topic family.

Changing a payload in a backwards-incompatible way means a new `schema_version` (and a new
model), never an edit in place: the topics keep their full history and are replayed.
"""

from alliance_contracts.events.alerts import (
    AlertCommand,
    AlertCommandPayload,
    AlertNotice,
    AlertNoticePayload,
)
from alliance_contracts.events.audit import (
    ReadAudited,
    ReadAuditedPayload,
)
from alliance_contracts.events.clinic import (
    CaseAssigned,
    CaseAssignedPayload,
    ClinicConfigured,
    ClinicConfiguredPayload,
    ClinicInput,
    StaffChanged,
    StaffChangedPayload,
)
from alliance_contracts.events.envelope import (
    CLINIC_LEVEL_CASE_ID,
    DERIVED_EVENT_NAMESPACE,
    EventEnvelope,
    Frozen,
    derived_event_id,
)
from alliance_contracts.events.requests import (
    CaseAssignmentRequested,
    CaseAssignmentRequestedPayload,
    EpisodeEndingRequested,
    EpisodeEndingRequestedPayload,
    IntakeCommand,
    ResponseAmendmentRequested,
    ResponseAmendmentRequestedPayload,
    ResponseVoidRequested,
    ResponseVoidRequestedPayload,
)
from alliance_contracts.events.responses import (
    Answers,
    CaseInput,
    EpisodeEnded,
    EpisodeEndedPayload,
    ItemNumber,
    Reason,
    ResponseAmended,
    ResponseAmendedPayload,
    ResponseSubmitted,
    ResponseSubmittedPayload,
    ResponseVoided,
    ResponseVoidedPayload,
)
from alliance_contracts.events.scoring import (
    ClinicalSignal,
    ClinicalSignalPayload,
    DyadPair,
    DyadRef,
    PhaseChange,
    ResponseScored,
    ResponseScoredPayload,
    RuleEvidence,
    ScoringOutput,
    SignalWithdrawn,
    SignalWithdrawnPayload,
)

__all__ = [
    "CLINIC_LEVEL_CASE_ID",
    "DERIVED_EVENT_NAMESPACE",
    "AlertCommand",
    "AlertCommandPayload",
    "AlertNotice",
    "AlertNoticePayload",
    "Answers",
    "CaseAssigned",
    "CaseAssignedPayload",
    "CaseAssignmentRequested",
    "CaseAssignmentRequestedPayload",
    "CaseInput",
    "ClinicConfigured",
    "ClinicConfiguredPayload",
    "ClinicInput",
    "ClinicalSignal",
    "ClinicalSignalPayload",
    "DyadPair",
    "DyadRef",
    "EpisodeEnded",
    "EpisodeEndedPayload",
    "EpisodeEndingRequested",
    "EpisodeEndingRequestedPayload",
    "EventEnvelope",
    "Frozen",
    "IntakeCommand",
    "ItemNumber",
    "PhaseChange",
    "ReadAudited",
    "ReadAuditedPayload",
    "Reason",
    "ResponseAmended",
    "ResponseAmendedPayload",
    "ResponseAmendmentRequested",
    "ResponseAmendmentRequestedPayload",
    "ResponseScored",
    "ResponseScoredPayload",
    "ResponseSubmitted",
    "ResponseSubmittedPayload",
    "ResponseVoidRequested",
    "ResponseVoidRequestedPayload",
    "ResponseVoided",
    "ResponseVoidedPayload",
    "RuleEvidence",
    "ScoringOutput",
    "SignalWithdrawn",
    "SignalWithdrawnPayload",
    "StaffChanged",
    "StaffChangedPayload",
    "derived_event_id",
]
