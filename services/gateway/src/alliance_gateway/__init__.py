"""Gateway: the GraphQL read API over the read models (Strawberry on ASGI)."""
