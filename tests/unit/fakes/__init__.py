"""In-memory units of work for the use cases' unit tests (the same protocols as the PostgreSQL
ones in each service's `adapters/unit_of_work.py`)."""
