"""What was measured on what: the machine, the source revision, and CPU seconds per process
(from /proc)."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]


def source_revision() -> dict[str, Any]:
    """The commit measured, and the files of scoring and shared that differ from it."""
    import alliance_scoring

    def git(*args: str) -> str:
        result = subprocess.run(
            ["git", "-C", str(REPO), *args], capture_output=True, text=True, check=False
        )
        return result.stdout.rstrip()

    changed = git("status", "--porcelain", "--", "shared", "services/scoring/src")
    return {
        "commit": git("rev-parse", "--short", "HEAD") or "unknown (not a git checkout)",
        "scoring_package": str(Path(alliance_scoring.__file__).parent),
        "uncommitted": [line[3:] for line in changed.splitlines()],
    }


def machine() -> dict[str, Any]:
    model = "unknown"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    ram_gib = 0.0
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                ram_gib = round(int(line.split()[1]) / 1024**2, 1)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model,
        "ram_gib": ram_gib,
        "python": platform.python_version(),
        "kernel": platform.release(),
    }


CLK_TCK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> list[str] | None:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def cpu_seconds(pid: int, with_children: bool = False) -> float:
    """utime+stime of a process (fields 14-15 of /proc/<pid>/stat); with_children adds the
    reaped children (cutime+cstime) and the live ones (PostgreSQL's backends)."""
    rest = _stat(pid)
    if rest is None:
        return 0.0
    fields = (11, 12, 13, 14) if with_children else (11, 12)
    ticks = sum(int(rest[i]) for i in fields)
    if with_children:
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                child = _stat(int(entry.name))
                if child is not None and child[1] == str(pid):
                    ticks += int(child[11]) + int(child[12])
    return ticks / CLK_TCK


def machine_busy_seconds() -> float:
    """CPU seconds the whole machine spent busy (all CPUs), from /proc/stat."""
    try:
        fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    except (OSError, ValueError):
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (fields + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / CLK_TCK


@dataclass
class CpuMeter:
    """CPU seconds used by the bench itself, Kafka, PostgreSQL, (if running) scoring, and the
    whole machine."""

    kafka_pid: int
    postgres_pid: int
    scoring_pid: int | None = None

    def snapshot(self) -> dict[str, float]:
        snap = {
            "bench": time.process_time(),
            "kafka": cpu_seconds(self.kafka_pid),
            "postgres": cpu_seconds(self.postgres_pid, with_children=True),
        }
        if self.scoring_pid is not None:
            snap["scoring"] = cpu_seconds(self.scoring_pid)
        snap["machine"] = machine_busy_seconds()
        return snap

    @staticmethod
    def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        """Per component; `other` is what the rest of the machine used meanwhile (other
        processes: a busy neighbour makes the rates unreliable)."""
        d = {k: after[k] - before.get(k, 0.0) for k in after}
        d["other"] = d.pop("machine") - sum(d.values())
        return {k: round(v, 2) for k, v in d.items()}


def memory_mib(pid: int) -> dict[str, float]:
    """A process's memory now (VmRSS, "rss") and at its peak (VmHWM, "hwm"), in MiB; empty when
    the process is gone."""
    out: dict[str, float] = {}
    with contextlib.suppress(OSError, ValueError, IndexError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM"):  # "  123456 kB"
                out["rss" if key == "VmRSS" else "hwm"] = round(int(value.split()[0]) / 1024, 1)
    return out
