"""Query limits, checked before execution: depth, aliases, tokens and the query cost
(Strawberry has no cost limit of its own).

Every field costs 1; a field with a `first` argument multiplies the cost of what it selects by
that page size (a literal or a variable), and list fields without one by DEFAULT_LIST_SIZE.
So `alerts(first: 20) { edges { node { history { at } } } }` costs about 20 times its node (the
connection's `edges` is the page itself), `history` counting 10 entries.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLSchema,
    InlineFragmentNode,
    IntValueNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    ValidationRule,
    VariableNode,
)
from strawberry.extensions import (
    MaxAliasesLimiter,
    MaxTokensLimiter,
    QueryDepthLimiter,
    SchemaExtension,
)
from strawberry.schema.schema import validate_document

from alliance_contracts.events.audit import MAX_OPERATION_NAME
from alliance_gateway.application.request import UserError
from alliance_gateway.graphql.pagination import MAX_PAGE

DEFAULT_LIST_SIZE = 10
DEFAULT_PAGE = 50  # what a field with a `first` argument returns when it is not given
PAGED_FIELDS = frozenset({"alerts", "cases", "caseload", "signals", "auditTrail"})
# Fields that return lists without a `first` argument (their size is bounded by the data).
LIST_FIELDS = frozenset(
    {
        "dyads",
        "timeline",
        "ruptures",
        "evidence",
        "outcomes",
        "splits",
        "history",
        "raised",
        "active",
        "activeAlerts",
        "latest",
        "subscales",
        "reasons",
        "raisedByKind",
        "casesByPhase",
        "endings",
        "srsDistribution",
        "clinics",
    }
)


def _measure(
    document: DocumentNode,
    of_field: Callable[[FieldNode, int], int],
    combine: Callable[[list[int]], int],
) -> int:
    """Folds every operation's selection tree: `of_field(field, measure of its selection)`,
    siblings combined with `combine`; fragments count as if written out. Each fragment is
    measured once (memoised), so fragments spreading fragments cannot make this exponential.
    The dearest operation counts: one runs per request."""
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    measured: dict[str, int] = {}

    def measure(selection_set: SelectionSetNode | None, seen: frozenset[str]) -> int:
        values: list[int] = []
        for selection in selection_set.selections if selection_set else ():
            if isinstance(selection, FieldNode):
                values.append(of_field(selection, measure(selection.selection_set, seen)))
            elif isinstance(selection, InlineFragmentNode):
                values.append(measure(selection.selection_set, seen))
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                if name in fragments and name not in seen:  # cycles are invalid anyway
                    if name not in measured:
                        measured[name] = measure(fragments[name].selection_set, seen | {name})
                    values.append(measured[name])
        return combine(values)

    return max(
        (
            measure(d.selection_set, frozenset())
            for d in document.definitions
            if isinstance(d, OperationDefinitionNode)
        ),
        default=0,
    )


def query_depth(document: DocumentNode) -> int:
    """The deepest nesting of fields, introspection fields included (Strawberry's depth
    limiter skips those, so a deep `__schema { types { fields { type { ofType ... } } } }`
    would otherwise pass)."""
    return _measure(document, lambda _, below: 1 + below, lambda values: max(values, default=0))


def query_cost(
    document: DocumentNode, variables: Mapping[str, Any] | None, largest_page: int
) -> int:
    """`largest_page`: the page size assumed for a variable that is not given, and the most any
    page counts as. A page size below 1 counts as 1: the resolvers refuse it, and a negative
    one must not subtract from the estimate of the rest of the query."""
    variables = variables or {}

    def multiplier(field: FieldNode) -> int:
        for arg in field.arguments or ():
            if arg.name.value != "first":
                continue
            if isinstance(arg.value, IntValueNode):
                return _within(int(arg.value.value), largest_page)
            if isinstance(arg.value, VariableNode):
                given = variables.get(arg.value.name.value)
                return _within(given if isinstance(given, int) else largest_page, largest_page)
        if field.name.value in PAGED_FIELDS:
            return DEFAULT_PAGE
        if field.name.value in LIST_FIELDS:
            return DEFAULT_LIST_SIZE
        return 1

    return _measure(document, lambda field, below: 1 + multiplier(field) * below, sum)


def _within(page: int, largest: int) -> int:
    return max(1, min(page, largest))


def cost_rule(max_cost: int, largest_page: int) -> type[ASTValidationRule]:
    """Rejects, before execution, queries whose estimated cost exceeds `max_cost`. Page sizes
    given as variables count as the largest page (variables are not known at validation)."""

    class CostRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            cost = query_cost(context.document, None, largest_page)
            if cost > max_cost:
                context.report_error(
                    GraphQLError(f"query cost {cost} exceeds the limit of {max_cost}")
                )
            super().__init__(context)

    return CostRule


def total_depth_rule(max_depth: int = 15) -> type[ASTValidationRule]:
    """Limits the nesting of every field, introspection included (Strawberry's depth limiter
    skips introspection). The standard introspection query (GraphiQL's) is 15 deep."""

    class DepthRule(ValidationRule):
        def __init__(self, context: ValidationContext) -> None:
            depth = query_depth(context.document)
            if depth > max_depth:
                context.report_error(
                    GraphQLError(f"query depth {depth} exceeds the limit of {max_depth}")
                )
            super().__init__(context)

    return DepthRule


VALIDATED_DOCUMENTS = 256  # distinct documents whose verdict is remembered


class _Verdicts:
    """The validation errors of documents already validated, by (schema, document text,
    rules): the same text parses to the same document (and the token limit is the same for
    every request), so it gets the same verdict. Least recently used first out."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._seen: OrderedDict[tuple[object, ...], list[GraphQLError]] = OrderedDict()

    def of(
        self,
        schema: GraphQLSchema,
        query: str,
        document: DocumentNode,
        rules: tuple[type[ASTValidationRule], ...],
    ) -> list[GraphQLError]:
        key = (schema, query, rules)
        errors = self._seen.get(key)
        if errors is None:
            errors = validate_document(schema, document, rules)
            self._seen[key] = errors
            if len(self._seen) > self._size:
                self._seen.popitem(last=False)
        else:
            self._seen.move_to_end(key)
        return errors


_verdicts = _Verdicts(VALIDATED_DOCUMENTS)


class ValidateOnce(SchemaExtension):
    """Validates each distinct document once, with graphql's rules and the limits, and
    remembers the verdict (bounded, least recently used first out). The limit rules are built
    once per schema, so the cache key is the same for every request of one document: built per
    request, they were new classes each time and nothing was ever remembered."""

    def __init__(self, rules: tuple[type[ASTValidationRule], ...]) -> None:
        self.rules = rules

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        if context.pre_execution_errors is None and context.graphql_document is not None:
            rules = (*context.validation_rules, *self.rules)
            if context.query is not None:
                context.pre_execution_errors = _verdicts.of(
                    context.schema._schema, context.query, context.graphql_document, rules
                )
            else:  # a document given without its text: validated as it is
                context.pre_execution_errors = validate_document(
                    context.schema._schema, context.graphql_document, rules
                )
        yield


MAX_DOCUMENT_BYTES = 32 * 1024
MAX_VARIABLES_BYTES = 64 * 1024


def _too_large(
    query: str | None, operation: str | None, names: list[str], variables: object
) -> str | None:
    if query is not None and len(query.encode()) > MAX_DOCUMENT_BYTES:
        return f"query: the document must be at most {MAX_DOCUMENT_BYTES} bytes"
    if any(len(name) > MAX_OPERATION_NAME for name in [*names, operation or ""]):
        return f"operation name: must be at most {MAX_OPERATION_NAME} characters"
    if variables and len(json.dumps(variables, default=str).encode()) > MAX_VARIABLES_BYTES:
        return f"variables: must be at most {MAX_VARIABLES_BYTES} bytes as JSON"
    return None


class RequestLimits(SchemaExtension):
    """Refuses an operation whose document, operation name (given, or named in the document:
    it goes into the read audit) or variables are over their bounds (docs/limits.md), over HTTP
    and WebSockets alike. Checked before validation: parsing is already bounded by the body
    limit and the token limit. A refusal is an error for the client; nothing runs, so nothing
    is read or audited."""

    def on_validate(self) -> Iterator[None]:
        context = self.execution_context
        names = [
            d.name.value
            for d in (context.graphql_document.definitions if context.graphql_document else ())
            if isinstance(d, OperationDefinitionNode) and d.name
        ]
        if refusal := _too_large(context.query, context.operation_name, names, context.variables):
            # Errors set before validation are answered as they are (validation is skipped).
            error = GraphQLError(refusal, original_error=UserError(refusal))
            context.pre_execution_errors = [error]
        yield


def limits(max_cost: int) -> list[Callable[[], SchemaExtension] | type[SchemaExtension]]:
    """The schema extensions that refuse a query before it runs. The rules are built here,
    once: the validation of a document is remembered for the same rules (ValidateOnce)."""
    rules = (
        *QueryDepthLimiter(max_depth=10).validation_rules,
        *MaxAliasesLimiter(max_alias_count=30).validation_rules,
        cost_rule(max_cost, MAX_PAGE),
        total_depth_rule(),
    )
    return [
        RequestLimits,  # first: a refusal here skips validation
        lambda: MaxTokensLimiter(max_token_count=2000),
        lambda: ValidateOnce(rules),
    ]
