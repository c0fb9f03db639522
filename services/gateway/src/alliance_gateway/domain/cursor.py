"""Opaque keyset cursors: a position in an ordering, not an offset (stable under inserts)."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from datetime import datetime


class InvalidCursor(ValueError):
    pass


@dataclass(frozen=True)
class AlertCursor:
    """Position in alerts ordered by (raised_at desc, alert_id desc)."""

    raised_at: datetime
    alert_id: uuid.UUID

    def encode(self) -> str:
        raw = json.dumps(["alert", self.raised_at.isoformat(), str(self.alert_id)])
        return base64.urlsafe_b64encode(raw.encode()).decode()

    @classmethod
    def decode(cls, cursor: str) -> AlertCursor:
        try:
            kind, raised_at, alert_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
            if kind != "alert":
                raise ValueError(kind)
            return cls(datetime.fromisoformat(raised_at), uuid.UUID(alert_id))
        except (ValueError, TypeError) as exc:
            raise InvalidCursor("after: not a cursor this API issued") from exc
