"""A process's memory from /proc: resident now (VmRSS) and its peak (VmHWM), in MiB."""

from __future__ import annotations

import contextlib
from pathlib import Path


def memory_mib(pid: int) -> dict[str, float]:
    """{"rss": VmRSS, "hwm": VmHWM} in MiB; empty when the process is gone."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):  # "  123456 kB"
                out["rss" if key == "VmRSS" else "hwm"] = round(int(value.split()[0]) / 1024, 1)
    return out
