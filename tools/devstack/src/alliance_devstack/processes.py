"""Operating-system processes: free ports, whether a PID lives, stopping by PID, and a service
(`python -m alliance_<name>`) run as its own process until `/readyz` answers.

One helper for the launcher, the end-to-end fixtures and the bench.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path

LOOPBACK = "127.0.0.1"


def free_port(preferred: int | None = None) -> int:
    """`preferred` when nothing listens on it, otherwise a port the kernel picks as free."""
    if preferred:
        with socket.socket() as s:
            # As servers bind (Java's do): a port whose old connections linger in TIME_WAIT
            # after a crash is free; one that another process listens on is not.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind((LOOPBACK, preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind((LOOPBACK, 0))
        return int(s.getsockname()[1])


def alive(pid: int | None) -> bool:
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        return stat.split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def stop_pid(pid: int | None, timeout: float = 30) -> bool:
    """SIGTERM, then SIGKILL after `timeout` seconds; whether there was a process to stop.
    For a process this one did not start (the launcher stops what an earlier run started)."""
    return bool(stop_pids([pid], timeout))


def stop_pids(pids: Sequence[int | None], timeout: float = 30) -> list[int]:
    """`stop_pid` for several at once (SIGTERM to all, then one wait): the nodes of a cluster,
    which stop cleanly only while a majority of them is still up. Returns those there were."""
    running = [pid for pid in pids if pid is not None and alive(pid)]
    for pid in running:
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while any(alive(pid) for pid in running) and time.monotonic() < deadline:
        time.sleep(0.2)
    for pid in running:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)
    return running


def log_tail(path: Path, chars: int = 3000) -> str:
    try:
        return path.read_text(errors="replace")[-chars:]
    except OSError:
        return "(no log)"


def answers_ready(url: str) -> bool:
    """One probe: whether `<url>/readyz` answers 200."""
    try:
        with urllib.request.urlopen(f"{url}/readyz", timeout=2) as r:
            return bool(r.status == 200)
    except OSError:
        return False


class ServiceNotReady(RuntimeError):
    """The service exited, or did not answer `/readyz` in time; the message ends with its log."""


def wait_until_ready(name: str, url: str, pid: int, log_path: Path, timeout: float = 60) -> None:
    """Polls `<url>/readyz` until it answers 200 while `pid` lives."""
    deadline = time.monotonic() + timeout
    while not answers_ready(url):
        if not alive(pid):
            raise ServiceNotReady(f"{name} exited; {log_path}:\n{log_tail(log_path)}")
        if time.monotonic() > deadline:
            raise ServiceNotReady(
                f"{name} not ready within {timeout:g} s; {log_path}:\n{log_tail(log_path)}"
            )
        time.sleep(0.2)


class ServiceProcess:
    """One service as an OS process: `python -m alliance_<name>` (or `argv` after the
    interpreter) with `env`, on its own loopback port, logging to `log_path`. Restartable (on
    the same port), as the crash test does."""

    def __init__(
        self,
        name: str,
        env: Mapping[str, str],
        log_path: Path,
        *,
        port: int | None = None,
        argv: Sequence[str] | None = None,
        detached: bool = False,
    ) -> None:
        self.name = name
        self.port = port or free_port()
        self.env = {**env, "ALLIANCE_HTTP_PORT": str(self.port)}
        self.log_path = log_path
        self.argv = list(argv) if argv is not None else ["-m", f"alliance_{name}"]
        # Its own session: it outlives the launcher's process and the terminal's Ctrl-C.
        self.detached = detached
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.proc is not None, f"{self.name} was never started"
        return self.proc.pid

    def start(self, *, append_log: bool = True) -> int:
        """Starts the process (the log is appended to, or truncated); returns its PID."""
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab" if append_log else "wb") as log:
            self.proc = subprocess.Popen(
                [sys.executable, *self.argv],
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=self.detached,
            )
        return self.proc.pid

    def exit_code(self) -> int | None:
        """None while it runs."""
        return None if self.proc is None else self.proc.poll()

    def ready(self) -> bool:
        return answers_ready(self.url)

    def wait_ready(self, timeout: float = 60) -> None:
        wait_until_ready(self.name, self.url, self.pid, self.log_path, timeout)

    @contextmanager
    def running(self) -> Iterator[str]:
        """Started and ready, its URL; stopped on leaving."""
        self.start()
        try:
            self.wait_ready()
            yield self.url
        finally:
            self.stop()

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self, timeout: float = 20) -> int | None:
        """SIGTERM and wait; SIGKILL after `timeout` seconds. Returns the exit code, or None
        when it had to be killed (or was never started)."""
        if self.proc is None:
            return None
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None

    def log_tail(self, chars: int = 3000) -> str:
        return log_tail(self.log_path, chars)
