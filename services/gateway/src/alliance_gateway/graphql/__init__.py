"""The GraphQL API (Strawberry): output types per area (`types/`), the root query merged from
one query type per area (`queries/`), mutations, the subscription, pagination, the query-cost
limits and the schema assembly. Resolvers only map: the use cases are in `application/`."""
