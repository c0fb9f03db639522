"""The read-model contract: the tables the owners write and the gateway reads (`tables.py`), and
the typed shape of each of their JSON columns (`documents.py`)."""

from alliance_contracts.readmodels.tables import (
    Alert,
    AlertTransition,
    CaseAssignment,
    CaseView,
    Dyad,
    DyadScore,
    Signal,
    table_of,
)

__all__ = [
    "Alert",
    "AlertTransition",
    "CaseAssignment",
    "CaseView",
    "Dyad",
    "DyadScore",
    "Signal",
    "table_of",
]
