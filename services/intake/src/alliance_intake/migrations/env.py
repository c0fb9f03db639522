"""Alembic runs this file; the environment (schema, models, URL) comes from
`alliance_platform.migrate`, which is how every migration runs."""

from alliance_platform.migrate import run_environment

run_environment()
