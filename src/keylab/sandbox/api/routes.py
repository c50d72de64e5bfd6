"""The `/v1` model routes of the sandbox (the platform's admin routes live in `keylab.sandbox.admin`)."""

from __future__ import annotations

from starlette.routing import Route

from keylab.sandbox.api import chat, models
from keylab.sandbox.api.common import endpoint

# Chat completions first: the router tries routes in order, and it is by far the most called.
ROUTES = [
    Route("/v1/chat/completions", endpoint(chat.create, scopes=("model.request", "api.model.request")),
          methods=["POST"]),
    Route("/v1/models", endpoint(models.list_models, scopes=("model.read", "api.model.read")), methods=["GET"]),
    Route("/v1/models/{model:path}", endpoint(models.retrieve_model, scopes=("model.read", "api.model.read")),
          methods=["GET"]),
]
