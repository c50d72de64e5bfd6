"""`GET /v1/models` and `GET /v1/models/{id}`: the catalogue is the dated price table."""

from __future__ import annotations

from typing import Any

from starlette.responses import Response

from keylab.pricing import ModelPrice, current_models, get_model
from keylab.sandbox.api.common import Call
from keylab.sandbox.errors import ApiError


def _model(row: ModelPrice) -> dict[str, Any]:
    return {
        "id": row.id,
        "object": "model",
        "created": row.created,
        "owned_by": "system",
        "shutdown_date": row.shutdown_date.isoformat() if row.shutdown_date else None,
    }


async def list_models(call: Call) -> Response:
    rows = current_models(call.state.clock.today())
    return call.json({"object": "list", "data": [_model(row) for row in rows]})


async def retrieve_model(call: Call) -> Response:
    model_id = call.request.path_params["model"]
    row = get_model(model_id)
    if row is None or row.id != model_id or row.is_shut_down(call.state.clock.today()):
        raise ApiError("model_not_found", model=model_id)
    return call.json(_model(row))
