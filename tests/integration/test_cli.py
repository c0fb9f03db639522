"""The operator CLI on the real engines, run as an operator runs it (a process, `--json`)."""

from __future__ import annotations

from collections.abc import Callable

from alliance_contracts.topics import CONFIG
from alliance_platform.dead_letters import Source
from alliance_platform.kafka import event_headers
from tests.helpers import alliance, create_projection_tables, put_dead_letter
from tests.integration.test_consumption import configured
from tests.stack import Endpoints


async def test_status_shows_each_projection_its_live_generation_and_the_outboxes(
    stack: Endpoints,
) -> None:
    await create_projection_tables(stack, "scoring")
    code, status, errors = await alliance(stack, "status")
    assert code == 0, errors
    scoring = next(p for p in status["projections"] if p["projection"] == "scoring")
    [live] = [g for g in scoring["generations"] if g["state"] == "live"]
    assert scoring["live"] == live["number"]
    assert {p["topic"] for p in live["partitions"]} == {
        "alliance.responses.v1",
        "alliance.config.v1",
    }
    assert all(p["lag"] == p["end"] - p["position"] >= 0 for p in live["partitions"])
    assert "intake" in {o["schema"] for o in status["outboxes"]}
    assert status["dead_letters"] >= 0


async def test_a_dead_letter_is_listed_shown_and_redriven_once(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    clinic = ids("clinic")
    event = configured(clinic, 1)
    source = Source(
        CONFIG.name, 0, 10**9, clinic.encode(), event.model_dump_json().encode(),
        tuple(event_headers(event)),
    )  # fmt: skip
    partition, offset = await put_dead_letter(
        stack.kafka_bootstrap_servers, source, "processing failed: OSError"
    )
    pointer = f"{partition}/{offset}"

    code, listed, _ = await alliance(stack, "dlq", "list", "--service", "scoring")
    assert code == 0
    [entry] = [e for e in listed if e["pointer"] == pointer]
    assert entry["reason"] == "processing failed: OSError"
    assert entry["source"] == f"{CONFIG.name}/0/{10**9}"
    assert entry["event_type"] == "clinic.configured"

    code, shown, _ = await alliance(stack, "dlq", "show", pointer)
    assert code == 0
    assert shown["body"] == event.model_dump_json()
    assert shown["headers"]["dlq_service"] == "scoring"

    assert (await alliance(stack, "dlq", "redrive", pointer))[1]["outcome"] == "sent"
    assert (await alliance(stack, "dlq", "redrive", pointer))[1]["outcome"] == "already redriven"


async def test_a_redrive_that_would_fail_again_is_refused_unless_forced(
    stack: Endpoints, ids: Callable[[str], str]
) -> None:
    broken = Source(CONFIG.name, 0, 0, ids("clinic").encode(), b'{"event_type": "nonsense"}')
    partition, offset = await put_dead_letter(
        stack.kafka_bootstrap_servers, broken, "invalid event: payload: Field required"
    )
    code, _, errors = await alliance(stack, "dlq", "redrive", f"{partition}/{offset}")
    assert code == 1
    assert "refused" in errors
    assert "--force" in errors
    forced = await alliance(stack, "dlq", "redrive", f"{partition}/{offset}", "--force")
    assert forced[1]["outcome"] == "sent"


async def test_an_engine_out_of_reach_is_named_with_exit_code_3(stack: Endpoints) -> None:
    code, _, errors = await alliance(stack, "status", "--kafka", "127.0.0.1:1")
    assert code == 3
    assert "cannot reach Kafka at 127.0.0.1:1" in errors
    code, _, errors = await alliance(
        stack, "status", "--database-url", "postgresql://nobody@127.0.0.1:1/none"
    )
    assert code == 3
    assert "cannot reach PostgreSQL at 127.0.0.1:1/none" in errors
    assert "nobody" not in errors  # no credentials in the message
    code, _, errors = await alliance(stack, "dlq", "list", "--kafka", "127.0.0.1:1")
    assert code == 3
    assert "cannot reach Kafka" in errors
    code, _, errors = await alliance(stack, "rebuild", "nothing-of-that-name")
    assert code == 1
    assert "no projection named 'nothing-of-that-name'" in errors
