"""Fixtures for the sandbox tests: a real sandbox on a free port, and SDK clients wired to it."""

from __future__ import annotations

import contextlib
import gc
import http.server
import os
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from openai import OpenAI

from keylab.environment import forget_session_state
from keylab.sandbox import SandboxServer, serve_in_background
from keylab.sandbox.client import ControlClient
from keylab.sandbox.store import Store
from keylab.testing import isolate_environ


@pytest.fixture(autouse=True)
def clean_environ(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """No test sees a learner's OPENAI_* settings, `.env` or sandbox, and no test leaks its own.

    The whole environment is restored afterwards, because code under test (load_env) writes to
    os.environ directly, and notebook kernels started later in the session inherit it.
    """
    saved = dict(os.environ)
    isolate_environ(tmp_path_factory.mktemp("keylab-home"))
    forget_session_state()
    yield
    os.environ.clear()
    os.environ.update(saved)
    forget_session_state()


@pytest.fixture(autouse=True)
def loopback_only_probe(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """keylab asks a non-loopback base URL whether it is a sandbox (keylab.sandbox_probe): in tests
    only loopback servers are ever asked, and no answer outlives a test."""
    from keylab import sandbox_probe

    ask = sandbox_probe.answers_as_sandbox

    def loopback_ask(root: str, timeout: float = sandbox_probe.TIMEOUT_S) -> bool:
        host = (urlsplit(root).hostname or "").lower()
        return ask(root, timeout) if host in ("127.0.0.1", "localhost", "::1") else False

    monkeypatch.setattr(sandbox_probe, "answers_as_sandbox", loopback_ask)
    sandbox_probe.forget()
    yield
    sandbox_probe.forget()


@pytest.fixture(autouse=True, scope="module")
def _collect_clients() -> Iterator[None]:
    """Free each module's SDK clients (they sit in reference cycles), so tests that look for live
    clients (the doctor's KD003) see none left over."""
    yield
    gc.collect()


@pytest.fixture(scope="session")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxServer]:
    with serve_in_background(tmp_path_factory.mktemp("sandbox-data")) as server:
        yield server


@pytest.fixture(scope="session")
def control(sandbox: SandboxServer) -> ControlClient:
    return ControlClient(sandbox.url, sandbox.operator_token)


@pytest.fixture
def account(control: ControlClient) -> dict[str, Any]:
    """A fresh verified account with $5 of credit, a project key and an admin key."""
    return control.create_account(credits_usd="5")


@pytest.fixture
def store(sandbox: SandboxServer) -> Iterator[Store]:
    """The sandbox's database, opened beside the server as the admin CLI opens it (to read its books)."""
    handle = Store(sandbox.data_dir)
    yield handle
    handle.close()


def make_client(sandbox: SandboxServer, api_key: str, **kwargs: Any) -> OpenAI:
    """The official SDK as a learner would build it, with no retries and strict response parsing."""
    return OpenAI(api_key=api_key, base_url=sandbox.base_url, max_retries=0,
                  _strict_response_validation=True, **kwargs)


@pytest.fixture
def client(sandbox: SandboxServer, account: dict[str, Any]) -> OpenAI:
    return make_client(sandbox, account["api_key"])


@pytest.fixture
def admin_client(sandbox: SandboxServer, account: dict[str, Any]) -> OpenAI:
    return OpenAI(admin_api_key=account["admin_key"], base_url=sandbox.base_url, max_retries=0,
                  _strict_response_validation=True)


@contextlib.contextmanager
def other_server(status: int, content_type: str, body: bytes) -> Iterator[tuple[str, list[str]]]:
    """A local HTTP server that is not the sandbox: its /v1 base URL and the Authorization headers it got."""
    seen: list[str] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the http.server API
            seen.append(self.headers.get("Authorization", ""))
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", seen
    finally:
        server.shutdown()
        server.server_close()
