"""A single-node Apache Kafka (KRaft) from the Maven Central jars: no Docker engine.

The jars are fetched once with Maven into a cache shared by every stack directory (tests use
throwaway ones). The event log is the system of record: nothing here deletes it (only `reset`).
"""

from __future__ import annotations

import base64
import os
import shutil
import subprocess
import time
import uuid
from pathlib import Path

from alliance_devstack.prerequisites import Missing, apt_install
from alliance_devstack.processes import alive, free_port, stop_pid
from alliance_devstack.state import LOGS, STACK_DIR, State, log, save_state

# The Kafka version (and its log4j binding) are pinned in this Maven project.
POM = Path(__file__).resolve().parents[2] / "kafka" / "pom.xml"
LIBS_CACHE = Path(
    os.environ.get("ALLIANCE_CACHE_DIR", Path.home() / ".cache" / "alliance")
).resolve()
READY_LINE = "Kafka Server started"
HOME = STACK_DIR / "kafka"


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


def start_kafka(state: State) -> None:
    k = state.get("kafka", {})
    if alive(k.get("pid")):
        log(f"kafka already running (pid {k['pid']}, 127.0.0.1:{k['port']})")
        return
    libs = ensure_kafka_libs()
    HOME.mkdir(parents=True, exist_ok=True)
    # Reuse the last ports when they are free: the metadata log remembers the controller address.
    port, cport = free_port(k.get("port")), free_port(k.get("controller_port"))
    data = HOME / "data"
    properties = server_properties(port, cport, data)
    (HOME / "server.properties").write_text("".join(f"{k}={v}\n" for k, v in properties.items()))
    (HOME / "log4j2.yaml").write_text(LOG4J2)
    cluster_id = k.get("cluster_id") or base64.urlsafe_b64encode(uuid.uuid4().bytes).decode()[:22]
    if data.exists() and (port, cport) != (k.get("port"), k.get("controller_port")):
        # The metadata log remembers the controller's address, and the services the broker's:
        # never start over from nothing on our own (the topics are the system of record).
        raise Missing(
            f"kafka's ports from the last run (127.0.0.1:{k.get('port')} and "
            f"{k.get('controller_port')}) are taken by another process. Free them and run "
            "start again, or `python -m alliance_devstack reset` to start with an empty event "
            f"log (it deletes the data under {STACK_DIR})."
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
            str(HOME / "server.properties"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if fmt.returncode != 0:
        raise Missing(f"kafka storage format failed:\n{fmt.stdout}\n{fmt.stderr}")
    logfile = LOGS / "kafka.log"
    with logfile.open("w") as out:
        proc = subprocess.Popen(
            [
                "java",
                "-Xms256m",
                "-Xmx512m",
                "-XX:+UseG1GC",
                f"-Dlog4j2.configurationFile={HOME / 'log4j2.yaml'}",
                "-cp",
                classpath,
                "kafka.Kafka",
                str(HOME / "server.properties"),
            ],
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise Missing(f"kafka exited with {proc.returncode}; see {logfile}")
        if READY_LINE in logfile.read_text(errors="replace"):
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


def stop_kafka(state: State) -> None:
    pid = state.get("kafka", {}).get("pid")
    if stop_pid(pid):
        log(f"stopped kafka (pid {pid})")
