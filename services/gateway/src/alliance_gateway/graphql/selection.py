"""What an operation selects below a field, for a resolver that fetches nested data with its
parent in one statement (the case query fetches the timelines with the dyads when asked).

It walks the document's syntax tree: Strawberry's `Info.selected_fields` converts the whole
selection with its arguments on every call, which cost more than the query it decides."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import strawberry
from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    SelectionNode,
)


def _below(
    selections: Iterable[SelectionNode],
    fragments: Mapping[str, FragmentDefinitionNode],
    name: str,
    seen: frozenset[str],
) -> bool:
    for selection in selections:
        if isinstance(selection, FieldNode):
            if selection.name.value == name:
                return True
            below = selection.selection_set
        elif isinstance(selection, InlineFragmentNode):
            below = selection.selection_set
        elif isinstance(selection, FragmentSpreadNode):
            spread = selection.name.value
            if spread in seen or spread not in fragments:
                continue
            seen = seen | {spread}
            below = fragments[spread].selection_set
        else:
            continue
        if below is not None and _below(below.selections, fragments, name, seen):
            return True
    return False


def selects(info: strawberry.Info, name: str) -> bool:
    """Whether a field called `name` is selected anywhere below the resolver's field
    (fragments included)."""
    raw = info._raw_info
    return any(
        _below(node.selection_set.selections, raw.fragments, name, frozenset())
        for node in raw.field_nodes
        if node.selection_set is not None
    )
