"""The two load generators of the HTTP benchmarks, installed on first use, and their results.

- `wrk` (Debian's package): closed loop, `-c 16`, for the maximum rate. A Lua script
  (`bench/lua/post.lua`) POSTs a body per request from a template (`@@SEQ@@` becomes an id unique
  to the request) and counts the statuses.
- `vegeta` (`go install` of a pinned version into `~/.cache/alliance/bin`): open loop, paced at a
  fixed rate whatever the server does, for latency. A closed-loop client waits for each answer
  before it sends the next request, so a slow server slows the client down and hides its tail.

The anchor and Alliance are always driven by the same tool with the same settings.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

BIN_DIR = Path.home() / ".cache" / "alliance" / "bin"
VEGETA_MODULE = "github.com/tsenart/vegeta/v12"
VEGETA_VERSION = "v12.13.0"
WRK_SCRIPT = Path(__file__).resolve().parent / "lua" / "post.lua"
CONNECTIONS = 16
THREADS = 2  # the machine's cores; wrk runs one event loop per thread


def _say(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def ensure_wrk() -> str:
    """wrk from PATH, or Debian's package (as root) when missing."""
    found = shutil.which("wrk")
    if found:
        return found
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise RuntimeError("wrk is missing: install it (Debian: apt-get install -y wrk)")
    _say("installing wrk from Debian (apt-get install -y wrk)")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True, stdout=sys.stderr)
    found = shutil.which("wrk")
    if not found:
        raise RuntimeError("apt-get installed no wrk")
    return found


def ensure_vegeta() -> str:
    """The pinned vegeta in ~/.cache/alliance/bin, built with `go install` when missing."""
    binary = BIN_DIR / "vegeta"
    stamp = BIN_DIR / "vegeta.version"
    if binary.exists() and stamp.exists() and stamp.read_text().strip() == VEGETA_VERSION:
        return str(binary)
    go = shutil.which("go") or (
        "/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None
    )
    if go is None:
        raise RuntimeError(
            f"vegeta is missing and there is no Go toolchain to build it "
            f"(go install {VEGETA_MODULE}@{VEGETA_VERSION})"
        )
    BIN_DIR.mkdir(parents=True, exist_ok=True)
    _say(f"installing vegeta {VEGETA_VERSION} (go install) into {BIN_DIR}")
    subprocess.run(
        [go, "install", f"{VEGETA_MODULE}@{VEGETA_VERSION}"],
        env={**os.environ, "GOBIN": str(BIN_DIR)},
        check=True,
        stdout=sys.stderr,
        timeout=600,
    )
    stamp.write_text(VEGETA_VERSION + "\n")
    return str(binary)


def tool_versions() -> dict[str, str]:
    """What drove the load, for the result JSON."""
    versions: dict[str, str] = {"vegeta": VEGETA_VERSION}
    wrk = shutil.which("wrk")
    if wrk:
        out = subprocess.run([wrk, "-v"], capture_output=True, text=True, check=False)
        versions["wrk"] = (
            (out.stdout or out.stderr).splitlines()[0] if (out.stdout or out.stderr) else "?"
        )
    node = shutil.which("node")
    if node:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, check=False)
        versions["node"] = out.stdout.strip() or "?"
    return versions


@dataclass(frozen=True)
class Target:
    """What every request of a run sends: a POST to `url` with `headers`; the body is
    `body_template` with `@@SEQ@@` replaced by an id unique to the request."""

    url: str
    headers: Mapping[str, str]
    body_template: str

    def body(self, seq: str) -> str:
        return self.body_template.replace("@@SEQ@@", seq)


@dataclass
class LoadResult:
    tool: str
    mode: str  # "closed -c 16" or "open N/s"
    seconds: float
    requests: int
    rps: float
    p50_ms: float
    p95_ms: float | None
    p99_ms: float
    max_ms: float
    statuses: dict[str, int]
    errors: int  # connect/read/write/timeout errors (no status)
    cpu_s: dict[str, float] = field(default_factory=dict)
    rss_mib: float | None = None  # the server's, after all its loads (set on the closed loop)

    @property
    def non_2xx(self) -> int:
        return sum(n for code, n in self.statuses.items() if not code.startswith("2"))

    def as_json(self) -> dict[str, Any]:
        return asdict(self) | {"non_2xx": self.non_2xx}


def closed_loop(
    target: Target, seconds: float, run_id: str, connections: int = CONNECTIONS
) -> LoadResult:
    """wrk -c 16 for `seconds`."""
    wrk = ensure_wrk()
    with tempfile.TemporaryDirectory(prefix="alliance-wrk-") as tmp:
        body_file = Path(tmp) / "body.json"
        body_file.write_text(target.body_template)
        headers_file = Path(tmp) / "headers.txt"
        headers_file.write_text("".join(f"{k}: {v}\n" for k, v in target.headers.items()))
        env = {
            **os.environ,
            "BENCH_BODY_FILE": str(body_file),
            "BENCH_HEADERS_FILE": str(headers_file),
            "BENCH_RUN_ID": run_id,
        }
        out = subprocess.run(
            [
                wrk,
                f"-t{THREADS}",
                f"-c{connections}",
                f"-d{max(1, round(seconds))}s",
                "--timeout",
                "10s",
                "-s",
                str(WRK_SCRIPT),
                target.url,
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=seconds + 60,
        )
    line = next((ln for ln in out.stdout.splitlines() if ln.startswith("BENCH_RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{out.stdout}\n{out.stderr}")
    r = json.loads(line.removeprefix("BENCH_RESULT "))
    duration = r["duration_us"] / 1e6
    return LoadResult(
        tool="wrk",
        mode=f"closed -c {connections}",
        seconds=round(duration, 2),
        requests=r["requests"],
        rps=round(r["requests"] / duration, 1),
        p50_ms=r["p50_us"] / 1000,
        p95_ms=r["p95_us"] / 1000,
        p99_ms=r["p99_us"] / 1000,
        max_ms=r["max_us"] / 1000,
        statuses={str(k): int(v) for k, v in r["statuses"].items()},
        errors=sum(int(v) for v in r["errors"].values()),
    )


def open_loop(
    target: Target, rate: float, seconds: float, run_id: str, unique_bodies: bool = True
) -> LoadResult:
    """vegeta at `rate` requests/s for `seconds`, every request with its own body (when
    `unique_bodies`) from a targets file written beforehand, so building bodies costs nothing
    while it runs."""
    vegeta = ensure_vegeta()
    rate = max(1, round(rate))
    count = int(rate * seconds) + rate  # a second more than needed: the targets never repeat
    headers = {k: [v] for k, v in target.headers.items()} | {"Content-Type": ["application/json"]}
    with tempfile.TemporaryDirectory(prefix="alliance-vegeta-") as tmp:
        targets = Path(tmp) / "targets.jsonl"
        with targets.open("w") as f:
            for i in range(count if unique_bodies else 1):
                body = target.body(f"{run_id}-{i}").encode()
                f.write(
                    json.dumps(
                        {
                            "method": "POST",
                            "url": target.url,
                            "header": headers,
                            "body": base64.b64encode(body).decode(),
                        }
                    )
                    + "\n"
                )
        attack = subprocess.Popen(
            [
                vegeta,
                "attack",
                "-format=json",
                f"-targets={targets}",
                f"-rate={rate}/s",
                f"-duration={seconds}s",
                "-timeout=10s",
                "-keepalive=true",
            ],
            stdout=subprocess.PIPE,
        )
        report = subprocess.run(
            [vegeta, "report", "-type=json"],
            stdin=attack.stdout,
            capture_output=True,
            check=True,
            timeout=seconds + 60,
        )
        assert attack.stdout is not None
        attack.stdout.close()
        attack.wait(timeout=30)
    r = json.loads(report.stdout)
    lat = r["latencies"]
    statuses = {str(k): int(v) for k, v in r["status_codes"].items()}
    return LoadResult(
        tool="vegeta",
        mode=f"open {rate}/s",
        seconds=round(r["duration"] / 1e9, 2),
        requests=int(r["requests"]),
        rps=round(float(r["throughput"]), 1),
        p50_ms=lat["50th"] / 1e6,
        p95_ms=lat["95th"] / 1e6,
        p99_ms=lat["99th"] / 1e6,
        max_ms=lat["max"] / 1e6,
        statuses=statuses,
        errors=statuses.get("0", 0),
    )


def measured(
    run: Callable[[], LoadResult], meters: Mapping[str, Callable[[], float]]
) -> LoadResult:
    """Runs a load and records the CPU seconds each meter (a process) used meanwhile."""
    before = {name: m() for name, m in meters.items()}
    result = run()
    result.cpu_s = {name: round(m() - before[name], 3) for name, m in meters.items()}
    return result
