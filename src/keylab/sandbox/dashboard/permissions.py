"""The "Permissions" part of the Create new secret key dialog, and the scope strings it produces.

All = every scope (stored as `[]`, as the API does); Read only = `api.all.read`; Restricted = one
choice per resource among None / Read / Write / Request (help.openai.com 8867743; scope strings from
facts.md §4). A Restricted key with only Responses: Write fails with "Missing scopes: model.request"
(a known trap): Model capabilities must be set to Request too.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Resource:
    field: str
    label: str
    endpoints: str
    levels: dict[str, tuple[str, ...]]  # level label -> scopes it grants (None grants nothing)


RESOURCES: tuple[Resource, ...] = (
    Resource("models", "List models", "/v1/models",
             {"None": (), "Read": ("model.read", "api.model.read")}),
    Resource("model_capabilities", "Model capabilities", "/v1/chat/completions, /v1/responses, /v1/embeddings …",
             {"None": (), "Request": ("model.request", "api.model.request")}),
    Resource("responses", "Responses", "/v1/responses",
             {"None": (), "Read": ("api.responses.read",), "Write": ("api.responses.write",)}),
    Resource("assistants", "Assistants", "/v1/assistants",
             {"None": (), "Read": ("api.assistants.read",), "Write": ("api.assistants.write",)}),
    Resource("threads", "Threads", "/v1/threads",
             {"None": (), "Read": ("api.threads.read",), "Write": ("api.threads.write",)}),
    Resource("fine_tuning", "Fine-tuning", "/v1/fine_tuning",
             {"None": (), "Read": ("api.fine_tuning.jobs.read",), "Write": ("api.fine_tuning.jobs.write",)}),
    Resource("files", "Files", "/v1/files",
             {"None": (), "Read": ("api.files.read",), "Write": ("api.files.write",)}),
    Resource("realtime", "Realtime", "/v1/realtime", {"None": (), "Write": ("api.realtime.write",)}),
    Resource("audio", "Audio", "/v1/audio", {"None": (), "Write": ("api.audio.write",)}),
)

PERMISSION_LABELS = {"all": "All", "restricted": "Restricted", "read_only": "Read only"}


class RestrictedChoiceError(ValueError):
    pass


def scopes_for(choices: dict[str, str]) -> list[str]:
    """Scopes for a Restricted key from the form's per-resource choices (unknown levels are refused)."""
    scopes: list[str] = []
    for resource in RESOURCES:
        level = choices.get(resource.field, "None") or "None"
        if level not in resource.levels:
            raise RestrictedChoiceError(f"{resource.label}: choose one of {', '.join(resource.levels)}.")
        scopes.extend(resource.levels[level])
    if not scopes:
        raise RestrictedChoiceError("A Restricted key needs at least one permission. Choose one, or pick All or Read only.")
    return scopes


def describe(permission: str, scopes: list[str]) -> str:
    label = PERMISSION_LABELS.get(permission, permission)
    if permission != "restricted":
        return label
    return f"{label}: {', '.join(scopes)}"
