"""keylab: get, store, use, meter and protect an OpenAI API key — the course's helpers.

    from keylab import load_env, status, doctor, check

Importing keylab starts nothing and reads nothing: every name below is loaded on first use, so
`import keylab` is instant in a notebook and in the command line.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# public name -> module that defines it
_EXPORTS = {
    "load_env": "keylab.environment",
    "status": "keylab.environment",
    "mode": "keylab.environment",
    "doctor": "keylab.doctor",  # the callable package itself
    "diagnose": "keylab.doctor",
    "check": "keylab.labs.checking",
    "mask": "keylab.keys",
    "classify": "keylab.keys",
    "cost_of": "keylab.pricing",
    "count_text": "keylab.pricing",
    "count_messages": "keylab.pricing",
    "format_usd": "keylab.pricing",
    "MODELS": "keylab.pricing",
    "COURSE_MODEL": "keylab.pricing",
    "PRICES_AS_OF": "keylab.pricing",
    "serve_in_background": "keylab.sandbox",
}

__all__ = [
    "COURSE_MODEL",
    "MODELS",
    "PRICES_AS_OF",
    "check",
    "classify",
    "cost_of",
    "count_messages",
    "count_text",
    "diagnose",
    "doctor",
    "format_usd",
    "load_env",
    "mask",
    "mode",
    "serve_in_background",
    "status",
]

if TYPE_CHECKING:  # pragma: no cover
    from keylab.doctor import diagnose, doctor
    from keylab.environment import load_env, mode, status
    from keylab.keys import classify, mask
    from keylab.labs.checking import check
    from keylab.pricing import (
        COURSE_MODEL,
        MODELS,
        PRICES_AS_OF,
        cost_of,
        count_messages,
        count_text,
        format_usd,
    )
    from keylab.sandbox import serve_in_background


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'keylab' has no attribute {name!r}")
    imported = importlib.import_module(module)
    # `keylab.doctor` is a callable package: return the package itself, so both `keylab.doctor()`
    # and `keylab.doctor.diagnose` work whichever is used first.
    value = imported if module == f"keylab.{name}" else getattr(imported, name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])
