"""A secured Kafka (`start --brokers 3 --secure`): SASL/SCRAM-SHA-512 on the loopback client
listener, one principal per service, and the brokers' StandardAuthorizer refusing whatever no
ACL allows (docs/decisions/0026-kafka-principals-and-acls.md).

Passwords are generated per stack, once, into `<stack>/kafka/secrets/<user>.password` (mode
0600, the folder 0700): never in the repository, never in `env`'s output (it names the file).
The SCRAM credentials are written into the metadata log when the storage is formatted
(`--add-scram`); the provisioner creates the ACLs as the `admin` super user.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from alliance_devstack.state import SERVICES

MECHANISM = "SCRAM-SHA-512"
ADMIN = "admin"  # the provisioner's and the operator's principal: a super user
BROKER = "broker"  # the brokers among themselves (SCRAM, on the client listener)
CONTROLLER = "controller"  # the controller quorum's listener (PLAIN: SCRAM needs the metadata
# log, which the controllers serve)


def service_user(service: str) -> str:
    """The SASL user of a service (`alliance_contracts.kafka_acls.default_principal`)."""
    return f"alliance-{service}"


SCRAM_USERS = (BROKER, ADMIN, *(service_user(s) for s in SERVICES))


def password(secrets_dir: Path, user: str) -> str:
    """The user's password: made once, kept in a file only this OS user can read."""
    secrets_dir.mkdir(parents=True, exist_ok=True)
    secrets_dir.chmod(0o700)
    path = password_file(secrets_dir, user)
    if not path.exists():
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(secrets.token_urlsafe(24) + "\n")
    return path.read_text().strip()


def password_file(secrets_dir: Path, user: str) -> Path:
    return secrets_dir / f"{user}.password"


def format_args(secrets_dir: Path) -> list[str]:
    """`kafka-storage format` arguments that store every SCRAM credential at format time."""
    return [
        arg
        for user in SCRAM_USERS
        for arg in (
            "--add-scram",
            f"{MECHANISM}=[name={user},password={password(secrets_dir, user)}]",
        )
    ]


def secured_properties(port: int, cport: int, secrets_dir: Path) -> dict[str, str]:
    """What a node's server.properties changes to: SASL on both listeners, the authorizer,
    denial by default, the super users. (The file holds passwords: written with mode 0600.)"""
    scram = "org.apache.kafka.common.security.scram.ScramLoginModule"
    plain = "org.apache.kafka.common.security.plain.PlainLoginModule"
    broker_pw, controller_pw = password(secrets_dir, BROKER), password(secrets_dir, CONTROLLER)
    return {
        "listeners": f"SASL_PLAINTEXT://127.0.0.1:{port},CONTROLLER://127.0.0.1:{cport}",
        "advertised.listeners": f"SASL_PLAINTEXT://127.0.0.1:{port}",
        "inter.broker.listener.name": "SASL_PLAINTEXT",
        "listener.security.protocol.map": "CONTROLLER:SASL_PLAINTEXT,SASL_PLAINTEXT:SASL_PLAINTEXT",
        "sasl.enabled.mechanisms": MECHANISM,
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        "listener.name.sasl_plaintext.scram-sha-512.sasl.jaas.config": (
            f'{scram} required username="{BROKER}" password="{broker_pw}";'
        ),
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            f'{plain} required username="{CONTROLLER}" password="{controller_pw}" '
            f'user_{CONTROLLER}="{controller_pw}";'
        ),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{BROKER};User:{CONTROLLER};User:{ADMIN}",
    }


def client_env(kafka: dict[str, Any], user: str = ADMIN) -> dict[str, str]:
    """How a client of the stack logs in as `user` (nothing for an unsecured stack). `kafka` is
    the state's `kafka` entry, which names the secrets folder."""
    if not kafka.get("secure"):
        return {}
    return {
        "KAFKA_SECURITY_PROTOCOL": "SASL_PLAINTEXT",
        "KAFKA_SASL_MECHANISM": MECHANISM,
        "KAFKA_SASL_USERNAME": user,
        "KAFKA_SASL_PASSWORD_FILE": str(password_file(Path(kafka["secrets"]), user)),
    }


def service_client_env(kafka: dict[str, Any], service: str) -> dict[str, str]:
    """A service's own principal, and no other's."""
    return client_env(kafka, service_user(service))
