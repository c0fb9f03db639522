"""Completing the fields that are plain attributes without graphql-core's per-field machinery.

graphql-core executes every field of a result alike: resolve info, resolver, completion of the
value, a few microseconds each, hundreds of times for a case's scores. Most fields of the read
types are plain attributes of objects the resolvers already built (Strawberry's basic fields:
no resolver, no arguments, no field extensions). `PlannedExecution` plans, once per object type
and selection in an operation, which of its fields are such attributes and how to complete
each value (the same `coerce_output_value` of the field's type, the same null and list rules),
and completes them in a loop; every other field (a resolver, arguments, directives, an abstract
type) goes through graphql-core as before. A value that would be an error (null for a non-null
field, a value its scalar refuses, anything unexpected) makes the whole object go through
graphql-core, which reports it exactly as it always did.

Plans outlive the operation when its document has no directives: `ParserCache` hands every
request with the same text the same document, so a plan is keyed by its type and the AST nodes of
its selection (kept alive with it) and built once, not per request (`_SharedPlans`). A
document with a directive (`@skip(if: $x)` makes the selection depend on the variables) is
planned per operation, as before.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from graphql import (
    BREAK,
    GraphQLObjectType,
    GraphQLOutputType,
    GraphQLResolveInfo,
    is_leaf_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    visit,
)
from graphql.execution.collect_fields import FieldDetailsList, GroupedFieldSet
from graphql.language import Visitor
from graphql.pyutils import AwaitableOrValue, Path, Undefined, is_async_iterable, is_iterable
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

Completer = Callable[[Any], Any]


class _Unplanned(Exception):
    """A value the plan does not complete: graphql-core completes (or refuses) the object."""


@dataclass(frozen=True)
class _Plan:
    """An object type's fields for one selection: the plain ones (response name, attribute
    getter, completer) and the ones graphql-core executes, in the selection's order."""

    plain: tuple[tuple[str, Completer, Completer], ...]
    executed: GroupedFieldSet
    order: tuple[str, ...]

    def complete(self, source: Any) -> dict[str, Any]:
        return {name: complete(get(source)) for name, get, complete in self.plain}

    def merged(self, plain: dict[str, Any], executed: dict[str, Any]) -> dict[str, Any]:
        both = plain | executed
        return {name: both[name] for name in self.order if name in both}


def _typename(name: str) -> Completer:
    return lambda _source: name


# A plan's key: its object type and the AST nodes of its selection (by identity).
PlanKey = tuple[int, tuple[int, ...]]


class _SharedPlans:
    """Plans of directive-free documents, for every operation: each entry keeps its type and
    nodes alive, so their ids stay theirs. Bounded: when full it starts again (a gateway serves
    a few dozen documents; only an endless variety of ad-hoc queries would fill it)."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.plans: dict[PlanKey, tuple[object, _Plan | None]] = {}
        self.directive_free: dict[int, tuple[object, bool]] = {}

    def without_directives(self, operation: object, fragments: dict[str, Any]) -> bool:
        known = self.directive_free.get(id(operation))
        if known is None:
            free = not any(_has_directive(node) for node in (operation, *fragments.values()))
            if len(self.directive_free) >= self.limit:
                self.directive_free.clear()
            known = (operation, free)
            self.directive_free[id(operation)] = known
        return known[1]

    def get(self, key: PlanKey) -> tuple[object, _Plan | None] | None:
        return self.plans.get(key)

    def put(self, key: PlanKey, keep: object, plan: _Plan | None) -> None:
        if len(self.plans) >= self.limit:
            self.plans.clear()
        self.plans[key] = (keep, plan)


class _FindDirective(Visitor):
    def __init__(self) -> None:
        super().__init__()
        self.found = False

    def enter_directive(self, *_args: Any) -> object:
        self.found = True
        return BREAK


def _has_directive(node: Any) -> bool:
    finder = _FindDirective()
    visit(node, finder)
    return finder.found


SHARED_PLANS = _SharedPlans(limit=4096)


class PlannedExecution(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's execution context, completing plain attribute fields by plan."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # (type, id of the selection) -> (the selection, kept alive so its id stays its own;
        # the plan, or None where graphql-core does everything)
        self._plans: dict[tuple[GraphQLObjectType, int], tuple[FieldDetailsList, _Plan | None]]
        self._plans = {}

    def complete_object_value(
        self,
        return_type: GraphQLObjectType,
        field_details_list: FieldDetailsList,
        info: GraphQLResolveInfo[Any],
        path: Path,
        result: Any,
        position_context: Any,
    ) -> AwaitableOrValue[dict[str, Any]]:
        plan = self._plan(return_type, field_details_list)
        if plan is None:
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        try:
            plain = plan.complete(result)
        except Exception:  # an error, or a value not planned for: graphql-core's way
            return super().complete_object_value(
                return_type, field_details_list, info, path, result, position_context
            )
        if not plan.executed:
            return plain
        executed = self.execute_fields(return_type, result, path, plan.executed, position_context)
        if self.is_awaitable(executed):

            async def merged() -> dict[str, Any]:
                return plan.merged(plain, await executed)

            return merged()
        return plan.merged(plain, executed)  # type: ignore[arg-type]

    def _plan(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan | None:
        if SHARED_PLANS.without_directives(self.operation, self.fragment_definitions):
            nodes = tuple(detail.node for detail in field_details_list)
            shared_key = (id(return_type), tuple(id(node) for node in nodes))
            shared = SHARED_PLANS.get(shared_key)
            if shared is None:
                plan = self._make_plan(return_type, field_details_list)
                SHARED_PLANS.put(shared_key, (return_type, nodes), plan)
                return plan
            return shared[1]
        key = (return_type, id(field_details_list))
        known = self._plans.get(key)
        if known is None:
            known = (field_details_list, self._make_plan(return_type, field_details_list))
            self._plans[key] = known
        return known[1]

    def _make_plan(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> _Plan | None:
        if return_type.is_type_of is not None or self._resolves_through_middleware():
            return None
        grouped, defer_usages, _ = self.collect_subfields(return_type, field_details_list)
        if defer_usages:
            return None
        plain: list[tuple[str, Completer, Completer]] = []
        executed: GroupedFieldSet = {}
        for name, details in grouped.items():
            planned = self._plain_field(return_type, details)
            if planned is None:
                executed[name] = details
            else:
                plain.append((name, *planned))
        if not plain:
            return None
        return _Plan(tuple(plain), executed, tuple(grouped))

    def _resolves_through_middleware(self) -> bool:
        """A schema extension with a `resolve` hook must see every field."""
        manager = self.middleware_manager
        return manager is not None and bool(manager.middlewares)

    def _plain_field(
        self, parent: GraphQLObjectType, details: FieldDetailsList
    ) -> tuple[Completer, Completer] | None:
        """The attribute getter and the completer of a plain field; None for any other."""
        for detail in details:
            node = detail.node
            if detail.defer_usage or detail.fragment_variable_values or node.directives:
                return None
            if node.arguments:
                return None
        field_name = details[0].node.name.value
        if field_name == "__typename":
            return _typename(parent.name), _identity
        field = self.schema.get_field(parent, field_name)
        if field is None or field.args or not getattr(field.resolve, "_is_default", False):
            return None
        completer = self._completer(field.type, details)
        if completer is None:
            return None
        return _attribute(field.resolve), completer

    def _completer(self, type_: GraphQLOutputType, details: FieldDetailsList) -> Completer | None:
        """How graphql-core's `complete_value` completes a value of this type, for the types
        whose values complete without running anything: raises `_Unplanned` where it would
        report an error."""
        if is_non_null_type(type_):
            inner = self._completer(type_.of_type, details)
            return None if inner is None else _non_null(inner)
        if is_list_type(type_):
            item = self._completer(type_.of_type, details)
            return None if item is None else _list_of(item)
        if is_leaf_type(type_):
            return _leaf(type_.coerce_output_value)
        if is_object_type(type_):
            nested = self._plan(type_, details)
            if nested is None or nested.executed:
                return None
            return _object(nested)
        return None  # interfaces and unions: graphql-core resolves their type


def _attribute(resolve: Any) -> Completer:
    """Strawberry's resolver of a basic field: the attribute, it takes no info."""
    return lambda source: resolve(source, None)


def _identity(value: Any) -> Any:
    return value


def _absent(value: Any) -> bool:
    if isinstance(value, Exception):  # graphql-core raises it as the field's error
        raise _Unplanned
    return value is None or value is Undefined


def _non_null(inner: Completer) -> Completer:
    def complete(value: Any) -> Any:
        completed = inner(value)
        if completed is None:
            raise _Unplanned
        return completed

    return complete


def _list_of(item: Completer) -> Completer:
    def complete(value: Any) -> Any:
        if _absent(value):
            return None
        if is_async_iterable(value) or not is_iterable(value):
            raise _Unplanned
        return [item(v) for v in value]

    return complete


def _leaf(coerce: Callable[[Any], Any]) -> Completer:
    def complete(value: Any) -> Any:
        if _absent(value):
            return None
        coerced = coerce(value)
        if coerced is None or coerced is Undefined:
            raise _Unplanned
        return coerced

    return complete


def _object(plan: _Plan) -> Completer:
    def complete(value: Any) -> Any:
        return None if _absent(value) else plan.complete(value)

    return complete
