"""Where a stack lives and what the launcher remembers about it.

State, data and logs live in one directory: $ALLIANCE_STACK_DIR (default: <repo>/.devstack),
logs under <dir>/logs/, what runs where in <dir>/state.json.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[4]
STACK_DIR = Path(os.environ.get("ALLIANCE_STACK_DIR", REPO / ".devstack")).resolve()
LOGS = STACK_DIR / "logs"
STATE_FILE = STACK_DIR / "state.json"
SERVICES = ("intake", "scoring", "alerts", "gateway")

# The state: {"kafka": {...}, "postgres": {...}, "services": {name: {"pid", "port"}},
# "webhook_key": ...}; JSON, so a later run (stop, status, env) finds what an earlier one started.
State = dict[str, Any]


def load_state() -> State:
    if STATE_FILE.exists():
        return dict(json.loads(STATE_FILE.read_text()))
    return {}


def save_state(state: State) -> None:
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    STATE_FILE.write_text(json.dumps(state, indent=2))


def log(msg: str) -> None:
    print(f"[devstack] {msg}", flush=True)
