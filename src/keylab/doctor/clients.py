"""Find OpenAI clients in this Python session that were made with settings that are now stale.

An `OpenAI()` client copies OPENAI_API_KEY and OPENAI_BASE_URL when it is created. Calling
`load_dotenv()` afterwards changes the environment but not the client: the classic "I put my key
in .env and it still says Missing credentials / Incorrect API key" (facts.md, pain point 3).

Heuristic (documented in the KD003 row of the codes table): walk `gc.get_objects()` for
instances of `openai.OpenAI` / `openai.AsyncOpenAI` (not Azure subclasses) and flag those whose
`api_key` differs from the current OPENAI_API_KEY (unless it equals OPENAI_ADMIN_KEY, or the
client uses a key function) or whose `base_url` differs from OPENAI_BASE_URL. openai is never
imported here: if the learner has not imported it, no client can exist.
"""

from __future__ import annotations

import gc
import sys
from collections.abc import Mapping

from keylab.doctor.finding import Finding
from keylab.environment import DEFAULT_BASE_URL, clients_made_before_load, safe_url
from keylab.keys import mask


def live_clients() -> list[object]:
    """Every OpenAI/AsyncOpenAI client object alive in this process (Azure ones excluded)."""
    openai = sys.modules.get("openai")
    if openai is None:
        return []
    classes = tuple(c for c in (getattr(openai, "OpenAI", None), getattr(openai, "AsyncOpenAI", None))
                    if isinstance(c, type))
    if not classes:
        return []
    # type(obj), not isinstance(obj): isinstance may call __class__ on lazy proxies.
    return [obj for obj in gc.get_objects()
            if issubclass(type(obj), classes) and not type(obj).__name__.startswith("Azure")]


def _norm_url(url: object) -> str:
    return str(url).strip().rstrip("/")


def stale_reasons(client: object, environ: Mapping[str, str]) -> list[str]:
    """Why this client disagrees with the environment (masked), or [] when it agrees."""
    reasons: list[str] = []
    key = environ.get("OPENAI_API_KEY") or ""
    client_key = getattr(client, "api_key", "")
    if key and isinstance(client_key, str) and client_key and client_key != key \
            and client_key != environ.get("OPENAI_ADMIN_KEY"):
        reasons.append(f"it uses the key {mask(client_key)} but OPENAI_API_KEY is now {mask(key)}")
    wanted = (environ.get("OPENAI_BASE_URL") or "").strip() or DEFAULT_BASE_URL
    client_url = getattr(client, "base_url", None)
    if client_url is not None and _norm_url(client_url) != _norm_url(wanted):
        reasons.append(f"it sends requests to {safe_url(_norm_url(client_url))} but OPENAI_BASE_URL "
                       f"says {safe_url(wanted)}")
    return reasons


def check_clients(environ: Mapping[str, str]) -> list[Finding]:
    """One KD003 finding listing every stale client, or none."""
    lines: list[str] = []
    for number, client in enumerate(live_clients(), start=1):
        reasons = stale_reasons(client, environ)
        if not reasons:
            continue
        before = " It was created before load_env() changed the settings." \
            if _made_before_load(client) else ""
        lines.append(f"client {number} ({type(client).__name__}): {'; '.join(reasons)}.{before}")
    if not lines:
        return []
    detail = f"{len(lines)} client(s) in this session: " + " ".join(lines)
    return [Finding.of("KD003", detail, clients=len(lines))]


def _made_before_load(client: object) -> bool:
    try:
        return client in clients_made_before_load
    except TypeError:  # pragma: no cover - not weak-referenceable
        return False
