"""The sandbox's state: one SQLite database (WAL) in the data dir, plus two secret files.

- `sandbox.db`      organizations, projects, keys (hashes only), credit, usage, platform tables
- `key_salt`        the secret salt of the key hashes (a key is looked up by HMAC-SHA256(salt, key))
- `operator_token`  the bearer token of the `/sandbox/` control plane

The server and the `keylab sandbox account …` commands open the same database at the same time;
WAL mode and a busy timeout make that safe. Schema changes are numbered migrations, applied once.
"""

from __future__ import annotations

import hmac
import os
import secrets
import sqlite3
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DB_NAME = "sandbox.db"
SALT_FILE = "key_salt"
LOCK_FILE = "server.lock"  # held by the one server on a data dir (keylab.sandbox.server)
TOKEN_FILE = "operator_token"

MIGRATIONS_DIR = Path(__file__).with_name("migrations")


def migrations() -> list[tuple[int, str]]:
    """The numbered SQL scripts `migrations/NNNN_name.sql`, in order. Add a file; never edit a released one.

    Names are checked by hand, not with a glob pattern: that compiles a regular expression, ~1 ms
    of every sandbox start.
    """
    found = []
    for name in sorted(os.listdir(MIGRATIONS_DIR)):
        number = name[:4]
        if number.isascii() and number.isdigit() and name[4:5] == "_" and name.endswith(".sql"):
            found.append((int(number), (MIGRATIONS_DIR / name).read_text()))
    return found


class Store:
    """A handle on one data dir: the database connection and the two secrets.

    One connection is shared by the server's event loop; a lock serialises writers that run in
    other threads (the background server in a notebook, tests), and `BEGIN IMMEDIATE`
    serialises writers across processes.
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        _make_private(self.data_dir)
        self.lock = threading.RLock()
        # Bumped by every local write transaction that may change configuration (keys, projects,
        # limits, alerts…); usage/balance writes of billed calls do not bump it. See `cached()`.
        self.generation = 0
        self._cache: dict[object, object] = {}
        self._cache_stamp: tuple[int, int] | None = None
        self._data_version = -1
        self._checked_in_turn_of: object | None = None  # the event loop whose current turn has checked
        self.conn = sqlite3.connect(
            self.data_dir / DB_NAME, check_same_thread=False, isolation_level=None, timeout=10.0
        )
        self.conn.row_factory = sqlite3.Row
        self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        self.conn.execute("PRAGMA foreign_keys=ON")
        self.conn.execute("PRAGMA busy_timeout=10000")
        self._migrate()
        self.salt = _read_or_create_secret(self.data_dir / SALT_FILE, 32)
        self.operator_token = "kl-op-" + _read_or_create_secret(self.data_dir / TOKEN_FILE, 24).hex()

    def _migrate(self) -> None:
        """Apply the migrations the database lacks, all in one write transaction.

        An up-to-date database (every open but the first) is only read: no write lock to wait
        for, and no commit, which would also empty other processes' hot-read caches (`cache`).
        """
        scripts = migrations()
        if self._schema_version() >= (scripts[-1][0] if scripts else 0):
            return
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            version = start = self._schema_version()  # again: another process may have just migrated
            for number, script in scripts:
                if number <= version:
                    continue
                for statement in _statements(script):
                    db.execute(statement)
                version = number
            if version != start:
                db.execute("DELETE FROM schema_version")
                db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    def _schema_version(self) -> int:
        """The number of the last migration applied; 0 for a new database."""
        if not self.conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'"
                                 ).fetchone():
            return 0
        row = self.conn.execute("SELECT version FROM schema_version").fetchone()
        return row[0] if row else 0

    @contextmanager
    def transaction(self, *, config: bool = True) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so check-then-write is atomic.

        config=False only for writes that change no cached configuration (usage rows, balances,
        a key's last_used_at): every other transaction empties the hot-read cache on commit.
        """
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                if config:
                    self.generation += 1
                raise
            else:
                self.conn.execute("COMMIT")
                if config:
                    self.generation += 1

    def cache(self, *, external: bool = True) -> dict[object, object]:
        """A dict for hot configuration reads (key records, rate and spend limits, "has alerts").

        It is emptied whenever the database may have changed under it: a configuration write of
        this process (`generation`) or any commit by another connection or process (SQLite's
        `PRAGMA data_version`). Fill it only with values read AFTER this call, so a value read
        before a concurrent write lands in the dict that write discarded.

        external=True checks data_version once per event-loop turn (always, outside a loop). That
        is enough for "a change committed before a request arrived applies to that request": a
        task step that runs before the turn's check is forgotten (`call_soon`, FIFO) was scheduled
        before the check, so its request's bytes had been read before the check ran.
        external=False skips the check: for reads later in a request whose key lookup
        (`accounts.find_key`) has just made it.
        """
        with self.lock:
            if external:
                loop = _running_loop()
                if loop is None or loop is not self._checked_in_turn_of:
                    self._data_version = self.conn.execute("PRAGMA data_version").fetchone()[0]
                    if loop is not None:
                        self._checked_in_turn_of = loop
                        loop.call_soon(self._end_turn)
            stamp = (self.generation, self._data_version)
            if stamp != self._cache_stamp or len(self._cache) > 50_000:
                self._cache = {}
                self._cache_stamp = stamp
            return self._cache

    def _end_turn(self) -> None:
        self._checked_in_turn_of = None

    def cached(self, key: object) -> object | None:
        """A value of the current cache dict, without checking whether it is still valid."""
        return self._cache.get(key)

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def hash_key(self, key: str) -> str:
        """The stored form of a key: HMAC-SHA256 under this data dir's secret salt."""
        return hmac.digest(self.salt, key.encode("utf-8", "surrogatepass"), "sha256").hex()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, value))

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _make_private(data_dir: Path) -> None:
    """The data dir 700 and the database files 600, whoever's umask: they hold key hashes, the
    salt and the operator token, and on a shared machine no other account may read them. The
    folder is made private when it is new, empty or already a sandbox's (not when someone points
    --data at a folder of other things: its files stay private all the same).

    The database file is created here (empty) with mode 600; SQLite gives its -wal and -shm files
    the database file's mode, so they follow.
    """
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    names = {path.name for path in data_dir.iterdir()}
    ours = DB_NAME in names or names <= {LOCK_FILE}  # never chmod a folder of other things
    if ours and data_dir.stat().st_mode & 0o077:
        data_dir.chmod(0o700)
    os.close(os.open(data_dir / DB_NAME, os.O_WRONLY | os.O_CREAT, 0o600))
    for name in (DB_NAME, DB_NAME + "-wal", DB_NAME + "-shm", SALT_FILE, TOKEN_FILE):
        try:
            if (data_dir / name).stat().st_mode & 0o077:
                (data_dir / name).chmod(0o600)
        except FileNotFoundError:
            pass


def _running_loop() -> object | None:
    """The running asyncio loop of this thread, if any (no import: without asyncio there is none)."""
    asyncio = sys.modules.get("asyncio")
    return asyncio.events._get_running_loop() if asyncio is not None else None


def _statements(script: str) -> list[str]:
    """Split a script on `;` (our migrations hold no semicolons inside strings or triggers)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [s.strip() for s in "\n".join(lines).split(";") if s.strip()]


def _read_or_create_secret(path: Path, size: int) -> bytes:
    """A random secret kept in a file only its owner can read; created once."""
    try:
        return bytes.fromhex(path.read_text().strip())
    except (FileNotFoundError, ValueError):
        pass
    value = secrets.token_bytes(size)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # another process created it first, or it is unreadable: use theirs
        return bytes.fromhex(path.read_text().strip())
    try:
        os.write(fd, value.hex().encode())
    finally:
        os.close(fd)
    return value
