"""SQLite backend of the StateStore, for the embedded mode: one file, WAL, one writer thread.

Each call runs on a dedicated thread that owns the connection (sqlite3 objects must stay on the
thread that made them), so nothing blocks the event loop. Conditional writes are single
statements (an upsert whose update has a WHERE) or run in BEGIN IMMEDIATE transactions, so
they stay atomic even when several processes share the file.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import structlog

from shared.state.base import (
    JOB_DONE_TTL_S,
    Clock,
    JobClaim,
    check_playlist_length,
    prepare_position,
    prepare_save,
    to_datetime,
)
from shared.state.exceptions import LeaseLost, StaleState, StoreUnavailable
from shared.state.models import (
    GuildState,
    Lease,
    PlaybackPosition,
    Playlist,
    WorkerHeartbeat,
    playlist_key,
)

log = structlog.get_logger(__name__)
T = TypeVar("T")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS guild_state (
    guild_id TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS position (
    guild_id TEXT PRIMARY KEY, lease_token INTEGER NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS lease (
    guild_id TEXT PRIMARY KEY, owner TEXT NOT NULL, expires_at REAL NOT NULL,
    token INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS lease_by_expiry ON lease (expires_at);
CREATE TABLE IF NOT EXISTS heartbeat (
    worker_id TEXT PRIMARY KEY, expires_at REAL NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS job (
    job_id TEXT PRIMARY KEY, status TEXT NOT NULL, owner TEXT NOT NULL DEFAULT '',
    expires_at REAL NOT NULL, result TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS job_by_expiry ON job (expires_at);
CREATE TABLE IF NOT EXISTS playlist (
    guild_id TEXT NOT NULL, key TEXT NOT NULL, name TEXT NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (guild_id, key));
"""

_ACQUIRE = """
INSERT INTO lease (guild_id, owner, expires_at, token) VALUES (:guild, :me, :until, 1)
ON CONFLICT (guild_id) DO UPDATE SET
    owner = excluded.owner, expires_at = excluded.expires_at, token = lease.token + 1
WHERE lease.expires_at <= :now OR lease.owner = excluded.owner
RETURNING token
"""

_CLAIM = """
INSERT INTO job (job_id, status, owner, expires_at) VALUES (:job, 'in_progress', :me, :until)
ON CONFLICT (job_id) DO UPDATE SET
    status = excluded.status, owner = excluded.owner, expires_at = excluded.expires_at,
    result = ''
WHERE job.expires_at <= :now
"""


_SAVE_OWN_PLAYLIST = """
INSERT INTO playlist VALUES (?, ?, ?, ?)
ON CONFLICT (guild_id, key) DO UPDATE SET name = excluded.name, data = excluded.data
WHERE json_extract(playlist.data, '$.created_by') = ?
"""


class SqliteStateStore:
    """A StateStore in one SQLite file (":memory:" for a throwaway store in tests)."""

    def __init__(
        self,
        path: str,
        *,
        max_queue_length: int = 500,
        history_length: int = 20,
        clock: Clock = time.time,
        busy_timeout_s: float = 5.0,
    ) -> None:
        self._path = path
        self._max_queue_length = max_queue_length
        self._history_length = history_length
        self._clock = clock
        self._busy_timeout_s = busy_timeout_s
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-state")
        self._conn: sqlite3.Connection | None = None  # touched only on the executor's thread

    # Thread side --------------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        if self._conn is None:
            conn = sqlite3.connect(self._path, timeout=self._busy_timeout_s, isolation_level=None)
            try:
                self._initialise(conn)
            except BaseException:
                conn.close()
                raise
            self._conn = conn
        return self._conn

    def _initialise(self, conn: sqlite3.Connection) -> None:
        conn.row_factory = sqlite3.Row
        # Switching to WAL answers "locked" at once, without the busy handler, while another
        # connection is opening the same new file: retry for as long as a busy wait would.
        deadline = time.monotonic() + self._busy_timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                break
            except sqlite3.OperationalError:
                if time.monotonic() >= deadline:
                    raise
                time.sleep(0.02)  # on the store's own thread, never the event loop
        conn.execute("PRAGMA synchronous=NORMAL")
        conn.executescript(_SCHEMA)

    def _in_thread(self, work: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return work(self._connect())
        except (sqlite3.ProgrammingError, sqlite3.IntegrityError):
            raise  # our bug, not the store's weather
        except sqlite3.Error as exc:
            # Locked past the busy timeout, disk full, I/O error, read-only file...
            log.warning("state.sqlite_error", error=str(exc))
            raise StoreUnavailable(f"SQLite: {exc}") from exc

    async def _run(self, work: Callable[[sqlite3.Connection], T]) -> T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_thread, work)

    @staticmethod
    @contextlib.contextmanager
    def _transaction(conn: sqlite3.Connection, mode: str = "IMMEDIATE") -> Iterator[None]:
        # IMMEDIATE takes the write lock up front, so a read-then-write can't interleave with
        # another process's; DEFERRED is enough for a consistent read of two tables.
        conn.execute(f"BEGIN {mode}")
        try:
            yield
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

    # Guild state -------------------------------------------------------------------------

    async def get_guild(self, guild_id: str) -> GuildState | None:
        """The latest state, with the position record overlaid on the track on air."""

        def read(conn: sqlite3.Connection) -> tuple[str | None, str | None]:
            with self._transaction(conn, "DEFERRED"):
                state = conn.execute(
                    "SELECT data FROM guild_state WHERE guild_id = ?", (guild_id,)
                ).fetchone()
                position = conn.execute(
                    "SELECT data FROM position WHERE guild_id = ?", (guild_id,)
                ).fetchone()
            return (state and state["data"]), (position and position["data"])

        state_json, position_json = await self._run(read)
        if state_json is None:
            return None
        state = GuildState.model_validate_json(state_json)
        if position_json is not None:
            state = state.with_position(PlaybackPosition.model_validate_json(position_json))
        return state

    async def save_guild(
        self, state: GuildState, *, expected_version: int | None = None
    ) -> GuildState:
        """Insert (version 0) or update where the version is still the expected one."""
        expected = state.version if expected_version is None else expected_version
        saved = prepare_save(
            state,
            expected_version=expected,
            now=self._clock(),
            max_queue_length=self._max_queue_length,
            history_length=self._history_length,
        )
        row = (saved.guild_id, saved.version, saved.model_dump_json())

        def write(conn: sqlite3.Connection) -> bool:
            if expected == 0:
                sql = "INSERT INTO guild_state VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
                return conn.execute(sql, row).rowcount == 1
            sql = "UPDATE guild_state SET version = ?, data = ? WHERE guild_id = ? AND version = ?"
            return conn.execute(sql, (row[1], row[2], row[0], expected)).rowcount == 1

        if not await self._run(write):
            raise StaleState(state.guild_id, expected)
        return saved

    async def update_position(
        self, lease: Lease, *, entry_id: str, position_s: float, paused: bool = False
    ) -> None:
        """Upsert the position unless a newer lease holder (higher token) wrote it."""
        position = prepare_position(
            lease, entry_id=entry_id, position_s=position_s, paused=paused, now=self._clock()
        )
        sql = (
            "INSERT INTO position VALUES (?, ?, ?) ON CONFLICT (guild_id) DO UPDATE SET "
            "lease_token = excluded.lease_token, data = excluded.data "
            "WHERE position.lease_token <= excluded.lease_token"
        )
        row = (lease.guild_id, lease.token, position.model_dump_json())
        if not await self._run(lambda conn: conn.execute(sql, row).rowcount == 1):
            raise LeaseLost(lease.guild_id)

    # Leases ------------------------------------------------------------------------------

    async def acquire_lease(self, guild_id: str, worker_id: str, *, ttl_s: float) -> Lease | None:
        """Upsert if free, expired, or ours already; the token goes up by one."""
        now = self._clock()
        params = {"guild": guild_id, "me": worker_id, "until": now + ttl_s, "now": now}
        # fetchall, not fetchone: a RETURNING statement left unfinished keeps its write lock.
        rows = await self._run(lambda conn: conn.execute(_ACQUIRE, params).fetchall())
        if not rows:
            return None
        return Lease(
            guild_id=guild_id,
            owner=worker_id,
            expires_at=to_datetime(now + ttl_s),
            token=rows[0]["token"],
        )

    async def renew_leases(
        self, worker_id: str, guild_ids: Iterable[str], *, ttl_s: float
    ) -> set[str]:
        """Extend our unexpired leases in one transaction; expired ones are not revived."""
        now = self._clock()
        wanted = sorted(set(guild_ids))

        def renew(conn: sqlite3.Connection) -> set[str]:
            held: set[str] = set()
            with self._transaction(conn):
                for guild_id in wanted:
                    cursor = conn.execute(
                        "UPDATE lease SET expires_at = ? "
                        "WHERE guild_id = ? AND owner = ? AND expires_at > ?",
                        (now + ttl_s, guild_id, worker_id, now),
                    )
                    if cursor.rowcount == 1:
                        held.add(guild_id)
            return held

        return await self._run(renew)

    async def release_lease(self, guild_id: str, worker_id: str, *, handover: bool = False) -> bool:
        """Free our lease now; without handover also hide it from the orphan scan (owner '').

        The row is kept, never deleted: its token must keep counting up for fencing to work.
        """
        if handover:
            sql = "UPDATE lease SET expires_at = ? WHERE guild_id = ? AND owner = ?"
            params: tuple[object, ...] = (self._clock(), guild_id, worker_id)
        else:
            sql = "UPDATE lease SET owner = '', expires_at = 0 WHERE guild_id = ? AND owner = ?"
            params = (guild_id, worker_id)
        return await self._run(lambda conn: conn.execute(sql, params).rowcount == 1)

    async def get_lease(self, guild_id: str) -> Lease | None:
        """The unexpired lease of the guild, or None."""
        now = self._clock()
        sql = "SELECT * FROM lease WHERE guild_id = ? AND expires_at > ?"
        row = await self._run(lambda conn: conn.execute(sql, (guild_id, now)).fetchone())
        return None if row is None else _lease(row)

    async def orphaned_leases(self, *, limit: int = 100) -> list[Lease]:
        """Leases whose expiry has passed, oldest first."""
        sql = (
            "SELECT * FROM lease WHERE expires_at <= ? AND owner != '' ORDER BY expires_at LIMIT ?"
        )
        params = (self._clock(), limit)
        rows = await self._run(lambda conn: conn.execute(sql, params).fetchall())
        return [_lease(row) for row in rows]

    # Workers -----------------------------------------------------------------------------

    async def put_heartbeat(self, heartbeat: WorkerHeartbeat) -> None:
        """Upsert the heartbeat and purge long-dead ones (SQLite has no TTL of its own)."""
        now = self._clock()
        row = (heartbeat.worker_id, heartbeat.expires_at.timestamp(), heartbeat.model_dump_json())

        def write(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                conn.execute("DELETE FROM heartbeat WHERE expires_at <= ?", (now,))
                conn.execute("INSERT OR REPLACE INTO heartbeat VALUES (?, ?, ?)", row)

        await self._run(write)

    async def alive_workers(self) -> list[WorkerHeartbeat]:
        """Unexpired heartbeats, by worker id."""
        sql = "SELECT data FROM heartbeat WHERE expires_at > ? ORDER BY worker_id"
        now = self._clock()
        rows = await self._run(lambda conn: conn.execute(sql, (now,)).fetchall())
        return [WorkerHeartbeat.model_validate_json(row["data"]) for row in rows]

    async def delete_heartbeat(self, worker_id: str) -> None:
        """Delete the worker's heartbeat row."""
        sql = "DELETE FROM heartbeat WHERE worker_id = ?"
        await self._run(lambda conn: conn.execute(sql, (worker_id,)))

    # Jobs --------------------------------------------------------------------------------

    async def claim_job(self, job_id: str, *, owner: str, ttl_s: float) -> JobClaim:
        """Upsert where there is no record or an expired one; else say what is there."""
        now = self._clock()
        params = {"job": job_id, "me": owner, "until": now + ttl_s, "now": now}

        def claim(conn: sqlite3.Connection) -> JobClaim:
            with self._transaction(conn):
                if conn.execute(_CLAIM, params).rowcount == 1:
                    return JobClaim.CLAIMED
                row = conn.execute("SELECT status FROM job WHERE job_id = ?", (job_id,)).fetchone()
            return JobClaim(row["status"])

        return await self._run(claim)

    async def finish_job(
        self, job_id: str, *, result: str = "", ttl_s: float = JOB_DONE_TTL_S
    ) -> None:
        """Record done, purging records whose time has passed."""
        now = self._clock()
        row = (job_id, JobClaim.DONE.value, now + ttl_s, result)

        def write(conn: sqlite3.Connection) -> None:
            with self._transaction(conn):
                conn.execute("DELETE FROM job WHERE expires_at <= ?", (now,))
                conn.execute(
                    "INSERT OR REPLACE INTO job (job_id, status, expires_at, result) "
                    "VALUES (?, ?, ?, ?)",
                    row,
                )

        await self._run(write)

    async def release_job(self, job_id: str, *, owner: str) -> None:
        """Delete our in-progress claim; someone else's claim or a done record stays."""
        sql = "DELETE FROM job WHERE job_id = ? AND owner = ? AND status = 'in_progress'"
        await self._run(lambda conn: conn.execute(sql, (job_id, owner)))

    # Playlists ---------------------------------------------------------------------------

    async def save_playlist(
        self, playlist: Playlist, *, replace: bool = True, only_creator: bool = False
    ) -> bool:
        """One upsert whose update has a WHERE: free name, same creator, or anyone."""
        check_playlist_length(playlist, self._max_queue_length)
        row: tuple[str, ...] = (
            playlist.guild_id,
            playlist.key,
            playlist.name,
            playlist.model_dump_json(),
        )
        if not replace:
            sql = "INSERT OR IGNORE INTO playlist VALUES (?, ?, ?, ?)"
        elif only_creator:
            sql = _SAVE_OWN_PLAYLIST
            row = (*row, playlist.created_by)
        else:
            sql = "INSERT OR REPLACE INTO playlist VALUES (?, ?, ?, ?)"
        return await self._run(lambda conn: conn.execute(sql, row).rowcount == 1)

    async def get_playlist(self, guild_id: str, name: str) -> Playlist | None:
        """The playlist of that name, or None."""
        sql = "SELECT data FROM playlist WHERE guild_id = ? AND key = ?"
        params = (guild_id, playlist_key(name))
        row = await self._run(lambda conn: conn.execute(sql, params).fetchone())
        return None if row is None else Playlist.model_validate_json(row["data"])

    async def list_playlists(self, guild_id: str) -> list[str]:
        """The guild's playlist names, sorted case-insensitively."""
        sql = "SELECT name FROM playlist WHERE guild_id = ? ORDER BY key"
        rows = await self._run(lambda conn: conn.execute(sql, (guild_id,)).fetchall())
        return [row["name"] for row in rows]

    async def delete_playlist(self, guild_id: str, name: str) -> bool:
        """Delete the playlist; False if there was none."""
        sql = "DELETE FROM playlist WHERE guild_id = ? AND key = ?"
        params = (guild_id, playlist_key(name))
        return await self._run(lambda conn: conn.execute(sql, params).rowcount == 1)

    async def aclose(self) -> None:
        """Close the connection on its own thread, then let the thread go."""

        def close(_: sqlite3.Connection) -> None:
            if self._conn is not None:
                self._conn.close()
                self._conn = None

        if self._conn is not None:
            await self._run(close)
        self._executor.shutdown(wait=False)


def _lease(row: sqlite3.Row) -> Lease:
    return Lease(
        guild_id=row["guild_id"],
        owner=row["owner"],
        expires_at=to_datetime(row["expires_at"]),
        token=row["token"],
    )
