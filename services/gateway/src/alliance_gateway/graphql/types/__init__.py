"""GraphQL output and input types, one module per area. Each maps read-model rows (or the
application's results) to its fields.

The contracts' enums are served as GraphQL enums as they are (one definition, not two). They are
registered here, in the package's init, so that they are before any type uses them.
"""

import strawberry

from alliance_contracts.vocabulary import (
    AgeGroup,
    AlertKind,
    AlertPriority,
    AlertStatus,
    EpisodeEnding,
    OutcomeClass,
    Phase,
    RespondentRole,
    RuptureStatus,
    ScoreStatus,
    Severity,
    SignalKind,
)

for _enum in (
    RespondentRole,
    AlertStatus,
    SignalKind,
    AlertKind,
    AlertPriority,
    Phase,
    Severity,
    RuptureStatus,
    OutcomeClass,
    ScoreStatus,
    AgeGroup,
):
    strawberry.enum(_enum)
# Served as the GraphQL enum `Ending` (the name the SDL has always had).
strawberry.enum(EpisodeEnding, name="Ending")
