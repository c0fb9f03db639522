"""The alert rules and the Grafana dashboard (deploy/monitoring) name only metrics the services
export: a renamed metric would otherwise silently switch an alert off."""

from __future__ import annotations

import json
import re
from pathlib import Path

import yaml
from fastapi import FastAPI
from prometheus_client import REGISTRY

import alliance_alerts.entrypoints.metrics
import alliance_gateway.graphql.metrics
import alliance_platform.metrics
from alliance_platform.metrics import install_metrics

MONITORING = Path(__file__).parents[2] / "deploy" / "monitoring"
METRIC = re.compile(r"\b((?:alliance|http)_[a-z_]+)\b(?!:)")
# Prometheus' own per-target series.
SCRAPE_SERIES = {"up"}


def exported() -> set[str]:
    assert alliance_alerts.entrypoints.metrics.ALERT_TRANSITIONS
    assert alliance_gateway.graphql.metrics.OPERATIONS
    assert alliance_platform.metrics.CONSUMED
    install_metrics(FastAPI(), None)
    # Every series name the registry would expose, suffixes (_total, _bucket, ...) included,
    # whether or not a labelled metric has a sample yet.
    return set(REGISTRY._names_to_collectors)


def expressions() -> list[str]:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    found = [r["expr"] for group in rules["groups"] for r in group["rules"]]
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        found.extend(t["expr"] for t in panel.get("targets", []))
    return found


def test_rules_and_dashboard_name_only_exported_metrics() -> None:
    names = exported()
    used = {m for expr in expressions() for m in METRIC.findall(expr)}
    assert {"alliance_consumer_lag_records", "http_requests_total"} <= used
    unknown = sorted(used - names - SCRAPE_SERIES)
    assert not unknown, f"deploy/monitoring names metrics nobody exports: {unknown}"


def test_every_alert_has_a_runbook_section() -> None:
    rules = yaml.safe_load((MONITORING / "alerts.yml").read_text())
    operations = (Path(__file__).parents[2] / "docs" / "operations.md").read_text().lower()
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "alert" not in rule:
                continue
            runbook = rule["annotations"]["runbook"]
            assert runbook == f"docs/operations.md#{rule['alert'].lower()}"
            assert f"#### {rule['alert'].lower()}" in operations, rule["alert"]
