"""Waiting for what Tasklist and Operate show (they lag the engine a little)."""

from __future__ import annotations

import json
from typing import Any

from services.camunda_web import CamundaWeb, poll

__all__ = ["CamundaWeb", "instances_with_variable", "poll"]


def instances_with_variable(web: CamundaWeb, name: str, value: Any) -> set[int]:
    """Process instances (Operate) holding a variable with this exact JSON value."""
    response = web.send(
        "POST",
        "/v1/variables/search",
        json={"filter": {"name": name, "value": json.dumps(value)}, "size": 100},
    )
    response.raise_for_status()
    return {int(item["processInstanceKey"]) for item in response.json()["items"]}
