"""The sandbox's state: one SQLite database (WAL) in the data dir, plus two secret files.

- `sandbox.db`      organizations, projects, keys (hashes only), credit, usage, platform tables
- `key_salt`        the secret salt of the key hashes (a key is looked up by HMAC-SHA256(salt, key))
- `operator_token`  the bearer token of the `/sandbox/` control plane

The server and the `keylab sandbox account …` commands open the same database at the same time;
WAL mode and a busy timeout make that safe. Schema changes are numbered migrations, applied once.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

DB_NAME = "sandbox.db"
SALT_FILE = "key_salt"
TOKEN_FILE = "operator_token"

# Each entry runs once, in order; append, never edit a released one.
MIGRATIONS: list[str] = [
    """
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    CREATE TABLE users (
        id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, name TEXT NOT NULL DEFAULT '',
        password_hash TEXT, phone TEXT, email_verified_at INTEGER, phone_verified_at INTEGER,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE organizations (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, owner_user_id TEXT REFERENCES users(id),
        created_at INTEGER NOT NULL, balance_pico INTEGER NOT NULL DEFAULT 0,
        verified INTEGER NOT NULL DEFAULT 1
    );
    CREATE TABLE projects (
        id TEXT PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id), name TEXT NOT NULL,
        created_at INTEGER NOT NULL, archived_at INTEGER, is_default INTEGER NOT NULL DEFAULT 0
    );
    CREATE TABLE api_keys (
        id TEXT PRIMARY KEY, kind TEXT NOT NULL CHECK (kind IN ('project', 'admin', 'service_account')),
        org_id TEXT NOT NULL REFERENCES organizations(id), project_id TEXT REFERENCES projects(id),
        name TEXT NOT NULL, hash TEXT NOT NULL UNIQUE, redacted TEXT NOT NULL,
        scopes TEXT NOT NULL DEFAULT '[]', permission TEXT NOT NULL DEFAULT 'all',
        owner_type TEXT NOT NULL DEFAULT 'user', owner_id TEXT,
        created_at INTEGER NOT NULL, last_used_at INTEGER, expires_at INTEGER, revoked_at INTEGER,
        rpm_limit INTEGER, tpm_limit INTEGER
    );
    CREATE TABLE credit_grants (
        id INTEGER PRIMARY KEY, org_id TEXT NOT NULL REFERENCES organizations(id),
        amount_pico INTEGER NOT NULL, created_at INTEGER NOT NULL, source TEXT NOT NULL
    );
    CREATE TABLE usage (
        id INTEGER PRIMARY KEY, request_id TEXT NOT NULL, org_id TEXT NOT NULL, project_id TEXT NOT NULL,
        key_id TEXT NOT NULL, endpoint TEXT NOT NULL, model TEXT NOT NULL,
        input_tokens INTEGER NOT NULL, cached_tokens INTEGER NOT NULL, output_tokens INTEGER NOT NULL,
        input_pico INTEGER NOT NULL, cached_pico INTEGER NOT NULL, output_pico INTEGER NOT NULL,
        cost_pico INTEGER NOT NULL, created_at INTEGER NOT NULL
    );
    CREATE INDEX usage_org_time ON usage (org_id, created_at);
    CREATE INDEX usage_project_time ON usage (project_id, created_at);
    CREATE TABLE responses (
        id TEXT PRIMARY KEY, org_id TEXT NOT NULL, project_id TEXT NOT NULL, body TEXT NOT NULL,
        created_at INTEGER NOT NULL
    );
    CREATE TABLE project_rate_limits (
        project_id TEXT NOT NULL, model TEXT NOT NULL, max_requests_per_1_minute INTEGER NOT NULL,
        max_tokens_per_1_minute INTEGER NOT NULL, max_requests_per_1_day INTEGER,
        PRIMARY KEY (project_id, model)
    );
    CREATE TABLE spend_limits (
        scope TEXT NOT NULL CHECK (scope IN ('organization', 'project')), scope_id TEXT NOT NULL,
        threshold_cents INTEGER NOT NULL, currency TEXT NOT NULL DEFAULT 'USD',
        interval TEXT NOT NULL DEFAULT 'month', created_at INTEGER NOT NULL,
        PRIMARY KEY (scope, scope_id)
    );
    """,
]


class Store:
    """A handle on one data dir: the database connection and the two secrets.

    One connection is shared by the server's event loop; a lock serialises writers that run in
    other threads (the background server in a notebook, tests), and `BEGIN IMMEDIATE`
    serialises writers across processes.
    """

    def __init__(self, data_dir: str | os.PathLike[str]) -> None:
        self.data_dir = Path(data_dir).expanduser().resolve()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.lock = threading.RLock()
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
        with self.transaction() as db:
            db.execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            row = db.execute("SELECT version FROM schema_version").fetchone()
            version = row[0] if row else 0
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                for statement in _statements(script):
                    db.execute(statement)
                version = number
            db.execute("DELETE FROM schema_version")
            db.execute("INSERT INTO schema_version VALUES (?)", (version,))

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taken at once (BEGIN IMMEDIATE) so check-then-write is atomic."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self.conn.execute("ROLLBACK")
                raise
            else:
                self.conn.execute("COMMIT")

    def query(self, sql: str, params: tuple | dict = ()) -> list[sqlite3.Row]:
        with self.lock:
            return self.conn.execute(sql, params).fetchall()

    def query_one(self, sql: str, params: tuple | dict = ()) -> sqlite3.Row | None:
        with self.lock:
            return self.conn.execute(sql, params).fetchone()

    def hash_key(self, key: str) -> str:
        """The stored form of a key: HMAC-SHA256 under this data dir's secret salt."""
        return hmac.new(self.salt, key.encode("utf-8", "surrogatepass"), hashlib.sha256).hexdigest()

    def get_meta(self, key: str, default: str | None = None) -> str | None:
        row = self.query_one("SELECT value FROM meta WHERE key = ?", (key,))
        return row[0] if row else default

    def set_meta(self, key: str, value: str) -> None:
        with self.transaction() as db:
            db.execute("INSERT INTO meta VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                       (key, value))

    def close(self) -> None:
        with self.lock:
            self.conn.close()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


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
