"""The central store's storage: one class of queries over SQLite or PostgreSQL.

:class:`CentralStore` holds every query, written once with ``?`` placeholders; the two
engines differ only in how a connection is made, how a write transaction takes the lock, and
the placeholder style, which :class:`SqliteEngine` and :class:`PostgresEngine` supply.

Transactions: **one per batch**. A batch is the unit the terminal retries, so making it atomic
means a retried batch finds either all of it or none of it; and one commit per batch (not per
entry) is what lets ingest keep up with a backlog. Writers are serialised: SQLite by
``BEGIN IMMEDIATE``, PostgreSQL by a row lock on the revision counter taken first. That keeps
the feeds' cursors safe (a position, once read past, can never appear later) and makes the line
limits race-free without retry loops; a batch of hundreds of entries holds the lock for a few
milliseconds, so a site's terminals do not queue behind each other for long. Within one server
process, writers take turns on a lock before they open their transaction (:class:`_WriterTurn`):
many terminals pushing at once then queue there, not inside the database.
"""

from __future__ import annotations

import hashlib
import json
import queue
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import psycopg

from putback_tui.central.ingest import (
    BatchState,
    Stock,
    plan_batch,
    state_entries,
    with_effects,
)
from putback_tui.central.schema import MIGRATIONS
from putback_tui.domain.derive import DEFAULT_LIMITS, Limits
from putback_tui.domain.entries import Entry, EntryKind
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Permission,
    Product,
    iso_utc,
    now_utc,
)
from putback_tui.domain.permissions import DEFAULT_ROLES
from putback_tui.domain.reasons import DEFAULT_REASONS, SiteReasons
from putback_tui.sync.wire import (
    AppliedEntry,
    ChangesPage,
    ClientInfo,
    ClientKind,
    EntryResult,
    EventsPage,
    OrderReconciled,
    RoleGrant,
    StockLevel,
)

Row = tuple[Any, ...]
WAIT_S = 30.0
"""How long a call waits for a database connection, or for its turn to write, by default."""
_CHUNK = 500
"""Keys per ``IN (...)`` list on SQLite: well under its parameter limit."""
PAGE_BYTES = 1_000_000
"""A feed page stops once its items come to about this many bytes of JSON (always at least
one item): a page is held whole in memory on both sides."""
_ITEM_OVERHEAD = 64
"""Bytes of JSON an item takes beyond its values (field names, quotes, commas)."""


def _size(row: Iterable[Any]) -> int:
    """About how many bytes of JSON a row's values take in a page."""
    return _ITEM_OVERHEAD + sum(len(str(v)) for v in row)


class StoreError(Exception):
    """The central store cannot do what was asked; the message says why."""


class ClientExists(StoreError):
    """A terminal or system of that name is already enrolled."""


class UnknownOrderError(StoreError):
    """No order has that ID."""


def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256, hex.

    Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


# -- engines ----------------------------------------------------------------------------------


class Tx(Protocol):
    """What the queries need of an open transaction."""

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Run a query and return every row."""

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement and return how many rows it changed."""

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        """Run a statement once per row of parameters."""

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        """Insert many rows at once.

        ``columns`` are ``"name type"`` (PostgreSQL type names), in the rows' order.
        """

    def update_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Set ``columns`` of many rows, each found by ``keys``; a row gives columns then keys."""

    def upsert_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Insert many rows, or update those whose ``keys`` exist; a row gives keys then columns."""

    def keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> list[Row]:
        """Run a query for many text keys: ``{keys}`` in ``sql`` stands for the list.

        ``extra`` parameters come before the keys. Written ``column IN ({keys})``.
        """


def _names(columns: Sequence[str]) -> list[str]:
    return [c.split()[0] for c in columns]


C = TypeVar("C")


class _Pool(Generic[C]):
    """At most ``size`` open connections, reused across requests (threads take one each).

    A thread that finds all of them in use waits for one rather than opening another: past a
    few connections, more concurrent transactions only queue on the writers' lock, and
    opening a PostgreSQL connection per request (a new backend process) costs more CPU than
    the request itself on a small machine.
    """

    def __init__(
        self,
        connect: Callable[[], C],
        close: Callable[[C], None],
        size: int,
        *,
        wait_s: float = WAIT_S,
    ) -> None:
        self._connect = connect
        self._close = close
        self._idle: queue.LifoQueue[C] = queue.LifoQueue()
        self._slots = threading.BoundedSemaphore(size)
        self._wait_s = wait_s

    @contextmanager
    def get(self) -> Iterator[C]:
        with _held(self._slots, self._wait_s, "every database connection stayed busy"):
            try:
                conn = self._idle.get_nowait()
            except queue.Empty:
                conn = self._connect()
            try:
                yield conn
            except BaseException:
                # The connection's state is unknown after an error: never hand it out again.
                self._close(conn)
                raise
            self._idle.put(conn)

    def close(self) -> None:
        while True:
            try:
                self._close(self._idle.get_nowait())
            except queue.Empty:
                return


class _WriterTurn:
    """This process's writers, one at a time (a lock, with a limit on the wait).

    The database lets one writer in at a time anyway (module docstring). Without this, every
    thread with a batch to write would open its transaction and wait inside the database: each
    holds a pooled connection while it waits, SQLite's waiters poll with sleeps of up to 100 ms
    (the lock can sit free meanwhile), and the waiting threads' Python work fights the one
    writer for the interpreter. Waiting here hands the turn over at once. Writers in other
    processes (``central serve --workers``) still take turns in the database.
    """

    def __init__(self, wait_s: float) -> None:
        self._lock = threading.Lock()
        self._wait_s = wait_s

    def turn(self) -> AbstractContextManager[None]:
        return _held(self._lock, self._wait_s, "another write kept the database busy")


@contextmanager
def _held(lock: threading.Lock | threading.Semaphore, wait_s: float, busy: str) -> Iterator[None]:
    """Hold ``lock`` for the block; after ``wait_s`` without it, StoreError("{busy} for N s")."""
    if not lock.acquire(timeout=wait_s):
        raise StoreError(f"{busy} for {wait_s:g} s")
    try:
        yield
    finally:
        lock.release()


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self.conn.executemany(sql, rows)

    # SQLite runs in this process: one prepared statement per row (executemany) costs no round
    # trips, and beats any one-statement form (UPDATE ... FROM json_each is 2.5 times slower).

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        names = _names(columns)
        marks = ", ".join("?" * len(names))
        self.conn.executemany(f"INSERT INTO {table} ({', '.join(names)}) VALUES ({marks})", rows)

    def update_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        sets = ", ".join(f"{n} = ?" for n in _names(columns))
        where = " AND ".join(f"{n} = ?" for n in _names(keys))
        self.conn.executemany(f"UPDATE {table} SET {sets} WHERE {where}", rows)

    def upsert_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        self.conn.executemany(_upsert_sql(table, columns, keys, "?"), rows)

    def keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> list[Row]:
        out: list[Row] = []
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(sql.format(keys=marks), [*extra, *chunk]).fetchall()
        return out


class _PgTx:
    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.conn = conn

    @staticmethod
    def _sql(sql: str) -> Any:
        # Queries are literals of this module, never user text: '?' is only a placeholder.
        return sql.replace("?", "%s")

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.conn.execute(self._sql(sql), params).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        return self.conn.execute(self._sql(sql), params).rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    # PostgreSQL is a round trip away: one statement per batch, never one per row (even
    # pipelined, executemany costs about 35 us a row). Rows travel as one COPY, or as one JSON
    # parameter read by json_to_recordset: psycopg adapts lists of strings to arrays slowly.

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        sql = f"COPY {table} ({', '.join(_names(columns))}) FROM STDIN"
        with self.conn.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def update_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        if not rows:
            return
        sets = ", ".join(f"{n} = v.{n}" for n in _names(columns))
        where = " AND ".join(f"{table}.{n} = v.{n}" for n in _names(keys))
        self.conn.execute(
            f"UPDATE {table} SET {sets} FROM {_recordset([*columns, *keys])} WHERE {where}",
            [_json_rows([*columns, *keys], rows)],
        )

    def upsert_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        if not rows:
            return
        every = [*keys, *columns]
        select = f"SELECT {', '.join(_names(every))} FROM {_recordset(every)}"
        self.conn.execute(_upsert_sql(table, columns, keys, select), [_json_rows(every, rows)])

    def keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> list[Row]:
        query = self._sql(sql).format(keys="SELECT json_array_elements_text(%s::json)")
        return self.conn.execute(query, [*extra, json.dumps(list(keys))]).fetchall()


def _recordset(columns: Sequence[str]) -> str:
    return f"json_to_recordset(%s::json) AS v({', '.join(columns)})"


def _json_rows(columns: Sequence[str], rows: Sequence[Row]) -> str:
    names = _names(columns)
    return json.dumps([dict(zip(names, row, strict=True)) for row in rows])


def _upsert_sql(table: str, columns: Sequence[str], keys: Sequence[str], source: str) -> str:
    """``INSERT ... ON CONFLICT (keys) DO UPDATE`` of ``columns``; rows give keys, then columns.

    ``source`` is ``?`` (one row of parameters) or a SELECT of the rows.
    """
    every = _names([*keys, *columns])
    if source == "?":
        source = f"VALUES ({', '.join('?' * len(every))})"
    updates = ", ".join(f"{n} = excluded.{n}" for n in _names(columns))
    return (
        f"INSERT INTO {table} ({', '.join(every)}) {source} "
        f"ON CONFLICT ({', '.join(_names(keys))}) DO UPDATE SET {updates}"
    )


class SqliteEngine:
    """A SQLite file (WAL, ``synchronous=FULL``): the default, for one site."""

    name = "sqlite"
    types = {"pk": "INTEGER PRIMARY KEY", "big": "INTEGER"}

    def __init__(self, path: Path, *, pool_size: int = 8, wait_s: float = WAIT_S) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pool: _Pool[sqlite3.Connection] = _Pool(
            self._connect, _close_sqlite, pool_size, wait_s=wait_s
        )
        self._writer = _WriterTurn(wait_s)

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        return conn

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction; ``BEGIN IMMEDIATE`` takes the writers' lock at once."""
        with self._writer.turn(), self._pool.get() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read transaction over one snapshot (WAL readers never wait on the writer)."""
        with self._pool.get() as conn:
            conn.execute("BEGIN")
            try:
                yield _SqliteTx(conn)
            finally:
                conn.execute("ROLLBACK")

    def close(self) -> None:
        """Close every idle connection."""
        self._pool.close()


def _close_sqlite(conn: sqlite3.Connection) -> None:
    conn.close()


class PostgresEngine:
    """PostgreSQL through psycopg 3: many sites, replicas, managed services."""

    name = "postgresql"
    types = {"pk": "BIGINT PRIMARY KEY", "big": "BIGINT"}

    def __init__(self, url: str, *, pool_size: int = 16, wait_s: float = WAIT_S) -> None:
        self.url = url
        self._pool: _Pool[psycopg.Connection[Row]] = _Pool(
            self._connect, _close_pg, pool_size, wait_s=wait_s
        )
        self._writer = _WriterTurn(wait_s)

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            # autocommit: transactions are opened explicitly, as on SQLite.
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreError(f"Cannot connect to PostgreSQL: {exc}".strip()) from exc

    @contextmanager
    def _locked(self, lock_sql: str) -> Iterator[Tx]:
        """A transaction that takes ``lock_sql``'s lock first; commit on exit, else roll back."""
        with self._pool.get() as conn:
            conn.execute("BEGIN")
            try:
                conn.execute(lock_sql)
                yield _PgTx(conn)
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    @contextmanager
    def write(self) -> Iterator[Tx]:
        """A write transaction holding the revision counter's row lock (see the module)."""
        with (
            self._writer.turn(),
            self._locked("SELECT value FROM counters WHERE name = 'rev' FOR UPDATE") as tx,
        ):
            yield tx

    @contextmanager
    def read(self) -> Iterator[Tx]:
        """A read-only transaction over one snapshot (repeatable read)."""
        with self._pool.get() as conn:
            conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
            try:
                yield _PgTx(conn)
            finally:
                if not conn.broken:
                    conn.execute("ROLLBACK")

    def migrating(self) -> AbstractContextManager[Tx]:
        """A transaction for schema changes, serialised by an advisory lock."""
        return self._locked("SELECT pg_advisory_xact_lock(7365001)")

    def close(self) -> None:
        """Close every idle connection."""
        self._pool.close()


def _close_pg(conn: psycopg.Connection[Row]) -> None:
    conn.close()


# -- the store --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Client:
    """An authenticated caller."""

    name: str
    kind: ClientKind
    facility: str | None

    def info(self) -> ClientInfo:
        """The caller as the wire shows it."""
        return ClientInfo(name=self.name, kind=self.kind, facility=self.facility)


@dataclass(frozen=True)
class IngestFailure:
    """A batch whose ingest failed unexpectedly (rolled back, answered 503)."""

    failure_id: int
    at: datetime
    terminal: str
    entries: int
    entry_ids: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class Health:
    """The central store's state as ``putback central doctor`` reports it."""

    engine: str
    schema_version: int
    latest_schema: int
    clients: list[tuple[str, str, str | None, int]]
    """(name, kind, facility, last seq) of every enrolled client."""
    entries: dict[str, int]
    """Recorded entries by outcome."""
    failures_total: int
    failures: list[IngestFailure]
    """The most recent failures, newest first."""


class CentralStore:
    """Every read and write of the central store, over either engine."""

    def __init__(
        self, engine: SqliteEngine | PostgresEngine, limits: Limits = DEFAULT_LIMITS
    ) -> None:
        self.engine = engine
        self.limits = limits
        """The caps every entry is held to (:class:`~putback_tui.domain.derive.Limits`)."""

    @property
    def kind(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.name

    def close(self) -> None:
        """Close every connection."""
        self.engine.close()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction.

        Returns:
            The versions applied now.
        """
        done: list[int] = []
        ctx = (
            self.engine.migrating if isinstance(self.engine, PostgresEngine) else self.engine.write
        )
        with ctx() as tx:
            tx.run(
                "CREATE TABLE IF NOT EXISTS central_schema "
                "(version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
        for migration in MIGRATIONS:
            with ctx() as tx:
                if tx.all("SELECT 1 FROM central_schema WHERE version = ?", (migration.version,)):
                    continue
                for statement in migration.statements:
                    tx.run(statement.format(**self.engine.types))
                tx.run(
                    "INSERT INTO central_schema (version, name, applied_at) VALUES (?, ?, ?)",
                    (migration.version, migration.name, iso_utc(now_utc())),
                )
                done.append(migration.version)
        return done

    # -- clients -------------------------------------------------------------------------

    def add_client(
        self, name: str, kind: ClientKind, facility: str | None, *, replace: bool = False
    ) -> str:
        """Enrol a terminal (of ``facility``) or a system, and return its new token.

        The token is returned once and only its hash is stored. With ``replace``, an enrolled
        client of that name, kind and facility gets a new token instead and its old token
        stops working at once (a lost or leaked token); everything else about it is kept.

        Raises:
            ClientExists: the name is taken (and ``replace`` is false).
            StoreError: ``replace`` for a name not enrolled, or enrolled as another kind or
                for another facility.
        """
        if kind is ClientKind.TERMINAL and not facility:
            raise StoreError("A terminal needs a facility.")
        token = "pbk_" + secrets.token_urlsafe(32)
        with self.engine.write() as tx:
            rows = tx.all("SELECT kind, facility FROM clients WHERE name = ?", (name,))
            if rows and not replace:
                raise ClientExists(f"{name} is already enrolled (--replace issues a new token).")
            if replace:
                if not rows:
                    raise StoreError(f"{name} is not enrolled: there is no token to replace.")
                if (rows[0][0], rows[0][1]) != (kind.value, facility):
                    was = rows[0][0] + (f" of {rows[0][1]}" if rows[0][1] else "")
                    asked = kind.value + (f" of {facility}" if facility else "")
                    raise StoreError(
                        f"{name} is enrolled as a {was}, not as a {asked}: nothing was changed."
                    )
                tx.run(
                    "UPDATE clients SET token_hash = ? WHERE name = ?", (hash_token(token), name)
                )
                return token
            tx.run(
                "INSERT INTO clients (name, kind, facility, token_hash, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (name, kind.value, facility, hash_token(token), iso_utc(now_utc())),
            )
        return token

    def authenticate(self, token: str) -> Client | None:
        """The client holding ``token``, or None."""
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT name, kind, facility FROM clients WHERE token_hash = ?",
                (hash_token(token),),
            )
        if not rows:
            return None
        name, kind, facility = rows[0]
        return Client(name=name, kind=ClientKind(kind), facility=facility)

    # -- ingest --------------------------------------------------------------------------

    def ingest(
        self, client: Client, entries: Sequence[Entry], *, bodies: Sequence[str] | None = None
    ) -> list[EntryResult]:
        """Judge and apply a terminal's batch: each entry at most once, in its sequence order.

        The caller has checked that every entry is the client's own, of its facility, and that
        sequence numbers strictly increase. No number the terminal sent is believed: each
        entry's effects are derived from its meaning by the domain's rules against the central
        store's own state (:mod:`putback_tui.central.ingest`), and what is derived is applied
        and recorded. Everything happens in one transaction: entries are recorded (applied or
        refused), and line progress, stock and order status change with them.

        The work is done per batch, not per entry: every row the batch needs is read first,
        the entries are judged and applied in memory in sequence order, and then each table
        is written once.

        Args:
            client: the terminal that sent the batch.
            entries: the batch, in sequence order.
            bodies: each entry's JSON exactly as received, which validated into ``entries``:
                kept as the entries' bodies. When None, each entry is serialised instead.

        Returns:
            One result per entry, in the batch's order.
        """
        received = iso_utc(now_utc())
        name = client.name
        facility = client.facility or ""
        # Before the writers' lock: whatever does not need the database should not hold it.
        if bodies is None:
            bodies = [e.model_dump_json() for e in entries]
        elif len(bodies) != len(entries):
            raise ValueError("one body per entry")
        with self.engine.write() as tx:
            rev = int(tx.all("SELECT value FROM counters WHERE name = 'rev'")[0][0])
            last_seq = int(tx.all("SELECT last_seq FROM clients WHERE name = ?", (name,))[0][0])
            existing: dict[str, tuple[str, str, str | None]] = {
                r[0]: (r[1], r[2], r[3])
                for r in tx.keyed(
                    "SELECT entry_id, terminal, outcome, reason FROM entries "
                    "WHERE entry_id IN ({keys})",
                    [e.entry_id for e in entries],
                )
            }
            state = _load_state(tx, facility, entries)
            plan = plan_batch(
                name,
                entries,
                bodies,
                last_seq=last_seq,
                existing=existing,
                state=state,
                limits=self.limits,
            )
            if not plan.recorded:
                return plan.results
            rows = []
            for r in plan.recorded:
                rev += 1
                e = r.entry
                rows.append(
                    (
                        rev, e.entry_id, e.terminal, e.facility, e.seq, _KINDS[e.kind],
                        e.order_id, r.outcome, r.reason, received, r.body, r.effects, r.ref,
                    )
                )
            tx.insert_rows(
                "entries",
                ("position bigint", "entry_id text", "terminal text", "facility text",
                 "seq bigint", "kind text", "order_id text", "outcome text", "reason text",
                 "received_at text", "body text", "effects text", "ref text"),
                rows,
            )
            changed = sorted(state.changed_lines)
            tx.update_rows(
                "order_lines",
                ("released int", "rejected int", "put_back int", "withdrawn int"),
                ("order_id text", "line_no int"),
                [
                    (line.released, line.rejected, line.put_back, line.withdrawn, order_id, line_no)
                    for order_id, line_no in changed
                    for line in (state.orders[order_id].line(line_no),)
                ],
            )
            order_revs: list[tuple[Any, ...]] = []
            for order_id in sorted({k[0] for k in changed} | set(state.status_changes)):
                rev += 1
                order_revs.append((rev, order_id))
            tx.update_rows("orders", ("rev bigint",), ("order_id text",), order_revs)
            tx.many(
                "UPDATE orders SET status = ?, status_changed_at = ? WHERE order_id = ?",
                [(s, at, oid) for oid, (s, at) in state.status_changes.items()],
            )
            tx.update_rows(
                "orders",
                ("reconciled_at text", "reconciled_by text", "reconciled_terminal text"),
                ("order_id text",),
                [(*(state.reconciled[oid] or (None, None, None)), oid)
                 for oid in sorted(state.reconciled_changed)],
            )
            stock = state.stock
            qoh_rows = []
            for sku, location in sorted(stock.touched_qoh):
                rev += 1
                qoh_rows.append((facility, sku, location, stock.qoh(sku, location), rev))
            tx.upsert_rows(
                "stock_qoh",
                ("qoh bigint", "rev bigint"),
                ("facility text", "sku text", "location text"),
                qoh_rows,
            )
            atp_rows = []
            for sku in sorted(stock.touched_atp):
                rev += 1
                atp_rows.append((facility, sku, stock.atp(sku), rev))
            tx.upsert_rows(
                "stock_atp", ("atp bigint", "rev bigint"), ("facility text", "sku text"), atp_rows
            )
            tx.run("UPDATE clients SET last_seq = ? WHERE name = ?", (plan.last_seq, name))
            tx.run("UPDATE counters SET value = ? WHERE name = 'rev'", (rev,))
        return plan.results

    # -- feeds ---------------------------------------------------------------------------

    def changes(
        self, client: Client, cursor: int, limit: int, *, max_bytes: int = PAGE_BYTES
    ) -> ChangesPage:
        """What changed for the client's facility after ``cursor``, at most ``limit`` items.

        Orders, locations and stock of the facility; every product and operator. The page
        also stops before its items pass about ``max_bytes`` of JSON (an order counts with its
        lines), but always holds at least one item.
        """
        facility = client.facility or ""
        want = limit + 1
        with self.engine.read() as tx:
            through = tx.all("SELECT last_seq FROM clients WHERE name = ?", (client.name,))
            items: list[tuple[int, str, Row]] = []
            sources = (
                ("order", "SELECT rev, order_id, facility, status, has_label, status_changed_at, "
                          "reconciled_at, reconciled_by, reconciled_terminal FROM orders "
                          "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
                ("product", "SELECT rev, sku, description, gtins, lot_tracked, home_location "
                            "FROM products WHERE rev > ? ORDER BY rev LIMIT ?", False),
                ("location", "SELECT rev, code, facility, kind, barcode FROM locations "
                             "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
                ("operator", "SELECT rev, badge, name, role, facility, active FROM operators "
                             "WHERE rev > ? ORDER BY rev LIMIT ?", False),
                ("qoh", "SELECT rev, sku, location, qoh FROM stock_qoh "
                        "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
                ("atp", "SELECT rev, sku, atp FROM stock_atp "
                        "WHERE facility = ? AND rev > ? ORDER BY rev LIMIT ?", True),
            )
            for kind, sql, by_facility in sources:
                params = (facility, cursor, want) if by_facility else (cursor, want)
                items.extend((int(r[0]), kind, r) for r in tx.all(sql, params))
            # The role map travels whole, as one item at the newest revision of any role.
            [(roles_rev,)] = tx.all("SELECT MAX(rev) FROM roles")
            if roles_rev is not None and int(roles_rev) > cursor:
                items.append((int(roles_rev), "roles", ()))
            # The reason lists travel whole too (one row).
            for (reasons_rev,) in tx.all("SELECT rev FROM site_reasons"):
                if int(reasons_rev) > cursor:
                    items.append((int(reasons_rev), "reasons", ()))
            # The first `limit` items over all sources, by revision: each source gave its own
            # first limit+1, so more than `limit` in total means there is more to read.
            items.sort(key=lambda item: item[0])
            has_more = len(items) > limit
            page = items[:limit]
            lines = _order_lines(tx, [r[1] for _, kind, r in page if kind == "order"])
            size = 0
            for n, (_, kind, r) in enumerate(page):
                size += _size(r)
                if kind == "order":
                    size += sum(_size(vars(line).values()) for line in lines.get(r[1], ()))
                if n and size > max_bytes:
                    page, has_more = page[:n], True
                    break
            order_rows = [r for _, kind, r in page if kind == "order"]
            roles = (
                tuple(
                    RoleGrant(role=role, permissions=tuple(sorted(perms)))
                    for role, perms in sorted(_roles(tx).items())
                )
                if any(kind == "roles" for _, kind, _ in page)
                else None
            )
            reasons = (
                _reasons(tx) if any(kind == "reasons" for _, kind, _ in page) else None
            )
        return ChangesPage(
            cursor=cursor,
            next_cursor=page[-1][0] if page else cursor,
            has_more=has_more,
            applied_through_seq=int(through[0][0]) if through else 0,
            orders=tuple(
                Order(
                    order_id=r[1],
                    facility=r[2],
                    status=OrderStatus(r[3]),
                    has_label=bool(r[4]),
                    status_changed_at=datetime.fromisoformat(r[5]) if r[5] else None,
                    lines=tuple(lines.get(r[1], ())),
                )
                for r in order_rows
            ),
            reconciled=tuple(
                OrderReconciled(
                    order_id=r[1], at=datetime.fromisoformat(r[6]), operator=r[7], terminal=r[8]
                )
                for r in order_rows
                if r[6]
            ),
            products=tuple(
                Product(
                    sku=r[1],
                    description=r[2],
                    gtins=tuple(json.loads(r[3])),
                    lot_tracked=bool(r[4]),
                    home_location=r[5],
                )
                for _, kind, r in page
                if kind == "product"
            ),
            locations=tuple(
                Location(code=r[1], facility=r[2], kind=LocationKind(r[3]), barcode=r[4])
                for _, kind, r in page
                if kind == "location"
            ),
            operators=tuple(
                Operator(badge=r[1], name=r[2], role=r[3], facility=r[4], active=bool(r[5]))
                for _, kind, r in page
                if kind == "operator"
            ),
            stock=tuple(
                StockLevel(sku=r[1], location=r[2], quantity=r[3])
                if kind == "qoh"
                else StockLevel(sku=r[1], quantity=r[2])
                for _, kind, r in page
                if kind in ("qoh", "atp")
            ),
            roles=roles,
            reasons=reasons,
        )

    def events(
        self,
        cursor: int,
        limit: int,
        facility: str | None = None,
        *,
        max_bytes: int = PAGE_BYTES,
    ) -> EventsPage:
        """Applied entries after position ``cursor``, in the order applied.

        At most ``limit`` of them, and the page stops before their bodies pass about
        ``max_bytes`` (always at least one entry).
        """
        sql = (
            "SELECT position, received_at, body, effects FROM entries WHERE outcome = 'applied' "
        )
        params: list[Any] = []
        if facility is not None:
            sql += "AND facility = ? "
            params.append(facility)
        sql += "AND position > ? ORDER BY position LIMIT ?"
        params += [cursor, limit + 1]
        with self.engine.read() as tx:
            rows = tx.all(sql, params)
        page = rows[:limit]
        has_more = len(rows) > limit
        size = 0
        for n, row in enumerate(page):
            size += _size(row)
            if n and size > max_bytes:
                page, has_more = page[:n], True
                break
        return EventsPage(
            cursor=cursor,
            next_cursor=int(page[-1][0]) if page else cursor,
            has_more=has_more,
            events=tuple(
                AppliedEntry(
                    position=int(r[0]),
                    received_at=datetime.fromisoformat(r[1]),
                    # What was applied, which the central store derived (see ingest).
                    entry=with_effects(Entry.model_validate_json(r[2]), r[3]),
                )
                for r in page
            ),
        )

    def last_seq(self, terminal: str) -> int:
        """The highest sequence number of ``terminal``'s entries recorded here (0: none)."""
        with self.engine.read() as tx:
            rows = tx.all("SELECT last_seq FROM clients WHERE name = ?", (terminal,))
        return int(rows[0][0]) if rows else 0

    def own_entries(
        self, terminal: str, after_seq: int, limit: int
    ) -> list[tuple[str, bool, str | None]]:
        """``terminal``'s recorded entries after ``after_seq``: (body JSON, refused, reason)."""
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT body, outcome, reason FROM entries WHERE terminal = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (terminal, after_seq, limit),
            )
        return [(str(r[0]), r[1] == "refused", r[2]) for r in rows]

    def recorded(self, terminal: str | None = None) -> list[tuple[str, str, str | None]]:
        """Every recorded entry as (entry_id, outcome, reason), in position order."""
        sql = "SELECT entry_id, outcome, reason FROM entries"
        params: tuple[Any, ...] = ()
        if terminal is not None:
            sql += " WHERE terminal = ?"
            params = (terminal,)
        with self.engine.read() as tx:
            return [(r[0], r[1], r[2]) for r in tx.all(sql + " ORDER BY position", params)]

    def stock(self, facility: str) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """The facility's QOH by (sku, location) and ATP by sku."""
        with self.engine.read() as tx:
            qoh = {
                (r[0], r[1]): int(r[2])
                for r in tx.all(
                    "SELECT sku, location, qoh FROM stock_qoh WHERE facility = ?", (facility,)
                )
            }
            atp = {
                r[0]: int(r[1])
                for r in tx.all("SELECT sku, atp FROM stock_atp WHERE facility = ?", (facility,))
            }
        return qoh, atp

    def site_reasons(self) -> SiteReasons:
        """The reason lists every terminal and the central store judge by."""
        with self.engine.read() as tx:
            return _reasons(tx)

    def order(self, order_id: str) -> Order | None:
        """The order with its central progress, or None."""
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT order_id, facility, status, has_label, status_changed_at FROM orders "
                "WHERE order_id = ?",
                (order_id,),
            )
            if not rows:
                return None
            lines = _order_lines(tx, [order_id])
        r = rows[0]
        return Order(
            order_id=r[0],
            facility=r[1],
            status=OrderStatus(r[2]),
            has_label=bool(r[3]),
            status_changed_at=datetime.fromisoformat(r[4]) if r[4] else None,
            lines=tuple(lines.get(order_id, ())),
        )

    # -- failures and health -------------------------------------------------------------

    def record_failure(self, terminal: str, entry_ids: Sequence[str], error: str) -> int:
        """Keep a batch whose ingest failed unexpectedly, for ``putback central doctor``.

        Returns:
            The failure's number (also in the 503 answer and the log).
        """
        with self.engine.write() as tx:
            failure = int(
                tx.all("SELECT COALESCE(MAX(failure_id), 0) + 1 FROM ingest_failures")[0][0]
            )
            tx.run(
                "INSERT INTO ingest_failures "
                "(failure_id, at, terminal, entries, entry_ids, error) VALUES (?, ?, ?, ?, ?, ?)",
                (failure, iso_utc(now_utc()), terminal, len(entry_ids), " ".join(entry_ids),
                 error[:2000]),
            )
        return failure

    def health(self, *, failures: int = 20) -> Health:
        """What ``putback central doctor`` reports: schema, clients, counts, recent failures."""
        with self.engine.read() as tx:
            versions = [int(r[0]) for r in tx.all("SELECT version FROM central_schema")]
            clients = [
                (str(r[0]), str(r[1]), r[2], int(r[3]))
                for r in tx.all(
                    "SELECT name, kind, facility, last_seq FROM clients ORDER BY kind, name"
                )
            ]
            outcomes = {
                str(r[0]): int(r[1])
                for r in tx.all("SELECT outcome, COUNT(*) FROM entries GROUP BY outcome")
            }
            total = int(tx.all("SELECT COUNT(*) FROM ingest_failures")[0][0])
            recent = [
                IngestFailure(int(r[0]), datetime.fromisoformat(r[1]), str(r[2]), int(r[3]),
                              tuple(str(r[4]).split()), str(r[5]))
                for r in tx.all(
                    "SELECT failure_id, at, terminal, entries, entry_ids, error "
                    "FROM ingest_failures ORDER BY failure_id DESC LIMIT ?",
                    (failures,),
                )
            ]
        return Health(
            engine=self.kind,
            schema_version=max(versions, default=0),
            latest_schema=MIGRATIONS[-1].version,
            clients=clients,
            entries=outcomes,
            failures_total=total,
            failures=recent,
        )

    # -- upstream input ------------------------------------------------------------------

    def set_order_status(
        self, order_id: str, status: OrderStatus, changed_at: datetime | None = None
    ) -> Order:
        """Set an order's status as the OMS reports it.

        Raises:
            UnknownOrderError: no such order.
        """
        at = iso_utc(changed_at or now_utc())
        with self.engine.write() as tx:
            rev = self._next_rev(tx, 1)
            if not tx.run(
                "UPDATE orders SET status = ?, status_changed_at = ?, rev = ? WHERE order_id = ?",
                (status.value, at, rev, order_id),
            ):
                raise UnknownOrderError(f"No order {order_id}.")
        order = self.order(order_id)
        assert order is not None
        return order

    def import_data(
        self,
        *,
        products: Iterable[Product] = (),
        locations: Iterable[Location] = (),
        operators: Iterable[Operator] = (),
        orders: Iterable[Order] = (),
        stock: Iterable[tuple[str, str, str, int]] = (),
        atp: Iterable[tuple[str, str, int]] = (),
        roles: Mapping[str, Iterable[Permission]] | None = None,
        reasons: SiteReasons | None = None,
    ) -> dict[str, int]:
        """Insert or replace reference data and set stock, in one transaction.

        Orders keep the central progress of lines they already had; stock rows are set to the
        given figures (facility, sku, location, qoh) and (facility, sku, atp).

        Returns:
            How many of each kind were loaded.
        """
        with self.engine.write() as tx:
            rev = int(tx.all("SELECT value FROM counters WHERE name = 'rev'")[0][0])

            def revs(rows: Iterable[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
                nonlocal rev
                out = []
                for row in rows:
                    rev += 1
                    out.append((*row, rev))
                return out

            product_rows = revs(
                (
                    p.sku,
                    p.description,
                    json.dumps(list(p.gtins)),
                    int(p.lot_tracked),
                    p.home_location,
                )
                for p in products
            )
            tx.many(
                "INSERT INTO products (sku, description, gtins, lot_tracked, home_location, rev) "
                "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (sku) DO UPDATE SET "
                "description = excluded.description, gtins = excluded.gtins, "
                "lot_tracked = excluded.lot_tracked, home_location = excluded.home_location, "
                "rev = excluded.rev",
                product_rows,
            )
            location_rows = revs(
                (loc.code, loc.facility, loc.kind.value, loc.barcode) for loc in locations
            )
            tx.many(
                "INSERT INTO locations (code, facility, kind, barcode, rev) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (code) DO UPDATE SET facility = excluded.facility, "
                "kind = excluded.kind, barcode = excluded.barcode, rev = excluded.rev",
                location_rows,
            )
            operator_rows = revs(
                (o.badge, o.name, o.role, o.facility, int(o.active)) for o in operators
            )
            tx.many(
                "INSERT INTO operators (badge, name, role, facility, active, rev) "
                "VALUES (?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (badge) DO UPDATE SET name = excluded.name, role = excluded.role, "
                "facility = excluded.facility, active = excluded.active, rev = excluded.rev",
                operator_rows,
            )
            order_list = list(orders)
            tx.many(
                "INSERT INTO orders (order_id, facility, status, has_label, status_changed_at, "
                "rev) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (order_id) DO UPDATE SET "
                "facility = excluded.facility, status = excluded.status, "
                "has_label = excluded.has_label, status_changed_at = excluded.status_changed_at, "
                "rev = excluded.rev",
                revs(
                    (
                        o.order_id,
                        o.facility,
                        o.status.value,
                        int(o.has_label),
                        iso_utc(o.status_changed_at) if o.status_changed_at else None,
                    )
                    for o in order_list
                ),
            )
            tx.many(
                "INSERT INTO order_lines (order_id, line_no, sku, quantity, picked, "
                "pick_location, lot) VALUES (?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (order_id, line_no) DO UPDATE SET sku = excluded.sku, "
                "quantity = excluded.quantity, picked = excluded.picked, "
                "pick_location = excluded.pick_location, lot = excluded.lot",
                [
                    (
                        o.order_id,
                        ln.line_no,
                        ln.sku,
                        ln.quantity,
                        ln.picked,
                        ln.pick_location,
                        ln.lot,
                    )
                    for o in order_list
                    for ln in o.lines
                ],
            )
            qoh_rows = revs(stock)
            tx.many(
                "INSERT INTO stock_qoh (facility, sku, location, qoh, rev) VALUES (?, ?, ?, ?, ?) "
                "ON CONFLICT (facility, sku, location) DO UPDATE SET qoh = excluded.qoh, "
                "rev = excluded.rev",
                qoh_rows,
            )
            atp_rows = revs(atp)
            tx.many(
                "INSERT INTO stock_atp (facility, sku, atp, rev) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (facility, sku) DO UPDATE SET atp = excluded.atp, rev = excluded.rev",
                atp_rows,
            )
            role_rows: list[tuple[Any, ...]] = []
            if roles is not None:
                # The whole map is replaced: a role left out is dropped.
                tx.run("DELETE FROM roles")
                role_rows = revs(
                    (role, json.dumps(sorted(p.value for p in perms)))
                    for role, perms in sorted(roles.items())
                )
                tx.many("INSERT INTO roles (role, permissions, rev) VALUES (?, ?, ?)", role_rows)
            if reasons is not None:
                _set_reasons(tx, reasons, rev := rev + 1)
            tx.run("UPDATE counters SET value = ? WHERE name = 'rev'", (rev,))
        return {
            **({"roles": len(role_rows)} if roles is not None else {}),
            **({"reason lists": 1} if reasons is not None else {}),
            "products": len(product_rows),
            "locations": len(location_rows),
            "operators": len(operator_rows),
            "orders": len(order_list),
            "stock rows": len(qoh_rows) + len(atp_rows),
        }

    @staticmethod
    def _next_rev(tx: Tx, n: int) -> int:
        rows = tx.all("SELECT value FROM counters WHERE name = 'rev'")
        value = int(rows[0][0]) + n
        tx.run("UPDATE counters SET value = ? WHERE name = 'rev'", (value,))
        return value


# -- helpers ----------------------------------------------------------------------------------


_STATUSES = {s.value: s for s in OrderStatus}
_KINDS = {k: k.value for k in EntryKind}
"""Each kind's stored text: a dict lookup is cheaper than an enum's ``.value`` per entry."""


def _load_state(tx: Tx, facility: str, entries: Sequence[Entry]) -> BatchState:
    """Everything a batch of ``facility``'s entries may read: one query per table.

    Orders, locations and stock are read for the facility alone, so an entry naming another
    facility's order finds nothing, exactly as for a made-up one.
    """
    refs = sorted({r for e in entries for r in (e.details.undoes, e.details.resolves) if r})
    applied_refs: dict[str, Entry] = {}
    refused_refs: dict[str, Entry] = {}
    undone: set[str] = set()
    resolved: set[str] = set()
    if refs:
        applied_refs, refused_refs = state_entries(
            (
                (r[0], r[1], r[2], r[3])
                for r in tx.keyed(
                    "SELECT facility, outcome, body, effects FROM entries "
                    "WHERE entry_id IN ({keys})",
                    refs,
                )
            ),
            facility,
        )
        for ref, kind in tx.keyed(
            "SELECT ref, kind FROM entries WHERE outcome = 'applied' AND ref IN ({keys})", refs
        ):
            (undone if kind == EntryKind.UNDO.value else resolved).add(ref)
    order_ids = {e.order_id for e in entries if e.order_id}
    order_ids |= {e.order_id for e in applied_refs.values() if e.order_id}
    orders: dict[str, Order] = {}
    reconciled: dict[str, tuple[str, str, str] | None] = {}
    lines: dict[str, list[OrderLine]] = {}
    order_rows = tx.keyed(
        "SELECT order_id, facility, status, has_label, status_changed_at, reconciled_at, "
        "reconciled_by, reconciled_terminal FROM orders "
        "WHERE facility = ? AND order_id IN ({keys})",
        sorted(order_ids),
        facility,
    )
    if order_rows:
        lines = _order_lines(tx, [r[0] for r in order_rows])
    for r in order_rows:
        orders[r[0]] = Order(
            order_id=r[0],
            facility=r[1],
            status=_STATUSES[r[2]],
            has_label=bool(r[3]),
            status_changed_at=datetime.fromisoformat(r[4]) if r[4] else None,
            lines=tuple(lines.get(r[0], ())),
        )
        reconciled[r[0]] = (r[5], r[6], r[7]) if r[5] else None
    skus = {e.details.sku for e in entries if e.details.sku}
    codes = {c for e in entries for c in (e.details.location, e.details.from_location) if c}
    for order in orders.values():
        for line in order.lines:
            skus.add(line.sku)
            if line.pick_location:
                codes.add(line.pick_location)
    for e in applied_refs.values():
        skus.update(c.sku for c in e.changes)
    products = {
        r[0]: Product(
            sku=r[0],
            description=r[1],
            gtins=tuple(json.loads(r[2])),
            lot_tracked=bool(r[3]),
            home_location=r[4],
        )
        for r in tx.keyed(
            "SELECT sku, description, gtins, lot_tracked, home_location FROM products "
            "WHERE sku IN ({keys})",
            sorted(skus),
        )
    }
    codes.update(p.home_location for p in products.values() if p.home_location)
    locations = {
        r[0]: Location(code=r[0], facility=r[1], kind=LocationKind(r[2]), barcode=r[3])
        for r in tx.keyed(
            "SELECT code, facility, kind, barcode FROM locations "
            "WHERE facility = ? AND code IN ({keys})",
            sorted(codes),
            facility,
        )
    }
    operators = {
        r[0]: Operator(badge=r[0], name=r[1], role=r[2], facility=r[3], active=bool(r[4]))
        for r in tx.keyed(
            "SELECT badge, name, role, facility, active FROM operators WHERE badge IN ({keys})",
            sorted({e.operator for e in entries}),
        )
    }
    qoh, atp = _load_stock(tx, facility, skus)
    return BatchState(
        facility=facility,
        stock=Stock(qoh, atp),
        orders=orders,
        reconciled=reconciled,
        products=products,
        locations=locations,
        operators=operators,
        role_map=_roles(tx),
        site_reasons=_reasons(tx),
        applied_refs=applied_refs,
        refused_refs=refused_refs,
        undone_ids=undone,
        resolved_ids=resolved,
    )


def _roles(tx: Tx) -> dict[str, frozenset[Permission]]:
    """The role -> permissions map held here; the built-in defaults while none is imported."""
    rows = tx.all("SELECT role, permissions FROM roles")
    if not rows:
        return dict(DEFAULT_ROLES)
    return {
        r[0]: frozenset(Permission(p) for p in json.loads(r[1]) if p in _PERMISSIONS)
        for r in rows
    }


_PERMISSIONS = {p.value for p in Permission}


def _reasons(tx: Tx) -> SiteReasons:
    """The site's reason lists held here; the built-in defaults while none is imported."""
    rows = tx.all("SELECT body FROM site_reasons WHERE name = 'reasons'")
    return SiteReasons.model_validate_json(rows[0][0]) if rows else DEFAULT_REASONS


def _set_reasons(tx: Tx, reasons: SiteReasons, rev: int) -> None:
    """Replace the reason lists (whole) at revision ``rev``."""
    tx.run("DELETE FROM site_reasons")
    tx.run(
        "INSERT INTO site_reasons (name, body, rev) VALUES ('reasons', ?, ?)",
        (reasons.model_dump_json(), rev),
    )


def _load_stock(
    tx: Tx, facility: str, skus: set[str]
) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
    keys = sorted(skus)
    qoh = {
        (r[0], r[1]): int(r[2])
        for r in tx.keyed(
            "SELECT sku, location, qoh FROM stock_qoh WHERE facility = ? AND sku IN ({keys})",
            keys, facility,
        )
    }
    atp = {
        r[0]: int(r[1])
        for r in tx.keyed(
            "SELECT sku, atp FROM stock_atp WHERE facility = ? AND sku IN ({keys})",
            keys, facility,
        )
    }
    return qoh, atp


def _order_lines(tx: Tx, order_ids: Sequence[str]) -> dict[str, list[OrderLine]]:
    out: dict[str, list[OrderLine]] = {}
    for r in tx.keyed(
        "SELECT order_id, line_no, sku, quantity, picked, pick_location, lot, released, "
        "rejected, put_back, withdrawn FROM order_lines WHERE order_id IN ({keys}) "
        "ORDER BY order_id, line_no",
        list(order_ids),
    ):
        out.setdefault(r[0], []).append(OrderLine.from_row(r[1:]))
    return out


def open_store(url: str, *, migrate: bool = True, wait_s: float = WAIT_S) -> CentralStore:
    """Open the central store named by ``url`` and bring its schema up to date.

    ``postgresql://...`` (or ``postgres://``) is PostgreSQL; ``sqlite:///path``, or a plain
    path, is a SQLite file. ``wait_s``: how long a call waits for a pooled connection or for
    its turn to write before it fails with :class:`StoreError` (the API answers 503).

    Raises:
        StoreError: the database cannot be reached.
    """
    if url.startswith(("postgresql://", "postgres://")):
        engine: SqliteEngine | PostgresEngine = PostgresEngine(url, wait_s=wait_s)
    else:
        path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
        engine = SqliteEngine(Path(path).expanduser(), wait_s=wait_s)
    store = CentralStore(engine)
    if migrate:
        try:
            store.migrate()
        except (sqlite3.Error, psycopg.Error) as exc:
            store.close()
            raise StoreError(f"Cannot open the central store at {_redact(url)}: {exc}") from exc
    return store


def _redact(url: str) -> str:
    # A PostgreSQL URL may hold a password: never print it.
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
