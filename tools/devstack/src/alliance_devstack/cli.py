"""Local stack launcher: real Apache Kafka (KRaft) and PostgreSQL without a Docker engine.

    python -m alliance_devstack start [--services] [--brokers 3 [--secure]]   # idempotent
                                           # --services: also the dev sign-in issuer
    python -m alliance_devstack status
    python -m alliance_devstack env        # shell exports for the running stack
    python -m alliance_devstack env --service intake   # ... as that service gets them
    python -m alliance_devstack stop       # stops what this launcher started
    python -m alliance_devstack reset      # stop, then delete data and logs

State, data and logs live in one directory: $ALLIANCE_STACK_DIR (default: <repo>/.devstack),
logs under <dir>/logs/. Everything binds 127.0.0.1 on free ports. The launcher itself needs only
the standard library; topic provisioning, database roles, schema migrations (before any service
starts) and the services run from the venv.
"""

from __future__ import annotations

import argparse
import shutil
import sys

from alliance_devstack.kafka import HOME as KAFKA_HOME
from alliance_devstack.kafka import start_kafka, stop_kafka
from alliance_devstack.postgres import postgres_home, start_postgres, stop_postgres
from alliance_devstack.prerequisites import Missing, ensure_chromium
from alliance_devstack.processes import alive
from alliance_devstack.services import (
    issuer_url,
    prepare_database_and_keys,
    provision_topics,
    reserve_issuer,
    service_env,
    stack_env,
    start_services,
    stop_services,
)
from alliance_devstack.state import (
    LOGS,
    SERVICES,
    STACK_DIR,
    STATE_FILE,
    State,
    load_state,
    log,
    save_state,
)


def start(state: State, services: bool, brokers: int = 1, secure: bool = False) -> None:
    ensure_chromium()
    reserve_issuer(state)
    start_postgres(state)
    start_kafka(state, brokers, secure)
    provision_topics(state)
    prepare_database_and_keys(state)
    if services:
        start_services(state)


def stop(state: State) -> None:
    stop_services(state)
    stop_kafka(state)
    stop_postgres(state)
    save_state(state)


def reset(state: State) -> None:
    """The only command that deletes data: the event log, the database and the logs."""
    stop(state)
    shutil.rmtree(KAFKA_HOME, ignore_errors=True)
    shutil.rmtree(postgres_home(), ignore_errors=True)
    shutil.rmtree(LOGS, ignore_errors=True)
    STATE_FILE.unlink(missing_ok=True)
    log(f"removed data and logs under {STACK_DIR}")


def status(state: State) -> int:
    rc = 0
    k, p = state.get("kafka", {}), state.get("postgres", {})
    nodes = k.get("nodes", [k] if k else [])
    kalive = bool(nodes) and all(alive(n.get("pid")) for n in nodes)
    for n in nodes:
        up = alive(n.get("pid"))
        print(
            f"kafka {n.get('node_id', 1):<3} {'running' if up else 'stopped'}"
            + (f"  pid={n['pid']} 127.0.0.1:{n['port']}" if up else "")
        )
    if not nodes:
        print("kafka     stopped")
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
    issuer = state.get("issuer", {})
    if "pid" in issuer:
        up = alive(issuer["pid"])
        print(
            f"{'issuer':<9} {'running' if up else 'stopped'}  pid={issuer['pid']} "
            f"{issuer_url(state)}  (dev sign-in, not for real data)"
        )
    print(f"logs      {LOGS}")
    return rc


def env(state: State, service: str | None = None) -> int:
    """The stack's exports, or one service's (its own database role, its keys): for running a
    service elsewhere than the launcher does, e.g. from its image (deploy/docker/check.sh)."""
    k = state.get("kafka", {})
    if not any(alive(n.get("pid")) for n in k.get("nodes", [k])):
        print("# stack is not running", file=sys.stderr)
        return 1
    for key, value in (service_env(state, service) if service else stack_env(state)).items():
        print(f"export {key}={value}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m alliance_devstack",
        description=__doc__,
        formatter_class=argparse.RawTextHelpFormatter,
    )
    parser.add_argument("command", choices=["start", "stop", "status", "env", "reset"])
    parser.add_argument(
        "--services",
        action="store_true",
        help="also start the four services and the dev sign-in issuer",
    )
    parser.add_argument("--service", choices=SERVICES, help="env: that service's environment")
    parser.add_argument(
        "--brokers",
        type=int,
        choices=[1, 3],
        default=None,
        help="Kafka nodes of a new stack: 1, or 3 (replication 3, two in sync); a stack keeps "
        "the size it was made with",
    )
    parser.add_argument(
        "--secure",
        action="store_true",
        help="a new stack's Kafka with SASL/SCRAM, one principal per service and ACLs "
        "(docs/operations.md); a stack keeps it",
    )
    args = parser.parse_args(argv)
    state = load_state()
    try:
        if args.command == "start":
            made = state.get("kafka", {})
            brokers = args.brokers or int(made.get("brokers", 1))
            start(state, args.services, brokers, args.secure or bool(made.get("secure")))
            return 0
        if args.command == "status":
            return status(state)
        if args.command == "env":
            return env(state, args.service)
        if args.command == "stop":
            stop(state)
            return 0
        if args.command == "reset":
            reset(state)
            return 0
    except Missing as exc:
        print(f"[devstack] ERROR: {exc}", file=sys.stderr)
        return 2
    return 1
