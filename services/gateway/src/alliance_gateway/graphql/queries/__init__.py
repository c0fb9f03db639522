"""The root query, merged from one query type per area. The order of the merge is the order of
the fields in the SDL, as it has always been (the committed SDL must not drift)."""

from __future__ import annotations

from strawberry.tools import merge_types

from alliance_gateway.graphql.queries.alerts import AlertQuery
from alliance_gateway.graphql.queries.audit import AuditQuery
from alliance_gateway.graphql.queries.cases import CaseQueries
from alliance_gateway.graphql.queries.digests import DigestQuery
from alliance_gateway.graphql.queries.summaries import SummaryQueries

Query = merge_types("Query", (DigestQuery, SummaryQueries, AuditQuery, CaseQueries, AlertQuery))
