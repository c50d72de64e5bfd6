"""The keylab sandbox: an OpenAI-compatible API and the platform around it, offline and free.

    from keylab.sandbox import serve_in_background
    with serve_in_background() as sandbox:
        print(sandbox.base_url)   # put this in OPENAI_BASE_URL

Importing this package starts nothing and loads no server: the two names below are imported on
first use, so `keylab.sandbox.client` (lessons, the CLI) does not pay for uvicorn and Starlette.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["SandboxServer", "serve_in_background"]

if TYPE_CHECKING:  # pragma: no cover
    from keylab.sandbox.server import SandboxServer, serve_in_background


def __getattr__(name: str) -> Any:
    if name in __all__:
        from keylab.sandbox import server

        return getattr(server, name)
    raise AttributeError(f"module 'keylab.sandbox' has no attribute {name!r}")
