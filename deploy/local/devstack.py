#!/usr/bin/env python3
"""Local stack launcher: real Apache Kafka (KRaft) and PostgreSQL without a Docker engine.

    python deploy/local/devstack.py start [--services]   # idempotent
    python deploy/local/devstack.py status
    python deploy/local/devstack.py env        # shell exports for the running stack
    python deploy/local/devstack.py stop       # stops what this launcher started
    python deploy/local/devstack.py reset      # stop, then delete data and logs

State, data and logs live in one directory: $ALLIANCE_STACK_DIR (default: <repo>/.devstack),
logs under <dir>/logs/. Everything binds 127.0.0.1 on free ports. Standard library only, so it
runs before the virtualenv exists; topic provisioning and the services run from the venv.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
KAFKA_POM_DIR = REPO / "deploy" / "local" / "kafka"
STACK_DIR = Path(os.environ.get("ALLIANCE_STACK_DIR", REPO / ".devstack")).resolve()
LOGS = STACK_DIR / "logs"
STATE_FILE = STACK_DIR / "state.json"
# The broker's jars are shared by every stack directory (tests use throwaway ones).
LIBS_CACHE = Path(
    os.environ.get("ALLIANCE_CACHE_DIR", Path.home() / ".cache" / "alliance")
).resolve()
KAFKA_READY_LINE = "Kafka Server started"
SERVICES = ("intake", "scoring", "alerts", "gateway")
# Ports tried first for the services so the demo URLs are memorable; any free port otherwise.
PREFERRED_PORTS = {"intake": 8001, "scoring": 8002, "alerts": 8003, "gateway": 8004}


class Missing(RuntimeError):
    """A prerequisite is missing; the message says how to fix it."""


def kafka_version() -> str:
    pom = (KAFKA_POM_DIR / "pom.xml").read_text()
    return pom.split("<kafka.version>")[1].split("</kafka.version>")[0]


def free_port(preferred: int | None = None) -> int:
    if preferred:
        with socket.socket() as s:
            # As servers bind (Java's do): a port whose old connections linger in TIME_WAIT
            # after a crash is free; one that another process listens on is not.
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                s.bind(("127.0.0.1", preferred))
                return preferred
            except OSError:
                pass
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
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


def load_state() -> dict[str, Any]:
    if STATE_FILE.exists():
        return dict(json.loads(STATE_FILE.read_text()))
    return {}


def save_state(state: dict[str, Any]) -> None:
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(state, indent=2))


def log(msg: str) -> None:
    print(f"[devstack] {msg}", flush=True)


def apt_install(package: str, why: str) -> None:
    """Installs a Debian package when we may (root with apt-get); otherwise says how to."""
    if os.geteuid() != 0 or not shutil.which("apt-get"):
        raise Missing(f"{why}: apt-get install -y {package}")
    log(f"{why}; installing the Debian package {package}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
    result = subprocess.run(
        ["apt-get", "install", "-y", "-q", package],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Missing(f"{why}; apt-get install -y {package} failed:\n{result.stderr[-2000:]}")


# ---------------------------------------------------------------- Kafka


def ensure_kafka_libs() -> Path:
    version = kafka_version()
    libs = LIBS_CACHE / f"kafka-libs-{version}"
    if libs.exists() and any(libs.glob("kafka_2.13-*.jar")):
        return libs
    if not shutil.which("java"):
        apt_install("openjdk-17-jre-headless", "Java 17+ is needed for Kafka")
    if not shutil.which("mvn"):
        apt_install("maven", "Maven is needed to fetch the Kafka jars")
    log(f"fetching Apache Kafka {version} jars from Maven Central (once)")
    libs.parent.mkdir(parents=True, exist_ok=True)
    tmp = libs.with_suffix(".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    result = subprocess.run(
        [
            "mvn",
            "-q",
            "-B",
            "-f",
            str(KAFKA_POM_DIR / "pom.xml"),
            "dependency:copy-dependencies",
            "-DincludeScope=runtime",
            f"-DoutputDirectory={tmp}",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Missing(f"mvn could not fetch the Kafka jars:\n{result.stdout}\n{result.stderr}")
    tmp.rename(libs)
    return libs


LOG4J2 = """Configuration:
  Appenders:
    Console:
      name: STDOUT
      PatternLayout:
        Pattern: "[%d] %p %m (%c)%n"
  Loggers:
    Root:
      level: INFO
      AppenderRef:
        - ref: STDOUT
    Logger:
      - name: kafka
        level: INFO
      - name: org.apache.kafka
        level: WARN
      - name: state.change.logger
        level: WARN
"""


def start_kafka(state: dict[str, Any]) -> None:
    k = state.get("kafka", {})
    if alive(k.get("pid")):
        log(f"kafka already running (pid {k['pid']}, 127.0.0.1:{k['port']})")
        return
    libs = ensure_kafka_libs()
    home = STACK_DIR / "kafka"
    home.mkdir(parents=True, exist_ok=True)
    # Reuse the last ports when they are free: the metadata log remembers the controller address.
    port, cport = free_port(k.get("port")), free_port(k.get("controller_port"))
    data = home / "data"
    props = {
        "process.roles": "broker,controller",
        "node.id": "1",
        "listeners": f"PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"PLAINTEXT://127.0.0.1:{port}",
        "controller.listener.names": "CONTROLLER",
        "controller.quorum.bootstrap.servers": f"127.0.0.1:{cport}",
        "inter.broker.listener.name": "PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT",
        "log.dirs": str(data),
        "offsets.topic.replication.factor": "1",
        "offsets.topic.num.partitions": "1",
        "transaction.state.log.replication.factor": "1",
        "transaction.state.log.min.isr": "1",
        "share.coordinator.state.topic.replication.factor": "1",
        "share.coordinator.state.topic.min.isr": "1",
        "group.initial.rebalance.delay.ms": "0",
        "num.network.threads": "2",
        "num.io.threads": "2",
        # Topics are provisioned explicitly (alliance_platform.provisioning), never by accident.
        "auto.create.topics.enable": "false",
    }
    (home / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in props.items()))
    (home / "log4j2.yaml").write_text(LOG4J2)
    cluster_id = k.get("cluster_id") or base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
    if data.exists() and (port, cport) != (k.get("port"), k.get("controller_port")):
        # The metadata log remembers the controller's address, and the services the broker's:
        # never start over from nothing on our own (the topics are the system of record).
        raise Missing(
            f"kafka's ports from the last run (127.0.0.1:{k.get('port')} and "
            f"{k.get('controller_port')}) are taken by another process. Free them and run "
            "start again, or `devstack.py reset` to start with an empty event log (it deletes "
            f"the data under {STACK_DIR})."
        )
    classpath = f"{libs}/*"
    LOGS.mkdir(parents=True, exist_ok=True)
    fmt = subprocess.run(
        [
            "java",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            "--standalone",
            "--ignore-formatted",
            f"--cluster-id={cluster_id}",  # ids may start with "-"
            "-c",
            str(home / "server.properties"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise Missing(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
    logfile = LOGS / "kafka.log"
    out = logfile.open("w")
    proc = subprocess.Popen(
        [
            "java",
            "-Xms256m",
            "-Xmx512m",
            "-XX:+UseG1GC",
            f"-Dlog4j2.configurationFile={home / 'log4j2.yaml'}",
            "-cp",
            classpath,
            "kafka.Kafka",
            str(home / "server.properties"),
        ],
        stdout=out,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Missing(f"kafka exited with {proc.returncode}; see {logfile}")
        if KAFKA_READY_LINE in logfile.read_text(errors="replace"):
            break
        time.sleep(0.3)
    else:
        proc.terminate()
        raise Missing(f"kafka did not start within 90 s; see {logfile}")
    state["kafka"] = {
        "pid": proc.pid,
        "port": port,
        "controller_port": cport,
        "cluster_id": cluster_id,
        "version": kafka_version(),
    }
    save_state(state)
    log(f"kafka {kafka_version()} started (pid {proc.pid}, 127.0.0.1:{port})")


# ---------------------------------------------------------------- PostgreSQL


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


def our_own(url: str, state: dict[str, Any]) -> bool:
    """Whether `url` is the cluster this launcher started (an `eval "$(./dev env)"` exports
    it): that one stays ours to stop."""
    p = state.get("postgres", {})
    return not p.get("external") and bool(p.get("port")) and f":{p['port']}/" in url


def start_postgres(state: dict[str, Any]) -> None:
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
        subprocess.run(
            as_pg_user(
                [
                    str(bindir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "alliance",
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-instructions",
                ]
            ),
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
    result = subprocess.run(
        as_pg_user(
            [
                str(bindir / "pg_ctl"),
                "-D",
                str(data),
                "-l",
                str(logfile),
                "-o",
                options,
                "-w",
                "-t",
                "60",
                "start",
            ]
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Missing(f"postgres did not start: {result.stdout}{result.stderr}; see {logfile}")
    pid = int((data / "postmaster.pid").read_text().split()[0])
    url = f"postgresql://alliance@127.0.0.1:{port}/alliance"
    subprocess.run(
        as_pg_user(
            [
                str(bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(port),
                "-U",
                "alliance",
                "alliance",
            ]
        ),
        capture_output=True,
        check=False,
    )
    state["postgres"] = {
        "pid": pid,
        "port": port,
        "url": url,
        "bindir": str(bindir),
        "data": str(data),
    }
    save_state(state)
    log(f"postgres started (pid {pid}, {url})")


# ---------------------------------------------------------------- topics and services


AUTH_DIR = STACK_DIR / "auth"
LOCAL_ISSUER = "https://idp.alliance.local"
LOCAL_AUDIENCE = "alliance-local"


def stack_env(state: dict[str, Any]) -> dict[str, str]:
    """What clients of the stack need (DATABASE_URL is the administrator's). The services run
    as in production: RS256 tokens from the local identity provider's key (`./dev token`)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": f"127.0.0.1:{state['kafka']['port']}",
        "DATABASE_URL": state["postgres"]["url"],
        "ALLIANCE_JWKS_FILE": str(AUTH_DIR / "jwks.json"),
        "ALLIANCE_JWT_ISSUER": LOCAL_ISSUER,
        "ALLIANCE_JWT_AUDIENCE": LOCAL_AUDIENCE,
        "ALLIANCE_DEV_SIGNING_KEY_FILE": str(AUTH_DIR / "signing-key.json"),
    }
    for name in SERVICES:
        if name in state.get("services", {}):
            env[f"ALLIANCE_{name.upper()}_URL"] = (
                f"http://127.0.0.1:{state['services'][name]['port']}"
            )
    return env


def venv_module(state: dict[str, Any], module: str, *args: str, what: str) -> str:
    """Runs `python -m module` from the project's virtualenv against the stack."""
    result = subprocess.run(
        [sys.executable, "-m", module, *args],
        env={**os.environ, **stack_env(state)},
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        raise Missing(
            f"{what} failed (run the launcher with the project venv: "
            f"`uv run python deploy/local/devstack.py start`):\n{result.stderr}"
        )
    return result.stdout.strip()


def prepare_database_and_keys(state: dict[str, Any]) -> None:
    """One PostgreSQL role per service (alliance_platform.dbroles), the local identity provider's
    signing key and JWKS, and the key that seals webhook secrets. Idempotent."""
    log(venv_module(state, "alliance_platform.dbroles", what="database roles"))
    venv_module(state, "alliance_platform.devtoken", "--init", str(AUTH_DIR), what="signing key")
    if "webhook_key" not in state:
        state["webhook_key"] = base64.b64encode(secrets.token_bytes(32)).decode()
        save_state(state)


def service_env(state: dict[str, Any], name: str) -> dict[str, str]:
    from alliance_platform.dbroles import service_url  # the venv is there once services start

    env = {**stack_env(state), "DATABASE_URL": service_url(state["postgres"]["url"], name)}
    if name == "alerts":
        env["ALLIANCE_WEBHOOK_KEYS"] = f"local:{state['webhook_key']}"
    return env


def provision_topics(state: dict[str, Any]) -> None:
    log(venv_module(state, "alliance_platform.provisioning", what="topic provisioning"))


def start_services(state: dict[str, Any]) -> None:
    services = state.setdefault("services", {})
    for name in SERVICES:
        s = services.get(name, {})
        if alive(s.get("pid")):
            log(f"{name} already running (pid {s['pid']}, http://127.0.0.1:{s['port']})")
            continue
        port = free_port(PREFERRED_PORTS[name])
        env = {**os.environ, **service_env(state, name), "ALLIANCE_HTTP_PORT": str(port)}
        out = (LOGS / f"{name}.log").open("a")
        proc = subprocess.Popen(
            [sys.executable, "-m", f"alliance_{name}"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        services[name] = {"pid": proc.pid, "port": port}
        save_state(state)
    for name in SERVICES:
        url = f"http://127.0.0.1:{services[name]['port']}/readyz"
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2) as r:
                    if r.status == 200:
                        break
            except OSError:
                pass
            if not alive(services[name]["pid"]) or time.monotonic() > deadline:
                raise Missing(f"{name} did not become ready; see {LOGS / (name + '.log')}")
            time.sleep(0.3)
        log(f"{name} ready at http://127.0.0.1:{services[name]['port']}")


def stop_pid(pid: int | None, name: str, timeout: float = 30) -> None:
    if not alive(pid):
        return
    assert pid is not None
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while alive(pid) and time.monotonic() < deadline:
        time.sleep(0.2)
    if alive(pid):
        os.kill(pid, signal.SIGKILL)
    log(f"stopped {name} (pid {pid})")


def stop(state: dict[str, Any]) -> None:
    for name, s in state.get("services", {}).items():
        stop_pid(s.get("pid"), name, timeout=15)
    state.pop("services", None)
    stop_pid(state.get("kafka", {}).get("pid"), "kafka")
    p = state.get("postgres", {})
    if p.get("pid") and alive(p["pid"]):
        subprocess.run(
            as_pg_user([f"{p['bindir']}/pg_ctl", "-D", p["data"], "-m", "fast", "-w", "stop"]),
            capture_output=True,
            check=False,
        )
        log(f"stopped postgres (pid {p['pid']})")
    save_state(state)


def status(state: dict[str, Any]) -> int:
    rc = 0
    k, p = state.get("kafka", {}), state.get("postgres", {})
    kalive = alive(k.get("pid"))
    print(
        f"kafka     {'running' if kalive else 'stopped'}"
        + (f"  pid={k['pid']} bootstrap=127.0.0.1:{k['port']}" if kalive else "")
    )
    if p.get("external"):
        print("postgres  external (DATABASE_URL)")
    else:
        palive = alive(p.get("pid"))
        rc |= 0 if palive else 1
        print(
            f"postgres  {'running' if palive else 'stopped'}"
            + (f"  pid={p['pid']} url={p['url']}" if palive else "")
        )
    rc |= 0 if kalive else 1
    for name, s in state.get("services", {}).items():
        up = alive(s.get("pid"))
        print(
            f"{name:<9} {'running' if up else 'stopped'}  pid={s['pid']} "
            f"http://127.0.0.1:{s['port']}"
        )
    print(f"logs      {LOGS}")
    return rc


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("command", choices=["start", "stop", "status", "env", "reset"])
    parser.add_argument("--services", action="store_true", help="also start the four services")
    args = parser.parse_args()
    state = load_state()
    try:
        if args.command == "start":
            start_postgres(state)
            start_kafka(state)
            provision_topics(state)
            prepare_database_and_keys(state)
            if args.services:
                start_services(state)
            return 0
        if args.command == "status":
            return status(state)
        if args.command == "env":
            if not alive(state.get("kafka", {}).get("pid")):
                print("# stack is not running", file=sys.stderr)
                return 1
            for key, value in stack_env(state).items():
                print(f"export {key}={value}")
            return 0
        if args.command in ("stop", "reset"):
            stop(state)
            if args.command == "reset":
                shutil.rmtree(STACK_DIR / "kafka", ignore_errors=True)
                shutil.rmtree(postgres_home(), ignore_errors=True)
                shutil.rmtree(LOGS, ignore_errors=True)
                STATE_FILE.unlink(missing_ok=True)
                log(f"removed data and logs under {STACK_DIR}")
            return 0
    except Missing as exc:
        print(f"[devstack] ERROR: {exc}", file=sys.stderr)
        return 2
    return 1


if __name__ == "__main__":
    sys.exit(main())
