"""The keylab sandbox: an OpenAI-compatible API and the platform around it, offline and free.

    from keylab.sandbox import serve_in_background
    with serve_in_background() as sandbox:
        print(sandbox.base_url)   # put this in OPENAI_BASE_URL

Importing this package starts nothing.
"""

from keylab.sandbox.server import SandboxServer, serve_in_background

__all__ = ["SandboxServer", "serve_in_background"]
