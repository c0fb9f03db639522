"""The case states a generation's consumer committed last, kept in memory so that the next batch
of a case does not read its state back from `case_state` and validate it again
([decision 0021](../../../../../docs/decisions/0021-scoring-validate-at-edges.md)).

The database stays the truth: a state enters only after the transaction that wrote it
committed, one whose commit failed (its outcome unknown) is dropped, and everything is dropped
when the consumer's partitions are revoked or assigned (`Tracking.forget`), so a state another
consumer may have moved on is never used. A batch that began before such a drop puts nothing
back (the epoch). One per generation (its consumers are built per generation): a rebuild or a
switch never sees another generation's states.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterable

from alliance_scoring.application.ports import CaseKey
from alliance_scoring.domain.state import CaseState


class HotCases:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.epoch = 0  # moves on at every `forget`
        self._states: OrderedDict[CaseKey, CaseState] = OrderedDict()

    def __len__(self) -> int:
        return len(self._states)

    def get(self, keys: Iterable[CaseKey]) -> dict[CaseKey, CaseState]:
        """The ones held (the least recently used go first when full)."""
        found: dict[CaseKey, CaseState] = {}
        for key in keys:
            state = self._states.get(key)
            if state is not None:
                self._states.move_to_end(key)
                found[key] = state
        return found

    def put(self, states: Iterable[CaseState], epoch: int) -> None:
        """States a transaction that began at `epoch` committed."""
        if epoch != self.epoch:
            return  # a drop happened meanwhile: what it committed is read back when needed
        for state in states:
            key = (state.clinic_id, state.case_id)
            self._states[key] = state
            self._states.move_to_end(key)
        while len(self._states) > self.capacity:
            self._states.popitem(last=False)

    def drop(self, keys: Iterable[CaseKey]) -> None:
        for key in keys:
            self._states.pop(key, None)

    def forget(self) -> None:
        self.epoch += 1
        self._states.clear()
