from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from alliance_contracts.clinical_config import DEFAULT_CONFIG, ConfigVersion, in_force
from alliance_intake.domain.configuration import resolve

T = datetime(2026, 6, 1, tzinfo=UTC)


def version(n: int, days: int, split_gap: float) -> ConfigVersion:
    config = resolve(DEFAULT_CONFIG, {"split_gap": {"value": split_gap}})
    return ConfigVersion(n, T + timedelta(days=days), config)


def test_overrides_merge_into_nested_values_and_keep_the_rest() -> None:
    config = resolve(
        DEFAULT_CONFIG, {"alliance_cutoffs": {"SRS": {"value": 34}}, "oq_norm_set": "NL"}
    )
    assert config.alliance_cutoffs["SRS"].value == 34
    assert config.alliance_cutoffs["SRS"].source == "clinic configuration"
    assert config.alliance_cutoffs["SRS"].confidence == "U"
    assert config.alliance_cutoffs["CSRS"] == DEFAULT_CONFIG.alliance_cutoffs["CSRS"]
    assert config.norm_set().cutoff.value == 56


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"split_gapp": 1}, "split_gapp"),
        ({"oq_norm_set": "FR"}, "oq_norm_set"),
        ({"split_gap": {"value": "x"}}, "split_gap"),
    ],
)
def test_invalid_overrides_name_the_field(overrides: dict[str, object], field: str) -> None:
    with pytest.raises(ValidationError, match=field):
        resolve(DEFAULT_CONFIG, overrides)


def test_the_configuration_in_force_at_administration_among_the_stamped_versions() -> None:
    versions = [version(1, 0, 0.3), version(2, 10, 0.4)]
    assert in_force(versions, 2, T + timedelta(days=11)).split_gap.value == 0.4
    assert in_force(versions, 2, T + timedelta(days=5)).split_gap.value == 0.3  # before v2
    assert in_force(versions, 1, T + timedelta(days=11)).split_gap.value == 0.3  # stamped v1
    assert in_force(versions, 0, T + timedelta(days=11)) == DEFAULT_CONFIG
    assert in_force(versions, 2, T - timedelta(days=1)) == DEFAULT_CONFIG
