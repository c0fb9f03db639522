"""Pure upcasts: events already in the log, read in today's shape (docs/decisions/0007).

An upcast runs before validation, on the raw mapping, and leaves an event already in today's
shape as it is, so new events pay a dictionary lookup at most.
"""

from __future__ import annotations

from typing import Any

from alliance_contracts.vocabulary import SignalKind


def typed_fields_from_evidence(data: dict[str, Any]) -> dict[str, Any]:
    """Signals written before `series`, `split` and `phase_change` existed carry them in their
    first evidence's inputs only (docs/decisions/0007): derived from there, every reader sees
    one shape. A signal that has its fields is returned as it is."""
    kind, evidence = data.get("kind"), data.get("evidence")
    field = _EVIDENCE_FIELDS.get(str(kind))
    if field is None or field in data or not evidence:
        return data
    first = evidence[0]
    inputs = first.get("inputs") if isinstance(first, dict) else getattr(first, "inputs", None)
    if not isinstance(inputs, dict):
        return data
    derived: object = None
    if field == "series":
        derived = inputs.get("series")
    elif field == "split" and "child_dyad_id" in inputs and "parent_dyad_id" in inputs:
        derived = {
            "child_dyad_id": inputs["child_dyad_id"],
            "parent_dyad_id": inputs["parent_dyad_id"],
        }
    elif field == "phase_change" and "from" in inputs and "to" in inputs:
        derived = {"from_phase": inputs["from"], "to_phase": inputs["to"]}
    return {**data, field: derived}


_EVIDENCE_FIELDS: dict[str, str] = {
    SignalKind.DETERIORATED: "series",
    SignalKind.OFF_TRACK: "series",
    SignalKind.SPLIT_DETECTED: "split",
    SignalKind.PHASE_CHANGED: "phase_change",
}
