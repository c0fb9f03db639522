"""The gateway's use cases: what a caller may read and do, and what each read or command
means (scoping decisions, repair rate, digest counts, command acceptance). The GraphQL layer
maps their results; the adapters run their SQL."""
