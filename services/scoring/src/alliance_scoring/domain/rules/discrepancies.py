"""Client-therapist discrepancy: how differently the two sides rate the same alliance. Pure.

Inputs: the latest rating of a client (or parent) dyad and of its therapist's own dyad on the
same instrument, 0-1 scale. No threshold: a view for the clinician (docs/clinical.md, 3.7).
Evolves: `DyadState.discrepancy`. Detects nothing.
"""

from __future__ import annotations

from alliance_contracts.exact import share_difference
from alliance_contracts.vocabulary import RespondentRole
from alliance_scoring.domain.state import CaseState, copy_with


def evolve(state: CaseState) -> CaseState:
    """Client (or parent) rating minus the therapist's own rating of the same alliance, on the
    0-1 scale, by the latest rating of each on the same instrument."""
    therapist_dyads = [
        d for d in state.dyads.values() if d.dyad.respondent_role is RespondentRole.THERAPIST
    ]
    dyads = dict(state.dyads)
    for key, dyad in state.dyads.items():
        if dyad.dyad.respondent_role is RespondentRole.THERAPIST:
            continue
        gap = None
        for t in therapist_dyads:
            if t.dyad.therapist_id != dyad.dyad.therapist_id:
                continue
            shared = set(t.series) & set(dyad.series)
            for code in sorted(shared):
                gap = share_difference(
                    dyad.series[code][-1].normalized, t.series[code][-1].normalized
                )
        if gap != dyad.discrepancy:  # an unchanged dyad stays the same value
            dyads[key] = copy_with(dyad, discrepancy=gap)
    return copy_with(state, dyads=dyads)
