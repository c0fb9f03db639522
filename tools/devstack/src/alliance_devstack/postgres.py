"""A throwaway PostgreSQL cluster from the Debian server binaries (installed when missing and we
are root), or the one DATABASE_URL names."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from alliance_devstack.prerequisites import Missing, apt_install
from alliance_devstack.processes import alive, free_port
from alliance_devstack.state import LOGS, STACK_DIR, State, log, save_state


def pg_bindir(install: bool = True) -> Path:
    for base in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (base / "initdb").exists():
            return base
    if not install:
        raise Missing("PostgreSQL was installed but no initdb is under /usr/lib/postgresql/*/bin")
    apt_install("postgresql", "PostgreSQL server binaries not found (or set DATABASE_URL)")
    return pg_bindir(install=False)


def postgres_home() -> Path:
    """Where the cluster lives: under the stack directory, unless (as root) the `postgres` user
    cannot reach it, as in a clone inside a 0700 directory; then in a directory of its own
    under the system's temporary directory, named after the stack directory."""
    home = STACK_DIR / "postgres"
    if os.geteuid() != 0 or all(d.stat().st_mode & 0o001 for d in STACK_DIR.parents):
        return home
    digest = hashlib.sha256(str(STACK_DIR).encode()).hexdigest()[:12]
    return Path(tempfile.gettempdir()) / f"alliance-postgres-{digest}"


def as_pg_user(cmd: list[str]) -> list[str]:
    # initdb and postgres refuse to run as root.
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def our_own(url: str, state: State) -> bool:
    """Whether `url` is the cluster this launcher started (an `eval "$(./dev env)"` exports
    it): that one stays ours to stop."""
    p = state.get("postgres", {})
    return not p.get("external") and bool(p.get("port")) and f":{p['port']}/" in url


def start_postgres(state: State) -> None:
    if os.environ.get("DATABASE_URL") and not our_own(os.environ["DATABASE_URL"], state):
        state["postgres"] = {"external": True, "url": os.environ["DATABASE_URL"]}
        save_state(state)
        log("using DATABASE_URL from the environment")
        return
    p = state.get("postgres", {})
    if p.get("pid") and alive(p["pid"]):
        log(f"postgres already running (pid {p['pid']}, 127.0.0.1:{p['port']})")
        return
    bindir = pg_bindir()
    home = postgres_home()
    data, sock = home / "data", home / "sock"
    home.mkdir(parents=True, exist_ok=True)
    sock.mkdir(exist_ok=True)
    LOGS.mkdir(parents=True, exist_ok=True)
    if os.geteuid() == 0:
        shutil.chown(home, "postgres")
        shutil.chown(sock, "postgres")
        os.chmod(STACK_DIR, 0o755)
        os.chmod(LOGS, 0o777)
    if not (data / "PG_VERSION").exists():
        initdb = [str(bindir / "initdb"), "-D", str(data), "-U", "alliance", "--auth=trust"]
        subprocess.run(
            as_pg_user([*initdb, "-E", "UTF8", "--no-instructions"]),
            check=True,
            capture_output=True,
        )
    port = free_port(p.get("port"))
    # pg_ctl opens the log as the postgres user: beside the cluster when it lives elsewhere.
    logfile = LOGS / "postgres.log" if home.parent == STACK_DIR else home / "postgres.log"
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -k {sock} -c max_connections=200 "
        "-c shared_buffers=256MB"
    )
    pg_ctl = [str(bindir / "pg_ctl"), "-D", str(data), "-l", str(logfile), "-o", options]
    result = subprocess.run(
        as_pg_user([*pg_ctl, "-w", "-t", "60", "start"]),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Missing(f"postgres did not start: {result.stdout}{result.stderr}; see {logfile}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    url = f"postgresql://alliance@127.0.0.1:{port}/alliance"
    createdb = [str(bindir / "createdb"), "-h", "127.0.0.1", "-p", str(port), "-U", "alliance"]
    subprocess.run(as_pg_user([*createdb, "alliance"]), capture_output=True, check=False)
    state["postgres"] = {
        "pid": pid,
        "port": port,
        "url": url,
        "bindir": str(bindir),
        "data": str(data),
    }
    save_state(state)
    log(f"postgres started (pid {pid}, {url})")


def stop_postgres(state: State) -> None:
    """Stops the cluster this launcher started (never an external one)."""
    p = state.get("postgres", {})
    if p.get("pid") and alive(p["pid"]):
        subprocess.run(
            as_pg_user([f"{p['bindir']}/pg_ctl", "-D", p["data"], "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        log(f"stopped postgres (pid {p['pid']})")
