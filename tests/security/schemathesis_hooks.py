"""Schemathesis hooks (SCHEMATHESIS_HOOKS=tests.security.schemathesis_hooks): every generated
request names the clinic the test token covers, so the fuzzing reaches past the 403 into the
code that stores writes."""

from __future__ import annotations

from typing import Any

import schemathesis

CLINIC = "fuzz-clinic"


@schemathesis.hook
def map_body(ctx: Any, body: Any) -> Any:
    if isinstance(body, dict) and "clinic_id" in body:
        body["clinic_id"] = CLINIC
    return body


@schemathesis.hook
def map_path_parameters(ctx: Any, path_parameters: Any) -> Any:
    if isinstance(path_parameters, dict) and "clinic_id" in path_parameters:
        path_parameters["clinic_id"] = CLINIC
    return path_parameters
