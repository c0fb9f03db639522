"""Values the docs repeat from the code: each service README names its real consumer groups,
and every settings table gives the real default. So they cannot drift again."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from faststream.kafka import KafkaBroker
from pydantic_settings import BaseSettings

from alliance_alerts.entrypoints.consumers import build_consumers as alerts_consumers
from alliance_alerts.entrypoints.consumers import subscribe_deliveries
from alliance_alerts.settings import AlertsSettings
from alliance_contracts.timing import utc_now
from alliance_gateway.settings import GatewaySettings
from alliance_intake.entrypoints.http import build_broker as intake_broker
from alliance_intake.settings import IntakeSettings
from alliance_platform.projector import documentation_runtime
from alliance_platform.runtime import Runtime
from alliance_scoring.entrypoints.app import build_consumers as scoring_consumers
from alliance_scoring.settings import ScoringSettings

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "README.md", *(REPO / "docs").glob("*.md"), *(REPO / "services").glob("*/README.md")]
ROW = re.compile(r"^\| `(ALLIANCE_[A-Z0-9_]+)` \| ([^|]+?) \|", re.M)


def brokers() -> dict[str, KafkaBroker]:
    """Each service's subscribers; a projection generation's groups as the docs name them
    (`scoring-g<N>`: the catalog gives each generation its own)."""
    alerts = alerts_consumers(AlertsSettings(), documentation_runtime("alerts")).broker
    subscribe_deliveries(alerts, AlertsSettings(), Runtime())
    return {
        "intake": intake_broker(IntakeSettings(), Runtime(), utc_now),
        "scoring": scoring_consumers(ScoringSettings(), documentation_runtime("scoring")).broker,
        "alerts": alerts,
    }


@pytest.mark.parametrize("service", ["intake", "scoring", "alerts"])
def test_each_readme_names_the_consumer_groups_in_use(service: str) -> None:
    readme = (REPO / "services" / service / "README.md").read_text()
    groups = {getattr(s, "group_id", None) for s in brokers()[service].subscribers} - {None}
    assert groups
    for group in groups:
        assert f"`{group}`" in readme, f"{service}/README.md does not name group {group}"
    named = set(re.findall(rf"`({service}-[a-z0-9<>N-]+)`", readme))
    assert named <= groups | {f"{service}-relay"}, f"{service}/README.md names {named - groups}"


def defaults() -> dict[str, object]:
    found: dict[str, object] = {}
    for settings in (IntakeSettings, ScoringSettings, AlertsSettings, GatewaySettings):
        assert issubclass(settings, BaseSettings)
        for field in settings.model_fields.values():
            if field.alias:
                found[field.alias] = field.default
    return found


def test_every_settings_table_gives_the_real_default() -> None:
    known = defaults()
    checked = 0
    for doc in DOCS:
        for name, cell in ROW.findall(doc.read_text()):
            if name not in known or not re.fullmatch(r"[0-9.]+|\(none\)", cell.strip()):
                continue  # a description, not a default
            expected = known[name]
            shown = None if cell.strip() == "(none)" else float(cell)
            assert shown == (expected if expected in (None, "") else float(str(expected))) or (
                shown is None and expected in (None, "")
            ), f"{doc.relative_to(REPO)}: {name} shows {cell.strip()}, the code has {expected}"
            checked += 1
    assert checked >= 10
