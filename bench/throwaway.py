"""A benchmark's own stack: the project's launcher in a fresh temporary ALLIANCE_STACK_DIR, on
loopback and free ports, stopped at the end (also on error or timeout), the directory deleted
unless kept. A stack you already run is never touched."""

from __future__ import annotations

import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

from alliance_devstack.client import LaunchedStack, launched_stack


@contextlib.contextmanager
def throwaway_stack(
    prefix: str, deadline: float, keep: bool, extra_env: Mapping[str, str] | None = None
) -> Iterator[LaunchedStack]:
    directory = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        with launched_stack(
            directory,
            extra_env=extra_env,
            start_timeout=max(1.0, deadline - time.monotonic()),
            output=sys.stderr,
        ) as launched:
            yield launched
    finally:
        if keep:
            print(f"[bench] stack directory kept: {directory}", file=sys.stderr)
        else:
            shutil.rmtree(directory, ignore_errors=True)
