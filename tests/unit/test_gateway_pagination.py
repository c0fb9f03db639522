"""The one opaque cursor format of every GraphQL connection: round trips, refusals, and the
format the alert cursors always had (cursors issued before stay valid)."""

from __future__ import annotations

import base64
import json
import uuid
from datetime import UTC, datetime

import pytest

from alliance_gateway.application.request import UserError
from alliance_gateway.graphql.pagination import ALERTS, CASES, check_page

NOW = datetime(2026, 11, 25, 12, 0, tzinfo=UTC)
REFUSED = r"^after: not a cursor this API issued$"


def test_cursor_round_trip_and_rejection() -> None:
    alert_key = (NOW, uuid.uuid4())
    assert ALERTS.after(ALERTS.cursor(alert_key)) == alert_key
    assert CASES.after(CASES.cursor("case-17")) == "case-17"
    assert ALERTS.after(None) is None
    assert CASES.after(None) is None
    for keyset in (ALERTS, CASES):
        with pytest.raises(UserError, match=REFUSED):
            keyset.after("not-a-cursor")


def test_a_cursor_is_refused_by_another_listing_and_case_ids_are_not_cursors() -> None:
    with pytest.raises(UserError, match=REFUSED):
        ALERTS.after(CASES.cursor("case-17"))
    with pytest.raises(UserError, match=REFUSED):
        CASES.after(ALERTS.cursor((NOW, uuid.uuid4())))
    with pytest.raises(UserError, match=REFUSED):
        CASES.after("case-17")  # the raw case id the case cursors used to be


def test_malformed_keys_are_refused() -> None:
    def encoded(value: object) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).decode()

    for bad in (
        ["alert", NOW.isoformat()],
        ["alert", NOW.isoformat(), str(uuid.uuid4()), "extra"],
        ["alert", NOW.isoformat(), "not-a-uuid"],
        ["alert", 1, str(uuid.uuid4())],
        "alert",
        7,
    ):
        with pytest.raises(UserError, match=REFUSED):
            ALERTS.after(encoded(bad))
    with pytest.raises(UserError, match=REFUSED):
        CASES.after(encoded(["case", "a", "b"]))


def test_the_alert_cursor_format_is_unchanged() -> None:
    alert_id = uuid.uuid4()
    raw = json.dumps(["alert", NOW.isoformat(), str(alert_id)])
    issued_before = base64.urlsafe_b64encode(raw.encode()).decode()
    assert ALERTS.cursor((NOW, alert_id)) == issued_before
    assert ALERTS.after(issued_before) == (NOW, alert_id)


@pytest.mark.parametrize("first", [0, -1, 201])
def test_page_sizes_outside_1_to_200_are_refused(first: int) -> None:
    with pytest.raises(UserError, match=r"^first: must be between 1 and 200$"):
        check_page(first)
    check_page(1)
    check_page(200)
