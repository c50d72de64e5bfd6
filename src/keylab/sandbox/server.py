"""Running the sandbox: in the foreground (`keylab sandbox`) or in a background thread.

`serve_in_background()` is what notebooks and tests use: it binds a free loopback port, waits
until the server answers, and returns a handle whose `base_url` goes into `OPENAI_BASE_URL`.
"""

from __future__ import annotations

import socket
import sys
import tempfile
import threading
from pathlib import Path
from types import TracebackType

import uvicorn

from keylab.sandbox.app import create_app

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def _config(app: object, host: str, port: int, log_level: str) -> uvicorn.Config:
    """uvicorn's settings for the sandbox. The protocol, WebSocket and loop choices are named, not
    "auto": start-up then probes for no optional package (httptools, websockets, wsproto, uvloop),
    and the sandbox runs on the same stack in every install (h11, plain asyncio, and no WebSocket
    handling, as it has no WebSocket route)."""
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
        server_header=False, date_header=True, timeout_graceful_shutdown=1,
        http="h11", ws="none", loop="asyncio",
    )


class _Server(uvicorn.Server):
    """uvicorn's server, with an event set once it listens (or its thread ends), so a caller
    waiting for the start wakes at once instead of polling `started`."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.ready = threading.Event()

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=sockets)
        self.ready.set()

    def run(self, sockets: list[socket.socket] | None = None) -> None:
        try:
            super().run(sockets=sockets)
        finally:
            self.ready.set()  # a failed start wakes the waiting caller too


def _bind(host: str, port: int) -> socket.socket:
    """Bind first, then hand the socket to uvicorn: port 0 then means a free port we can report."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio sets TCP_NODELAY on accepted connections only when the
    # listening socket says it is TCP (proto 0 does not), and without it every response waits
    # ~40 ms for a delayed ACK (Nagle) between its header and body writes.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as error:
        sock.close()
        raise OSError(
            f"keylab sandbox could not listen on {host}:{port} ({error.strerror}). Another sandbox may already "
            f"be running there: use it, stop it, or pick another port with --port (0 picks a free one)."
        ) from None
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def _url(host: str, port: int) -> str:
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


class SandboxServer:
    """A sandbox running in a daemon thread of this process. Use as a context manager or call stop()."""

    def __init__(self, data_dir: Path, host: str, sock: socket.socket) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = sock.getsockname()[1]
        self.app = create_app(data_dir, site_url=_url(host, self.port))
        self._sock = sock
        self._server = _Server(_config(self.app, host, self.port, "warning"))
        self._server.install_signal_handlers = lambda: None  # type: ignore[method-assign]
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]},
                                        name="keylab-sandbox", daemon=True)

    @property
    def url(self) -> str:
        return _url(self.host, self.port)

    @property
    def base_url(self) -> str:
        """The value for OPENAI_BASE_URL."""
        return self.url + "/v1"

    @property
    def operator_token(self) -> str:
        return self.app.state.sandbox.store.operator_token

    def start(self, timeout: float = 10.0) -> SandboxServer:
        self._thread.start()
        self._server.ready.wait(timeout)
        if not self._server.started:
            raise RuntimeError("the keylab sandbox did not start; see the messages above")
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)
        self._sock.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.base_url} data={self.data_dir}>"


def serve_in_background(data_dir: str | Path | None = None, port: int = 0, host: str = DEFAULT_HOST) -> SandboxServer:
    """Start a sandbox in a background thread and return once it answers.

    data_dir: where its state lives; None = a fresh temporary folder (nothing is kept).
    port: 0 picks a free port.
    """
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="keylab-sandbox-")
    path = Path(data_dir).expanduser().resolve()
    return SandboxServer(path, host, _bind(host, port)).start()


def run_foreground(data_dir: str | Path | None, host: str, port: int) -> int:
    """`keylab sandbox`: serve until Ctrl-C; the first stdout line is the base URL."""
    from keylab.paths import sandbox_data_dir  # here: a background sandbox never needs it

    path = Path(data_dir).expanduser().resolve() if data_dir else sandbox_data_dir()
    sock = _bind(host, port)
    url = _url(host, sock.getsockname()[1])

    def announce() -> None:
        print(f"keylab sandbox listening on {url}/v1", flush=True)
        print(f"  dashboard: {url}/   data: {path}", flush=True)
        print("  Press Ctrl-C to stop.", flush=True)

    app = create_app(path, on_startup=announce, site_url=url)
    server = uvicorn.Server(_config(app, host, sock.getsockname()[1], "warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
    return 0 if server.started else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_foreground(None, DEFAULT_HOST, DEFAULT_PORT))
