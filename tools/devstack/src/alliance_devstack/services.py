"""What runs on top of the engines: topics, database roles, the local identity provider's keys,
the dev sign-in issuer (`issuer.py`) and the four services as processes. These steps run from
the project's virtualenv."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from alliance_devstack.kafka import bootstrap_servers
from alliance_devstack.prerequisites import Missing
from alliance_devstack.processes import (
    LOOPBACK,
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
ISSUER_PREFERRED_PORT = 8005
AUTH_DIR = STACK_DIR / "auth"
LOCAL_AUDIENCE = "alliance-local"
CONSOLE_CLIENT_ID = "alliance-console"
METRICS_TOKEN_FILE = AUTH_DIR / "metrics-token"


def service_url(state: State, name: str) -> str:
    return f"http://127.0.0.1:{state['services'][name]['port']}"


def reserve_issuer(state: State) -> None:
    """The dev issuer's port, chosen once per stack: its URL is the `iss` of every local token
    (what the services check and `./dev token` signs), also while the issuer is not running."""
    if "issuer" not in state:
        state["issuer"] = {"port": free_port(ISSUER_PREFERRED_PORT)}
        save_state(state)


def issuer_url(state: State) -> str:
    return f"http://{LOOPBACK}:{state['issuer']['port']}"


def stack_env(state: State) -> dict[str, str]:
    """What clients of the stack need (DATABASE_URL is the administrator's, and so is the Kafka
    principal of a secured stack). The services run as in production: RS256 tokens from the
    local identity provider's key (`./dev token`)."""
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": bootstrap_servers(state),
        **client_env(state["kafka"]),
        "DATABASE_URL": state["postgres"]["url"],
        "ALLIANCE_JWKS_FILE": str(AUTH_DIR / "jwks.json"),
        "ALLIANCE_JWT_ISSUER": issuer_url(state),
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
    if name == "gateway":  # where the console sends people to sign in
        env["ALLIANCE_CONSOLE_OIDC_ISSUER"] = issuer_url(state)
        env["ALLIANCE_CONSOLE_OIDC_CLIENT_ID"] = CONSOLE_CLIENT_ID
    return env


def issuer_process(
    env: Mapping[str, str],
    log_path: Path,
    *,
    port: int,
    redirect_uris: Sequence[str],
    detached: bool = False,
) -> ServiceProcess:
    """The dev sign-in issuer (`python -m alliance_devstack.issuer`) on `127.0.0.1:port`, for
    the console client with these redirect URIs; `env` names the signing key and audience."""
    return ServiceProcess(
        "issuer",
        {
            **env,
            "ALLIANCE_JWT_ISSUER": f"http://{LOOPBACK}:{port}",
            "ALLIANCE_CONSOLE_OIDC_CLIENT_ID": CONSOLE_CLIENT_ID,
            "ALLIANCE_DEV_ISSUER_REDIRECT_URIS": " ".join(redirect_uris),
        },
        log_path,
        port=port,
        argv=["-m", "alliance_devstack.issuer"],
        detached=detached,
    )


def start_issuer(state: State) -> None:
    """The dev issuer, before the services; the console's callback on the gateway is its one
    redirect URI."""
    issuer = state["issuer"]
    if alive(issuer.get("pid")):
        log(f"dev issuer already running (pid {issuer['pid']}, {issuer_url(state)})")
        return
    if free_port(issuer["port"]) != issuer["port"]:
        if any(alive(s.get("pid")) for s in state["services"].values()):
            raise Missing(f"the dev issuer's port {issuer['port']} is taken: ./dev down first")
        issuer["port"] = free_port()  # no running service trusts the old URL
    process = issuer_process(
        {**os.environ, **stack_env(state)},
        LOGS / "issuer.log",
        port=issuer["port"],
        redirect_uris=[f"{service_url(state, 'gateway')}/console/"],
        detached=True,
    )
    issuer["pid"] = process.start()
    save_state(state)
    try:
        process.wait_ready()
    except ServiceNotReady as exc:
        raise Missing(f"the dev issuer did not become ready; see {process.log_path}") from exc
    log(f"dev sign-in issuer ready at {issuer_url(state)} (not for real data)")


def start_services(state: State) -> None:
    services = state.setdefault("services", {})
    for name in SERVICES:  # every port first: the issuer's redirect URI names the gateway's
        if not alive(services.get(name, {}).get("pid")):
            services[name] = {"pid": None, "port": free_port(PREFERRED_PORTS[name])}
    start_issuer(state)
    for name in SERVICES:
        s = services[name]
        if alive(s["pid"]):
            log(f"{name} already running (pid {s['pid']}, {service_url(state, name)})")
            continue
        process = ServiceProcess(
            name,
            {**os.environ, **service_env(state, name)},
            LOGS / f"{name}.log",
            port=s["port"],
            detached=True,
        )
        s["pid"] = process.start()
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
    issuer = state.get("issuer", {})
    if stop_pid(issuer.pop("pid", None), timeout=15):
        log("stopped the dev issuer")  # its port stays the stack's: the tokens name its URL
