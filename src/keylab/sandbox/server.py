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

import h11
import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from keylab.sandbox.app import create_app
from keylab.sandbox.hosts import default_names, public_url
from keylab.sandbox.store import LOCK_FILE

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765

# Resource limits for a sandbox served to a room (see bench/README.md, "Hardening").
HEADER_TIMEOUT_S = 10.0  # a request's line and headers must arrive within this, from its first byte
# Open connections: each holds a file descriptor. A room of students holds 2–3 each (the SDK's pool,
# a practice account's client, the control plane), so the cap is what the open-files limit allows
# (`connection_cap`), up to MAX_CONNECTIONS; past it a connection quiet for a while is closed.
MAX_CONNECTIONS = 4000
MIN_CONNECTIONS = 100
FD_RESERVE = 64  # descriptors kept for the database, its journal, the log and the listening socket
EVICT_AFTER_S = 1.0  # a connection that was active this recently is never closed to make room
MAX_HEADER_BYTES = 32 * 1024  # h11 refuses a request whose line and headers are larger (400)
# How long an idle keep-alive connection stays open. Longer than httpx's (so the openai SDK's) 5 s
# `keepalive_expiry`, so the client drops an idle connection before the server closes it: with
# both at uvicorn's default 5 s, a client reusing a connection idle for ~5 s races the server's
# close and gets a reset or "Server disconnected" (bench/README.md, "Classroom benchmark").
KEEP_ALIVE_S = 15


def connection_cap() -> int:
    """How many connections the sandbox keeps open: as many as this process may open files (each
    holds one; `keylab sandbox` raises that limit first), less a reserve, at most MAX_CONNECTIONS."""
    try:
        import resource
    except ImportError:  # Windows: no such per-process limit
        return MAX_CONNECTIONS
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return MAX_CONNECTIONS
    return max(MIN_CONNECTIONS, min(MAX_CONNECTIONS, soft - FD_RESERVE))


class _Protocol(H11Protocol):
    """uvicorn's h11 protocol with two bounds it lacks: a deadline for a request's headers
    (uvicorn's keep-alive timer covers only the idle time after a response; a client that sends
    half a header, or nothing, holds its connection and file descriptor forever), and a cap on
    open connections (`limit_concurrency` answers 503 only once a request is complete)."""

    max_connections = MAX_CONNECTIONS  # set per server from `connection_cap` (see `_config`)
    _header_timer: object = None
    _last_active = 0.0  # when the client last sent something, or the server last finished an answer
    _served = False  # whether the connection has carried a whole request and answer

    def connection_made(self, transport: object) -> None:  # type: ignore[override]
        super().connection_made(transport)  # type: ignore[arg-type]
        self._last_active = self.loop.time()
        if len(self.connections) > self.max_connections:
            self._evict()
        self._arm_header_timer()

    def _evict(self) -> None:
        """Over the cap: close a connection that waits for a request and has been quiet for at least
        EVICT_AFTER_S: first one that never carried a request (a slow or half-open client), the
        longest quiet first, then an idle keep-alive one. A flood of half-sent headers then costs
        the flooder its own oldest connections, not everyone else's access; a connection just
        opened or just used (its client may be sending on it right now) is never the one closed.
        With none of those, this new connection is refused."""
        quiet_since = self.loop.time() - EVICT_AFTER_S
        waiting = [c for c in self.connections if isinstance(c, _Protocol) and c is not self
                   and c.conn.their_state is h11.IDLE and c.cycle is None and not c.transport.is_closing()
                   and c._last_active <= quiet_since]
        victim = min(waiting, key=lambda c: (c._served, c._last_active), default=self)
        victim.transport.close()

    def on_response_complete(self) -> None:
        self._served = True
        self._last_active = self.loop.time()
        super().on_response_complete()

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(HEADER_TIMEOUT_S, self._headers_too_slow)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()

    def data_received(self, data: bytes) -> None:
        self._last_active = self.loop.time()
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:
            self._arm_header_timer()  # between requests, part of the next one has come: it has a deadline
        elif self._header_timer is not None:
            self._header_timer.cancel()  # type: ignore[attr-defined]
            self._header_timer = None

    def connection_lost(self, exc: Exception | None) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()  # type: ignore[attr-defined]
            self._header_timer = None
        super().connection_lost(exc)


def _config(app: object, host: str, port: int, log_level: str) -> uvicorn.Config:
    """uvicorn's settings for the sandbox. The protocol, WebSocket and loop choices are named, not
    "auto": start-up then probes for no optional package (httptools, websockets, wsproto, uvloop),
    and the sandbox runs on the same stack in every install (h11, plain asyncio, and no WebSocket
    handling, as it has no WebSocket route). The protocol is h11's with a header deadline and a
    connection cap (`_Protocol`, at `connection_cap()`); `limit_concurrency` (503 past it) then
    bounds only the requests being handled at once, as the cap keeps the connections below it."""
    cap = connection_cap()
    protocol = type("_Protocol", (_Protocol,), {"max_connections": cap})
    return uvicorn.Config(
        app, host=host, port=port, log_level=log_level, access_log=False, lifespan="on",
        server_header=False, date_header=True, timeout_graceful_shutdown=1, timeout_keep_alive=KEEP_ALIVE_S,
        http=protocol, ws="none", loop="asyncio",
        limit_concurrency=cap + 1, h11_max_incomplete_event_size=MAX_HEADER_BYTES,
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

    def __init__(self, data_dir: Path, host: str, sock: socket.socket, *, allowed_hosts: tuple[str, ...] = (),
                 public: str | None = None) -> None:
        self.data_dir = data_dir
        self.host = host
        self.port = sock.getsockname()[1]
        try:
            self._lock = lock_data_dir(data_dir)
        except OSError:
            sock.close()
            raise
        self.app = create_app(data_dir, allowed_hosts=(*default_names(host), *allowed_hosts),
                              public_url=public_url(host, self.port, public))
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
        self._lock.close()

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"<SandboxServer {self.base_url} data={self.data_dir}>"


def serve_in_background(data_dir: str | Path | None = None, port: int = 0, host: str = DEFAULT_HOST, *,
                        allowed_hosts: tuple[str, ...] = (), public: str | None = None) -> SandboxServer:
    """Start a sandbox in a background thread and return once it answers.

    data_dir: where its state lives; None = a fresh temporary folder (nothing is kept).
    port: 0 picks a free port.
    allowed_hosts: host names it answers besides IP addresses, localhost and, bound to every
    interface, this machine's name (keylab.sandbox.hosts: the DNS-rebinding defence).
    public: the base URL of links in its emails (default: the bound address).
    """
    if data_dir is None:
        data_dir = tempfile.mkdtemp(prefix="keylab-sandbox-")
    path = Path(data_dir).expanduser().resolve()
    return SandboxServer(path, host, _bind(host, port), allowed_hosts=allowed_hosts, public=public).start()


def lock_data_dir(data_dir: Path) -> object:
    """Hold the data dir's lock file for the life of a server, or refuse to start.

    Budgets and rate limits reserve in the server's memory, so two servers on one data dir would
    each admit calls against the same credit. The lock is released when the returned file is
    closed or the process ends (even killed). Processes that are not servers (`keylab sandbox
    account …`) do not take it.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    handle = open(data_dir / LOCK_FILE, "a+b")  # noqa: SIM115 (held open on purpose)
    try:
        import fcntl
    except ImportError:  # Windows: msvcrt's lock
        import msvcrt
        try:
            msvcrt.locking(handle.fileno(), msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]
        except OSError:
            handle.close()
            raise _in_use(data_dir) from None
        return handle
    try:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        handle.close()
        raise _in_use(data_dir) from None
    return handle


def _in_use(data_dir: Path) -> OSError:
    return OSError(f"Another keylab sandbox is already running on the data dir {data_dir}: two servers on one "
                   "data dir would each spend the same credit. Use the running one, stop it, or start this one "
                   "with another --data DIR.")


def _raise_open_files_limit() -> None:
    """Raise the soft limit on open files to the hard one (capped): every connection holds one."""
    try:
        import resource
    except ImportError:
        return
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = min(hard if hard != resource.RLIM_INFINITY else 4096, 4096)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))


def run_foreground(data_dir: str | Path | None, host: str, port: int, *, allowed_hosts: tuple[str, ...] = (),
                   public: str | None = None) -> int:
    """`keylab sandbox`: serve until Ctrl-C; the first stdout line is the base URL."""
    from keylab.paths import sandbox_data_dir  # here: a background sandbox never needs it

    path = Path(data_dir).expanduser().resolve() if data_dir else sandbox_data_dir()
    lock = lock_data_dir(path)
    _raise_open_files_limit()
    sock = _bind(host, port)
    url = _url(host, sock.getsockname()[1])

    def announce() -> None:
        print(f"keylab sandbox listening on {url}/v1", flush=True)
        print(f"  dashboard: {url}/   data: {path}", flush=True)
        print("  Press Ctrl-C to stop.", flush=True)

    app = create_app(path, on_startup=announce, allowed_hosts=(*default_names(host), *allowed_hosts),
                     public_url=public_url(host, sock.getsockname()[1], public))
    server = uvicorn.Server(_config(app, host, sock.getsockname()[1], "warning"))
    try:
        server.run(sockets=[sock])
    finally:
        sock.close()
        lock.close()
    return 0 if server.started else 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(run_foreground(None, DEFAULT_HOST, DEFAULT_PORT))
