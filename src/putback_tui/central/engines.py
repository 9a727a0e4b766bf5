"""The central store's two engines, SQLite and PostgreSQL, behind one :class:`Engine` protocol.

The store's queries are written once with ``?`` placeholders against :class:`Tx`; an engine
supplies how a connection is made (a small pool), how a write transaction takes its locks, and
the dialect (placeholders, bulk writes, column types, how revisions are handed out).

Transactions: **one per batch**. A batch is the unit the terminal retries, so making it atomic
means a retried batch finds either all of it or none of it; and one commit per batch (not per
entry) is what lets ingest keep up with a backlog.

Writers are serialised **per facility**, never across facilities (docs/design.md, "Facilities
never wait on each other"). A write names its scope: a facility (a terminal's batch, an order's
status) or the whole network (imports of reference data, enrolment). On PostgreSQL a facility's
writers take that facility's transaction-scoped advisory lock, exclusive, and the network lock
shared; a network-wide write takes the network lock exclusive, so it waits for the facilities'
writes in flight and they wait for it. Revisions come from one sequence, taken after the locks:
within a facility (and its view of the network-wide rows) they become visible in the order they
were handed out, which keeps the changes feed's cursor exact, while writers of two facilities
never wait for each other. The locks are the database's, so any number of API processes on any
number of hosts can write to one database. SQLite has one writer at a time anyway (``BEGIN
IMMEDIATE``). Within one process, writers first take turns on a lock in memory (one per
facility on PostgreSQL, one in all on SQLite: :class:`_WriterTurn`), so that many terminals
pushing at once queue there, not inside the database.
"""

from __future__ import annotations

import hashlib
import json
import queue
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Generic, Protocol, TypeVar

import msgspec
import psycopg

Row = tuple[Any, ...]
WAIT_S = 30.0
"""How long a call waits for a database connection, or for its turn to write, by default."""
_CHUNK = 500
"""Keys per ``IN (...)`` list on SQLite: well under its parameter limit."""

DRIVER_ERRORS: tuple[type[Exception], ...] = (sqlite3.Error, psycopg.Error)
"""What either driver raises when the database refuses or fails."""
INTEGRITY_ERRORS: tuple[type[Exception], ...] = (sqlite3.IntegrityError, psycopg.IntegrityError)
"""What either driver raises when a write breaks a constraint (a unique key, a CHECK)."""


class StoreError(Exception):
    """The central store cannot do what was asked; the message says why."""


Answer = Callable[[], list[Row]]
"""A query's rows, read when called (:meth:`Tx.ask`)."""


class Tx(Protocol):
    """What the queries need of an open transaction.

    The writes that return nothing (:meth:`many`, :meth:`insert_rows`, :meth:`update_rows`,
    :meth:`upsert_rows`) may be sent with the statements after them: on PostgreSQL a write
    transaction sends them with its next read, or with its ``COMMIT``, in one round trip.
    An error of theirs is then raised there, never lost: the transaction is rolled back.
    """

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
        self,
        table: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        where: str = "",
        exprs: Mapping[str, str] | None = None,
    ) -> None:
        """Set ``columns`` of many rows, each found by ``keys``; a row gives columns then keys.

        ``where``: a further condition on each row, an SQL expression of this module in which
        ``{name}`` stands for the row's value of column ``name`` (``table.column`` reads the
        table's own), e.g. ``t.n IS NULL OR t.n > {n}``. Rows it is false for stay as they are.
        ``exprs``: for a column, what it is set to instead of the row's value: an expression
        written the same way, e.g. ``CASE WHEN t.n > {n} THEN {n} ELSE t.n END``.
        """

    def upsert_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        """Insert many rows, or update those whose ``keys`` exist; a row gives keys then columns."""

    def keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> list[Row]:
        """Run a query for many text keys: ``{keys}`` in ``sql`` stands for the list.

        ``extra`` parameters come before the keys. Written ``column IN ({keys})``.
        """

    def ask(self, sql: str, params: Sequence[Any] = ()) -> Answer:
        """Send a query now; its rows are read when the answer is called.

        On PostgreSQL the queries asked one after another, and the writes before them, travel
        together: one round trip for all of them, at the first call of an answer. On SQLite
        the query runs at once.
        """

    def ask_keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> Answer:
        """:meth:`keyed`, sent now and read when the answer is called (see :meth:`ask`)."""

    def revisions(self, n: int) -> list[int]:
        """``n`` new revisions (also feed positions), increasing; each handed out once.

        Within the write's scope they are greater than every revision committed before, so
        take them inside the write transaction, after its locks (see the module).
        """

    def revision(self) -> int:
        """The newest revision handed out so far (0: none)."""


class Engine(Protocol):
    """One database the central store runs on: how transactions are opened, and its dialect.

    :class:`SqliteEngine` and :class:`PostgresEngine` are the two; the store's queries, the
    migrations and the tests are written once against this.
    """

    name: str
    """``sqlite`` or ``postgresql``."""
    types: dict[str, str]
    """The dialect's spelling of the schema's ``{pk}`` and ``{big}`` column types."""

    @property
    def location(self) -> str:
        """Where the database is: a file path or a URL."""

    def write(self, facility: str | None = None) -> AbstractContextManager[Tx]:
        """A write transaction holding the writers' locks of its scope: commit on exit.

        ``facility``: the one facility whose rows it writes (its writers are serialised,
        other facilities' are not); None: the whole network (waits for every facility's
        writes in flight, and they for it). See the module.
        """

    def publishing(self) -> AbstractContextManager[Tx]:
        """A transaction for giving committed entries their event positions, one at a time."""

    def read(self) -> AbstractContextManager[Tx]:
        """A read-only transaction over one snapshot."""

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """Every row of one query, which sees one snapshot of its own.

        No transaction is opened around it: one statement where :meth:`read` costs three
        (on PostgreSQL three round trips), for a lookup made on every request.
        """

    def migrating(self) -> AbstractContextManager[Tx]:
        """A transaction for schema changes, one migrating process at a time."""

    def close(self) -> None:
        """Close every idle connection."""


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

    SQLite lets one writer in at a time anyway (module docstring). Without this, every
    thread with a batch to write would open its transaction and wait inside the database: each
    holds a pooled connection while it waits, SQLite's waiters poll with sleeps of up to 100 ms
    (the lock can sit free meanwhile), and the waiting threads' Python work fights the one
    writer for the interpreter. Waiting here hands the turn over at once. Writers in other
    processes (``central serve --workers``) still take turns in the database.

    On PostgreSQL there is one turn per facility (``turn(facility)``), for the same reasons:
    a facility's writers queue here rather than each holding a connection inside the database,
    while other facilities' writers go on. It only orders this process's threads: what keeps
    writes right, across processes and hosts, is the database's locks.
    """

    def __init__(self, wait_s: float) -> None:
        self._lock = threading.Lock()
        self._wait_s = wait_s
        self._facilities: dict[str, threading.Lock] = {}

    def turn(self, facility: str | None = None) -> AbstractContextManager[None]:
        lock = self._lock
        if facility is not None:
            with self._lock:
                lock = self._facilities.setdefault(facility, threading.Lock())
        return _held(lock, self._wait_s, "another write kept the database busy")


@contextmanager
def _held(lock: threading.Lock | threading.Semaphore, wait_s: float, busy: str) -> Iterator[None]:
    """Hold ``lock`` for the block; after ``wait_s`` without it, StoreError("{busy} for N s")."""
    if not lock.acquire(timeout=wait_s):
        raise StoreError(f"{busy} for {wait_s:g} s")
    try:
        yield
    finally:
        lock.release()


def _set_where(
    columns: Sequence[str],
    keys: Sequence[str],
    value: Mapping[str, str],
    where: str,
    exprs: Mapping[str, str] | None,
    key_of: str = "",
) -> tuple[str, str]:
    """The SET list and the WHERE condition of :meth:`Tx.update_rows`, for both engines.

    ``value``: how the engine's statement names a row's value of each column (a numbered
    parameter, a column of the recordset); ``key_of``: what qualifies the table's own key
    columns where the statement needs it.
    """
    sets = ", ".join(
        f"{n} = {(exprs or {}).get(n, '{' + n + '}').format(**value)}" for n in _names(columns)
    )
    found = " AND ".join(f"{key_of}{n} = {value[n]}" for n in _names(keys))
    if where:
        found += f" AND ({where.format(**value)})"
    return sets, found


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
        self,
        table: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        where: str = "",
        exprs: Mapping[str, str] | None = None,
    ) -> None:
        # Numbered parameters: a condition may read a row's value more than once.
        value = {n: f"?{i}" for i, n in enumerate(_names([*columns, *keys]), 1)}
        sets, found = _set_where(columns, keys, value, where, exprs)
        self.conn.executemany(f"UPDATE {table} SET {sets} WHERE {found}", rows)

    def upsert_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        self.conn.executemany(_upsert_sql(table, columns, keys, "?"), rows)

    def revision(self) -> int:
        return int(self.conn.execute("SELECT value FROM counters WHERE name = 'rev'").fetchone()[0])

    def revisions(self, n: int) -> list[int]:
        # Inside BEGIN IMMEDIATE: no other writer can read the counter in between.
        value = self.revision()
        if n > 0:
            self.conn.execute("UPDATE counters SET value = ? WHERE name = 'rev'", (value + n,))
        return list(range(value + 1, value + n + 1))

    def ask(self, sql: str, params: Sequence[Any] = ()) -> Answer:
        rows = self.all(sql, params)
        return lambda: rows

    def ask_keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> Answer:
        rows = self.keyed(sql, keys, *extra)
        return lambda: rows

    def keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> list[Row]:
        out: list[Row] = []
        for i in range(0, len(keys), _CHUNK):
            chunk = keys[i : i + _CHUNK]
            marks = ",".join("?" * len(chunk))
            out += self.conn.execute(sql.format(keys=marks), [*extra, *chunk]).fetchall()
        return out


class _PgTx:
    """A PostgreSQL transaction; in a write, in pipeline mode (:meth:`pipelined`).

    In pipeline mode a statement is sent without waiting for its answer: the writes that
    return nothing go with the next statement whose answer is read, and the last ones with the
    ``COMMIT``. A batch's ingest takes 6 round trips so, where it took about 20 waiting for
    each answer: fewer waits inside the facility's turn, and fewer wake-ups of the backend and
    of the request's thread (docs/performance-log.md, "Session 10: PostgreSQL's round trips").
    """

    def __init__(self, conn: psycopg.Connection[Row]) -> None:
        self.conn = conn
        self._pipelined = False
        self._pipeline: psycopg.Pipeline | None = None
        self._mode: AbstractContextManager[psycopg.Pipeline] | None = None

    @contextmanager
    def pipelined(self) -> Iterator[None]:
        """Pipeline mode for the block; leaving it sends what is queued and reads the answers.

        An error of a queued statement is raised here if no read raised it before. COPY has
        no pipeline mode: the block leaves it for a COPY and takes it up again after.
        """
        self._pipelined = True
        try:
            yield
        except BaseException as exc:
            self._leave(exc)
            raise
        finally:
            self._pipelined = False
        self._leave(None)

    def _resume(self) -> None:
        """Pipeline mode again, in a pipelined block that left it (for a COPY, revisions)."""
        if self._pipelined and self._pipeline is None:
            self._mode = self.conn.pipeline()
            self._pipeline = self._mode.__enter__()

    def _execute(self, sql: Any, params: Sequence[Any] = ()) -> psycopg.Cursor[Row]:
        self._resume()
        return self.conn.execute(sql, params)

    def _leave(self, exc: BaseException | None) -> None:
        """Out of pipeline mode: send what is queued, with a sync, and read every answer."""
        mode, self._mode, self._pipeline = self._mode, None, None
        if mode is not None:
            mode.__exit__(type(exc) if exc else None, exc, exc.__traceback__ if exc else None)

    @staticmethod
    def _sql(sql: str) -> Any:
        # Queries are literals of this module, never user text: '?' is only a placeholder.
        return sql.replace("?", "%s")

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._execute(self._sql(sql), params).fetchall()

    def ask(self, sql: str, params: Sequence[Any] = ()) -> Answer:
        # In pipeline mode fetchall() sends what is queued and reads every answer up to its own.
        return self._execute(self._sql(sql), params).fetchall

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        cursor = self._execute(self._sql(sql), params)
        if self._pipeline is not None:
            self._pipeline.sync()  # the count of rows changed is in the answer
        return cursor.rowcount

    def many(self, sql: str, rows: Iterable[Sequence[Any]]) -> None:
        self._resume()
        with self.conn.cursor() as cur:
            cur.executemany(self._sql(sql), rows)

    # PostgreSQL is a round trip away: one statement per batch, never one per row (even
    # pipelined, executemany costs about 35 us a row). Rows travel as one COPY, or as one array
    # literal a column read by unnest (_rows_source): psycopg adapts lists to arrays slowly,
    # and PostgreSQL reads the same rows from a JSON recordset at three to four times the cost.

    def insert_rows(self, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
        if not rows:
            return
        sql = f"COPY {table} ({', '.join(_names(columns))}) FROM STDIN"
        self._leave(None)  # COPY has no pipeline mode (see pipelined())
        with self.conn.cursor() as cur, cur.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def update_rows(
        self,
        table: str,
        columns: Sequence[str],
        keys: Sequence[str],
        rows: Sequence[Row],
        where: str = "",
        exprs: Mapping[str, str] | None = None,
    ) -> None:
        if not rows:
            return
        value = {n: f"v.{n}" for n in _names([*columns, *keys])}
        sets, found = _set_where(columns, keys, value, where, exprs, key_of=f"{table}.")
        source, params = _rows_source([*columns, *keys], rows)
        lead = _names(keys)[0]
        if lead == "facility":
            # Joined on the whole key: the arrays, counted as a few rows, make the planner
            # probe the primary key for each row (an order's progress). As a JSON recordset,
            # counted as 100 rows, it hash-joined them with a scan of the whole table, every
            # facility's rows, up to some 45,000 of them (statistics or none): at ten
            # facilities of 2,000 orders, batches of 200, 19 us a row of the backend against 9
            # (docs/performance-log.md, "Session 12: the ingest's plans before statistics").
            sql = f"UPDATE {table} SET {sets} FROM {source} WHERE {found}"
        else:
            # Rows found by a key that does not start with the facility (an order's lines, an
            # order by its ID) are the rows of every facility: the planner, counting on 100
            # rows of the recordset, hash-joins it with a scan of the whole table. The leading
            # key also as ``= ANY(ARRAY(...))`` (implied by the join: the same rows) makes it
            # read them through the index, as keyed() does. Not for a facility-leading key:
            # the array (one facility repeated) made it five times slower
            # (docs/performance-log.md, "Where the fan-in's PostgreSQL time goes").
            sql = (
                f"WITH v AS MATERIALIZED (SELECT * FROM {source}) "
                f"UPDATE {table} SET {sets} FROM v WHERE {found} "
                f"AND {table}.{lead} = ANY(ARRAY(SELECT v.{lead} FROM v))"
            )
        self._execute(sql, params)

    def upsert_rows(
        self, table: str, columns: Sequence[str], keys: Sequence[str], rows: Sequence[Row]
    ) -> None:
        if not rows:
            return
        every = [*keys, *columns]
        source, params = _rows_source(every, rows)
        select = f"SELECT {', '.join(_names(every))} FROM {source}"
        self._execute(_upsert_sql(table, columns, keys, select), params)

    def revision(self) -> int:
        [(value, called)] = self._execute(
            "SELECT last_value, is_called FROM central_revs"
        ).fetchall()
        return int(value) if called else 0

    def revisions(self, n: int) -> list[int]:
        if n <= 0:
            return []
        # One sequence, no cache (schema.py, migration 7): values come in the order asked.
        # They come back as one row: the lowest and the highest when they are every number
        # in between (no other writer took one meanwhile, as is usual), else all of them. A
        # row a value cost this process about 0.6 ms for a batch of 1,000 put-backs (2,400
        # revisions). The sub-select is not flattened into the aggregates (it calls a
        # volatile function): one nextval a row.
        cursor = self._execute(
            "SELECT min(v), max(v), CASE WHEN max(v) - min(v) + 1 = count(*) THEN NULL "
            "ELSE array_agg(v) END "
            "FROM (SELECT nextval('central_revs') AS v FROM generate_series(1, %s)) AS s",
            (n,),
        )
        # Out of pipeline mode with this answer, in the same round trip: what follows the
        # revisions in a batch's write is the entries' COPY, which needs it left.
        self._leave(None)
        [(low, high, scattered)] = cursor.fetchall()
        return _revisions_of(low, high, scattered)

    def keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> list[Row]:
        return self.ask_keyed(sql, keys, *extra)()

    def ask_keyed(self, sql: str, keys: Sequence[str], *extra: Any) -> Answer:
        # ``column = ANY(ARRAY(...))``: the planner cannot see into the array, counts on a few
        # keys and reads them through the index. As ``IN (SELECT json_array_elements_text
        # ...)`` it counts on 100 and, on tables of some tens of thousands of rows (every
        # facility's order lines), hash-joins them with a scan of the whole table: 5-7 times
        # the work of the index for a batch of 200 (docs/performance-log.md, "Where the fan-in's
        # PostgreSQL time goes").
        query = (
            self._sql(sql)
            .replace("IN ({keys})", "= ANY(ARRAY({keys}))")
            .format(keys="SELECT json_array_elements_text(%s::json)")
        )
        return self._execute(query, [*extra, _json(list(keys))]).fetchall


def _revisions_of(low: int, high: int, scattered: list[int] | None) -> list[int]:
    """The revisions :meth:`_PgTx.revisions` took, increasing, from its one row.

    ``scattered`` is None when they are every number from ``low`` to ``high``; else all of
    them, in the order taken.
    """
    if scattered is None:
        return list(range(int(low), int(high) + 1))
    return sorted(int(v) for v in scattered)


def _rows_source(columns: Sequence[str], rows: Sequence[Row]) -> tuple[str, list[str]]:
    """``rows`` as a FROM item named ``v`` with ``columns`` (``"name type"``), and its parameters.

    One array literal a column, read by ``unnest``: PostgreSQL parses a thousand rows of them in
    a quarter to a third of the time ``json_to_recordset`` takes over the same rows as JSON
    objects (docs/performance-log.md, "Session 11: PostgreSQL's ingest (a)"). Each array is a
    sub-select, so that the planner cannot count its elements: it counts on a few rows (on
    100 of a recordset) and so, with statistics or without, probes the table's index for each
    row rather than scan the table (an update by the whole key, see :meth:`_PgTx.update_rows`;
    all but a table of a few pages). Counted as they are (a thousand), they would have it scan
    even a table of every facility's rows. Rows holding a value no literal here is
    written for (see :func:`_array_literal`) travel as a JSON recordset, as before, so that
    PostgreSQL judges them exactly as it did.
    """
    arrays = []
    for values in zip(*rows, strict=True):
        literal = _array_literal(values)
        if literal is None:
            return _recordset(columns), [_json_rows(columns, rows)]
        arrays.append(literal)
    if len(arrays) != len(columns):
        raise ValueError(f"rows of {len(arrays)} values for {len(columns)} columns")
    casts = ", ".join(f"(SELECT %s::{c.split(None, 1)[1]}[])" for c in columns)
    return f"unnest({casts}) AS v({', '.join(_names(columns))})", arrays


def _array_literal(values: Sequence[Any]) -> str | None:
    """``values`` as the text of a PostgreSQL array: ints, strings (each quoted) and NULLs.

    None for anything else (a bool, a float...), and for a string PostgreSQL's text cannot
    hold as sent (a NUL, a lone surrogate): the caller sends the rows as JSON then.
    """
    # Texts alone with nothing to escape (the usual column): quoted in one join. Joining them
    # first also tells texts alone: it fails at the first value of another type.
    try:
        joined: str | None = "".join(values)
    except TypeError:
        joined = None
    if joined is not None and '"' not in joined and "\\" not in joined:
        return _checked_text('{"' + '","'.join(values) + '"}')
    items = []
    for v in values:
        if v is None:
            items.append("NULL")
        elif type(v) is int:
            items.append(str(v))
        elif type(v) is str:
            items.append('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"')
        else:
            return None
    return _checked_text("{" + ",".join(items) + "}")


def _checked_text(literal: str) -> str | None:
    """``literal``, or None when it holds a NUL or a lone surrogate (see :func:`_array_literal`)."""
    if "\x00" in literal:
        return None
    if not literal.isascii():
        try:
            literal.encode("utf-8")
        except UnicodeEncodeError:
            return None
    return literal


def _recordset(columns: Sequence[str]) -> str:
    return f"json_to_recordset(%s::json) AS v({', '.join(columns)})"


def _json_rows(columns: Sequence[str], rows: Sequence[Row]) -> str:
    names = _names(columns)
    return _json([dict(zip(names, row, strict=True)) for row in rows])


_encode = msgspec.json.Encoder().encode


def _json(value: Any) -> str:
    """``value`` as JSON text for a ``::json`` parameter: the JSON ``json.dumps`` writes.

    msgspec writes it about three times as fast (a batch's rows: 2.4 -> 0.8 ms a thousand
    rows), with non-ASCII characters as they are rather than escaped: the same JSON value.
    What msgspec will not write (a lone surrogate, an int past 64 bits) goes to ``json.dumps``,
    so PostgreSQL judges it exactly as before.
    """
    try:
        return _encode(value).decode("utf-8")
    except (UnicodeEncodeError, OverflowError, TypeError):
        return json.dumps(value)


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
    def write(self, facility: str | None = None) -> Iterator[Tx]:
        """A write transaction; ``BEGIN IMMEDIATE`` takes the one writers' lock at once.

        SQLite has one writer at a time whatever the scope: ``facility`` changes nothing.
        """
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

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One query, in the transaction SQLite opens for that statement alone."""
        with self._pool.get() as conn:
            return conn.execute(sql, params).fetchall()

    def migrating(self) -> AbstractContextManager[Tx]:
        """A transaction for schema changes: a write (``BEGIN IMMEDIATE`` serialises them)."""
        return self.write()

    def publishing(self) -> AbstractContextManager[Tx]:
        """A write: SQLite's one writer at a time is all the ordering publishing needs."""
        return self.write()

    @property
    def location(self) -> str:
        """The database file."""
        return str(self.path)

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
        self._wait_s = wait_s
        self._turns = _WriterTurn(wait_s)
        self._lock_timeout = f"SET LOCAL lock_timeout = '{max(1, int(wait_s * 1000))}ms'"

    def _connect(self) -> psycopg.Connection[Row]:
        try:
            # autocommit: transactions are opened explicitly, as on SQLite.
            return psycopg.connect(self.url, autocommit=True)
        except psycopg.OperationalError as exc:
            raise StoreError(f"Cannot connect to PostgreSQL: {exc}".strip()) from exc

    @contextmanager
    def _locked(
        self, lock_sql: str, *, patient: bool = False, pipelined: bool = False
    ) -> Iterator[Tx]:
        """A transaction that takes ``lock_sql``'s locks first; commit on exit, else roll back.

        ``lock_sql`` is one or more statements of this module, no parameters (one round trip).
        A lock not granted within ``wait_s`` fails as :class:`StoreError`, unless ``patient``.
        ``pipelined``: the body's statements in pipeline mode (:class:`_PgTx`), for writes of
        one statement each (a string of several, as a migration may run, needs the simple
        protocol, which pipeline mode does not have).
        """
        with self._pool.get() as conn:
            try:
                try:
                    # One round trip: BEGIN and the locks, as one string of statements.
                    conn.execute(
                        f"BEGIN; {lock_sql}" if patient
                        else f"BEGIN; {self._lock_timeout}; {lock_sql}"
                    )
                except psycopg.errors.LockNotAvailable as exc:
                    raise StoreError(
                        f"another write kept the database busy for {self._wait_s:g} s"
                    ) from exc
                tx = _PgTx(conn)
                if pipelined:
                    with tx.pipelined():
                        yield tx
                        conn.execute("COMMIT")  # sent with the writes still queued
                else:
                    yield tx
                    conn.execute("COMMIT")
            except BaseException:
                if not conn.broken:
                    conn.execute("ROLLBACK")
                raise

    @contextmanager
    def write(self, facility: str | None = None) -> Iterator[Tx]:
        """A write transaction holding its scope's advisory locks (see the module)."""
        if facility is None:
            lock = f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, 0)"
            with self._locked(lock, pipelined=True) as tx:
                yield tx
            return
        lock = (
            f"SELECT pg_advisory_xact_lock_shared({_LOCK_CLASS}, 0), "
            f"pg_advisory_xact_lock({_FACILITY_CLASS}, {facility_key(facility)})"
        )
        # This process's writers of the facility queue in memory first (_WriterTurn).
        with self._turns.turn(facility), self._locked(lock, pipelined=True) as tx:
            yield tx

    def publishing(self) -> AbstractContextManager[Tx]:
        """A transaction holding the publishers' lock (only publishers wait for it)."""
        return self._locked(f"SELECT pg_advisory_xact_lock({_LOCK_CLASS}, 1)")

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

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        """One query, outside a transaction block (autocommit: the statement's own snapshot)."""
        with self._pool.get() as conn:
            return _PgTx(conn).all(sql, params)

    def migrating(self) -> AbstractContextManager[Tx]:
        """A transaction for schema changes, serialised by an advisory lock."""
        # Patient: another process's migration may take longer than a request may wait.
        return self._locked("SELECT pg_advisory_xact_lock(7365001)", patient=True)

    @property
    def location(self) -> str:
        """The database URL (it may hold a password: print :func:`redact` of it)."""
        return self.url

    def close(self) -> None:
        """Close every idle connection."""
        self._pool.close()


def _close_pg(conn: psycopg.Connection[Row]) -> None:
    conn.close()


_LOCK_CLASS = 7365002
"""Advisory locks (two-number form) of the central store: (class, 0) the network, (class, 1)
the event publishers. 7365001 is the migrations' lock."""
_FACILITY_CLASS = 7365003
"""Advisory locks (two-number form) of the facilities: (class, :func:`facility_key`)."""


def facility_key(facility: str) -> int:
    """The facility's advisory lock number: a stable 32-bit hash of its name.

    Two facilities whose names hash alike share a lock: they take turns, which is slower
    but never wrong.
    """
    return int.from_bytes(
        hashlib.blake2b(facility.encode("utf-8"), digest_size=4).digest(), "big", signed=True
    )


def open_engine(url: str, *, wait_s: float = WAIT_S) -> Engine:
    """The engine for ``url``; no connection is made until the first transaction.

    ``postgresql://...`` (or ``postgres://``) is PostgreSQL; ``sqlite:///path``, or a plain
    path, is a SQLite file. ``wait_s``: how long a call waits for a pooled connection or for
    its turn to write before it fails with :class:`StoreError`.
    """
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresEngine(url, wait_s=wait_s)
    path = url.removeprefix("sqlite:///") if url.startswith("sqlite:///") else url
    return SqliteEngine(Path(path).expanduser(), wait_s=wait_s)


def redact(url: str) -> str:
    """``url`` with any user and password replaced by ``***`` (safe to print)."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.rsplit('@', 1)[1]}"
    return url
