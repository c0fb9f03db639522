"""The Helm chart (deploy/helm/alliance) sets every environment variable the services read, or
says here why not; and it sets no name that no code reads. (Rendering and validating the chart
is deploy/helm/check.sh, which needs the helm binary.)"""

from __future__ import annotations

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from alliance_alerts.settings import AlertsSettings
from alliance_gateway.settings import GatewaySettings
from alliance_intake.settings import IntakeSettings
from alliance_platform.kafka import KafkaSecurity
from alliance_scoring.settings import ScoringSettings

CHART = Path(__file__).resolve().parents[2] / "deploy" / "helm" / "alliance"
NOT_IN_CHART = {
    "ALLIANCE_DEV_MODE": "development only: never in a cluster",
    "ALLIANCE_DEV_JWT_SECRET": "development only: never in a cluster",
    "ALLIANCE_WEBHOOK_KEYS": "a literal secret: the chart mounts ALLIANCE_WEBHOOK_KEYS_FILE",
    "KAFKA_SASL_PASSWORD": "a literal secret: the chart mounts KAFKA_SASL_PASSWORD_FILE",
    "ALLIANCE_CONSOLE_DIR": "where the image holds the built console: the image sets it",
}
# Read by the hook Jobs' commands (alliance_platform.dbroles), not by a settings class.
HOOK_ONLY = {"ALLIANCE_DB_ADMIN_URL"}
SET = re.compile(r"name: ((?:ALLIANCE|KAFKA)_[A-Z0-9_]*[A-Z0-9]|DATABASE_URL)\b")


def read_by_code() -> set[str]:
    found: set[str] = set()
    settings: tuple[type[BaseSettings], ...] = (
        IntakeSettings,
        ScoringSettings,
        AlertsSettings,
        GatewaySettings,
        KafkaSecurity,
    )
    for cls in settings:
        found |= {field.alias for field in cls.model_fields.values() if field.alias}
    return found


def templates() -> str:
    return "\n".join(p.read_text() for p in sorted((CHART / "templates").iterdir()))


def test_every_setting_is_mapped_by_the_chart() -> None:
    text, names = templates(), read_by_code()
    assert {"DATABASE_URL", "KAFKA_SASL_PASSWORD_FILE", "ALLIANCE_WEBHOOK_KEYS_FILE"} <= names
    missing = sorted(n for n in names - NOT_IN_CHART.keys() if f"name: {n}" not in text)
    assert not missing, f"deploy/helm/alliance sets none of {missing} (map them, or say why not)"


def test_the_chart_sets_only_what_the_code_reads() -> None:
    set_by_chart = set(SET.findall(templates()))
    assert len(set_by_chart) >= 30
    unknown = sorted(set_by_chart - read_by_code() - HOOK_ONLY)
    assert not unknown, f"deploy/helm/alliance sets {unknown}, which no code reads"
    assert not set_by_chart & NOT_IN_CHART.keys()


def test_every_value_is_documented_in_the_values_file() -> None:
    values = (CHART / "values.yaml").read_text()
    for name in read_by_code() - NOT_IN_CHART.keys() - {"ALLIANCE_HTTP_HOST", "ALLIANCE_HTTP_PORT"}:
        short = name.removeprefix("ALLIANCE_WEBHOOK")
        assert name in values or short in values, (
            f"values.yaml does not say which value sets {name}"
        )
