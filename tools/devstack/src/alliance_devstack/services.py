"""What runs on top of the engines: topics, database roles, the local identity provider's keys,
and the four services as processes. These steps run from the project's virtualenv."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys

from alliance_devstack.kafka import bootstrap_servers
from alliance_devstack.prerequisites import Missing
from alliance_devstack.processes import (
    ServiceNotReady,
    ServiceProcess,
    alive,
    free_port,
    stop_pid,
    wait_until_ready,
)
from alliance_devstack.scram import client_env, service_client_env
from alliance_devstack.state import LOGS, SERVICES, STACK_DIR, State, log, save_state

# Ports tried first for the services so the demo URLs are memorable; any free port otherwise.
PREFERRED_PORTS = {"intake": 8001, "scoring": 8002, "alerts": 8003, "gateway": 8004}
AUTH_DIR = STACK_DIR / "auth"
LOCAL_ISSUER = "https://idp.alliance.local"
LOCAL_AUDIENCE = "alliance-local"
METRICS_TOKEN_FILE = AUTH_DIR / "metrics-token"


def service_url(state: State, name: str) -> str:
    return f"http://127.0.0.1:{state['services'][name]['port']}"


def stack_env(state: State) -> dict[str, str]:
    """What clients of the stack need (DATABASE_URL is the administrator's, and so is the Kafka
    principal of a secured stack). The services run as in production: RS256 tokens from the
    local identity provider's key (`./dev token`)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(state),
        **client_env(state["kafka"]),
        "DATABASE_URL": state["postgres"]["url"],
        "ALLIANCE_JWKS_FILE": str(AUTH_DIR / "jwks.json"),
        "ALLIANCE_JWT_ISSUER": LOCAL_ISSUER,
        "ALLIANCE_JWT_AUDIENCE": LOCAL_AUDIENCE,
        "ALLIANCE_DEV_SIGNING_KEY_FILE": str(AUTH_DIR / "signing-key.json"),
        # The services serve /metrics to this bearer token (scrapers read the same file).
        "ALLIANCE_METRICS_TOKEN_FILE": str(METRICS_TOKEN_FILE),
    }
    for name in SERVICES:
        if name in state.get("services", {}):
            env[f"ALLIANCE_{name.upper()}_URL"] = service_url(state, name)
    return env


def venv_module(state: State, module: str, *args: str, what: str) -> str:
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
            f"`uv run python -m alliance_devstack start`):\n{result.stderr}"
        )
    return result.stdout.strip()


def provision_topics(state: State) -> None:
    """The topics; on a secured stack also each service principal's ACLs."""
    acls = ["--acls"] if state["kafka"].get("secure") else []
    log(venv_module(state, "alliance_platform.provisioning", *acls, what="topic provisioning"))


def prepare_database_and_keys(state: State) -> None:
    """One PostgreSQL role per service (alliance_platform.dbroles), the schemas of record at
    their migrations' head (alliance_platform.migrate, before any service starts), the local
    identity provider's signing key and JWKS, the metrics scrape token, and the key that seals
    webhook secrets. Idempotent."""
    log(venv_module(state, "alliance_platform.dbroles", what="database roles"))
    log(venv_module(state, "alliance_platform.migrate", "upgrade", what="schema migrations"))
    venv_module(state, "alliance_platform.devtoken", "--init", str(AUTH_DIR), what="signing key")
    if not METRICS_TOKEN_FILE.exists():
        METRICS_TOKEN_FILE.touch(mode=0o600)
        METRICS_TOKEN_FILE.write_text(secrets.token_urlsafe(32))
    if "webhook_key" not in state:
        state["webhook_key"] = base64.b64encode(secrets.token_bytes(32)).decode()
        save_state(state)


def service_env(state: State, name: str) -> dict[str, str]:
    from alliance_platform.dbroles import service_url as database_url  # the venv is there now

    env = {
        **stack_env(state),
        "DATABASE_URL": database_url(state["postgres"]["url"], name),
        **service_client_env(state["kafka"], name),  # its own Kafka principal, no other's
    }
    if name == "alerts":
        env["ALLIANCE_WEBHOOK_KEYS"] = f"local:{state['webhook_key']}"
    return env


def start_services(state: State) -> None:
    services = state.setdefault("services", {})
    for name in SERVICES:
        s = services.get(name, {})
        if alive(s.get("pid")):
            log(f"{name} already running (pid {s['pid']}, {service_url(state, name)})")
            continue
        process = ServiceProcess(
            name,
            {**os.environ, **service_env(state, name)},
            LOGS / f"{name}.log",
            port=free_port(PREFERRED_PORTS[name]),
            detached=True,
        )
        services[name] = {"pid": process.start(), "port": process.port}
        save_state(state)
    for name in SERVICES:
        url, log_path = service_url(state, name), LOGS / f"{name}.log"
        try:
            wait_until_ready(name, url, services[name]["pid"], log_path)
        except ServiceNotReady as exc:
            raise Missing(f"{name} did not become ready; see {log_path}") from exc
        log(f"{name} ready at {url}")


def stop_services(state: State) -> None:
    for name, s in state.get("services", {}).items():
        if stop_pid(s.get("pid"), timeout=15):
            log(f"stopped {name} (pid {s['pid']})")
    state.pop("services", None)
