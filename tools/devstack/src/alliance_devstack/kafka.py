"""Apache Kafka (KRaft) from the Maven Central jars, no Docker engine: one node, or a cluster of
three (`start --brokers 3`), each node a broker and a controller, so that one can fail; with
`--secure`, SASL/SCRAM and ACLs (`scram.py`).

The jars are fetched once with Maven into a cache shared by every stack directory (tests use
throwaway ones). The event log is the system of record: nothing here deletes it (only `reset`).
A stack keeps the size it was made with; `start` on a running stack starts the nodes that are
not running (a fault test restarts a killed broker that way).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

from alliance_devstack.prerequisites import Missing, apt_install
from alliance_devstack.processes import alive, free_port, stop_pids
from alliance_devstack.scram import format_args, secured_properties
from alliance_devstack.state import LOGS, STACK_DIR, State, log, save_state

# The Kafka version (and its log4j binding) are pinned in this Maven project.
POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
LIBS_CACHE = Path(
    os.environ.get("ALLIANCE_CACHE_DIR", Path.home() / ".cache" / "alliance")
).resolve()
READY_LINE = "Kafka Server started"
HOME = STACK_DIR / "kafka"
SECRETS = HOME / "secrets"


def kafka_version() -> str:
    pom = POM.read_text()
    return pom.split("<kafka.version>")[1].split("</kafka.version>")[0]


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
            str(POM),
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


def server_properties(port: int, cport: int, data: Path) -> dict[str, str]:
    """One node alone: broker and controller, replication factor 1."""
    return {
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


def cluster_node_properties(node: Node, nodes: list[Node], data: Path) -> dict[str, str]:
    """A node of a cluster: every node a broker and a voter of the controller quorum (a static
    quorum: two of three keep it). Kafka's own topics are replicated three times and need two
    in sync, as `alliance_platform.provisioning` makes ours."""
    single = server_properties(node["port"], node["controller_port"], data)
    del single["controller.quorum.bootstrap.servers"]
    replicas, in_sync = str(min(3, len(nodes))), str(min(2, len(nodes)))
    voters = ",".join(f"{n['node_id']}@127.0.0.1:{n['controller_port']}" for n in nodes)
    return single | {
        "node.id": str(node["node_id"]),
        "controller.quorum.voters": voters,
        "offsets.topic.replication.factor": replicas,
        "transaction.state.log.replication.factor": replicas,
        "transaction.state.log.min.isr": in_sync,
        "share.coordinator.state.topic.replication.factor": replicas,
        "share.coordinator.state.topic.min.isr": in_sync,
        "default.replication.factor": replicas,
        "min.insync.replicas": in_sync,
    }


# A node as the state remembers it: node_id, port, controller_port, pid.
Node = dict[str, Any]


def bootstrap_servers(state: State) -> str:
    k = state["kafka"]
    return ",".join(f"127.0.0.1:{n['port']}" for n in k.get("nodes", [k]))


def _node_dir(node_id: int, brokers: int) -> Path:
    return HOME if brokers == 1 else HOME / f"node-{node_id}"


def _node_log(node_id: int, brokers: int) -> Path:
    return LOGS / ("kafka.log" if brokers == 1 else f"kafka-{node_id}.log")


def _planned_nodes(known: dict[int, Node], brokers: int, down: list[int]) -> list[Node]:
    """The nodes of the stack: those running as they are, those to start on the ports of the
    last run where they are free (the metadata log remembers the controllers' addresses, and
    the services the brokers')."""
    nodes = []
    for node_id in range(1, brokers + 1):
        last: Node = known.get(node_id, {})
        if node_id not in down:
            nodes.append(last)
            continue
        port, cport = free_port(last.get("port")), free_port(last.get("controller_port"))
        data = _node_dir(node_id, brokers) / "data"
        if data.exists() and (port, cport) != (last.get("port"), last.get("controller_port")):
            raise Missing(
                f"kafka node {node_id}'s ports from the last run (127.0.0.1:{last.get('port')} "
                f"and {last.get('controller_port')}) are taken by another process. Free them and "
                "run start again, or `python -m alliance_devstack reset` to start with an empty "
                f"event log (it deletes the data under {STACK_DIR})."
            )
        nodes.append({"node_id": node_id, "port": port, "controller_port": cport})
    return nodes


def start_kafka(state: State, brokers: int = 1, secure: bool = False) -> None:
    k = state.get("kafka", {})
    made_with = int(k.get("brokers", 1)) if k else brokers
    if made_with != brokers and HOME.exists():
        raise Missing(
            f"this stack's Kafka was made with {made_with} broker(s), not {brokers}: use "
            f"--brokers {made_with}, or `python -m alliance_devstack reset` first"
        )
    if HOME.exists() and bool(k.get("secure")) != secure:
        made = "with" if k.get("secure") else "without"
        raise Missing(f"this stack's Kafka was made {made} --secure: `reset` first to change it")
    known = {n["node_id"]: n for n in k.get("nodes", [])} or ({1: {**k, "node_id": 1}} if k else {})
    down = [i for i in range(1, brokers + 1) if not alive(known.get(i, {}).get("pid"))]
    if not down:
        log(f"kafka already running ({brokers} node(s), {bootstrap_servers(state)})")
        return
    libs = ensure_kafka_libs()
    nodes = _planned_nodes(known, brokers, down)
    cluster_id = k.get("cluster_id") or base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
    (HOME).mkdir(parents=True, exist_ok=True)
    (HOME / "log4j2.yaml").write_text(LOG4J2)
    LOGS.mkdir(parents=True, exist_ok=True)
    started = {}
    for node in nodes:
        if node["node_id"] in down:
            started[node["node_id"]] = _launch(libs, node, nodes, cluster_id, brokers, secure)
    deadline = time.monotonic() + 120  # a cluster elects its controller once a majority is up
    for node_id, proc in started.items():
        logfile = _node_log(node_id, brokers)
        while True:
            if proc.poll() is not None:
                raise Missing(f"kafka node {node_id} exited with {proc.returncode}; see {logfile}")
            if READY_LINE in logfile.read_text(errors="replace"):
                break
            if time.monotonic() > deadline:
                for p in started.values():
                    p.terminate()
                raise Missing(f"kafka node {node_id} did not start within 120 s; see {logfile}")
            time.sleep(0.3)
    for node in nodes:
        if node["node_id"] in started:
            node["pid"] = started[node["node_id"]].pid
    first = nodes[0]
    state["kafka"] = {
        "pid": first["pid"],
        "port": first["port"],
        "controller_port": first["controller_port"],
        "cluster_id": cluster_id,
        "version": kafka_version(),
        "brokers": brokers,
        "nodes": nodes,
        "secure": secure,
        "secrets": str(SECRETS),
    }
    save_state(state)
    pids = ", ".join(str(p.pid) for p in started.values())
    log(f"kafka {kafka_version()} started (pid {pids}, {bootstrap_servers(state)})")


def _launch(
    libs: Path, node: Node, nodes: list[Node], cluster_id: str, brokers: int, secure: bool
) -> subprocess.Popen[bytes]:
    """Formats the node's storage (once; a secured node's with the SCRAM credentials) and
    starts it."""
    home = _node_dir(node["node_id"], brokers)
    home.mkdir(parents=True, exist_ok=True)
    data = home / "data"
    if brokers == 1:
        properties = server_properties(node["port"], node["controller_port"], data)
        standalone = ["--standalone"]  # a quorum of one, from its bootstrap server
    else:
        properties = cluster_node_properties(node, nodes, data)
        standalone = []  # the voters are in the properties
    if secure:
        properties |= secured_properties(node["port"], node["controller_port"], SECRETS)
    config = home / "server.properties"
    config.touch()
    config.chmod(0o600)  # a secured node's holds the brokers' own passwords
    config.write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    classpath = f"{libs}/*"
    fmt = subprocess.run(
        [
            "java",
            "-cp",
            classpath,
            "kafka.tools.StorageTool",
            "format",
            *standalone,
            *(format_args(SECRETS) if secure else []),
            "--ignore-formatted",
            f"--cluster-id={cluster_id}",  # ids may start with "-"
            "-c",
            str(config),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise Missing(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
    with _node_log(node["node_id"], brokers).open("w") as out:
        return subprocess.Popen(
            [
                "java",
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={HOME / 'log4j2.yaml'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(config),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def stop_kafka(state: State) -> None:
    k = state.get("kafka", {})
    # All at once: one by one, the last nodes wait for a controller quorum that is gone.
    for pid in stop_pids([node.get("pid") for node in k.get("nodes", [k])]):
        log(f"stopped kafka (pid {pid})")
