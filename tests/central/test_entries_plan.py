"""Every read of the entries goes through an index, never the whole table, on both engines.

The entries are the central store's largest table, and it grows with every put-back: a read
that scans it costs more each day. Each index also costs every entry ingest writes, so the
table keeps only the indexes its reads use (schema 14 dropped ``entries_by_facility``: nothing
read it). Each test runs the store's own reads on a table of 20,000 entries of ten facilities,
with every statement on the entries explained as it runs: SQLite's plan (it keeps no
statistics), and PostgreSQL's right after the load (none yet) and after ``ANALYZE``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from putback_tui.central.storage import ENTRY_COLUMNS, CentralStore, Client, open_store
from putback_tui.domain.entries import Entry, EntryDetails, EntryKind
from putback_tui.domain.models import iso_utc
from putback_tui.wire import ClientKind
from tests.support.throwaway_pg import ThrowawayPostgres

ENTRIES = 20_000
FACILITIES = 10
AT = datetime(2026, 12, 7, 8, 0, tzinfo=UTC)


def _entry_id(n: int) -> str:
    return f"00000000-0000-7000-8000-{n:012d}"


def _refused(n: int) -> bool:
    return n % 97 == 0 and _resolves(n) is None


def _resolves(n: int) -> int | None:
    """What entry ``n`` resolves (None: it is a put-back): every 389th entry resolves the
    latest refused entry of its facility at least ten entries before it, if there is one.
    """
    if n % 389:
        return None
    # Refused entries are multiples of 97; 97 * k is of n's facility when 7k = n (mod 10).
    k = n // 97 - 1
    k -= (k - 3 * n) % FACILITIES
    return 97 * k if k > 0 else None


def _rows() -> list[tuple[Any, ...]]:
    """The entries of 50 terminals over ten facilities and 2,000 orders, the last 500 applied
    ones not yet published (see :func:`_refused`, :func:`_resolves`).
    """
    rows = []
    for n in range(1, ENTRIES + 1):
        facility = f"F{n % FACILITIES}"
        ref = _resolves(n)
        refused = _refused(n)
        entry = Entry(
            entry_id=_entry_id(n), seq=n // 50 + 1, terminal=f"T{n % 50}", facility=facility,
            operator="OP-1", created_at=AT,
            kind=EntryKind.PUT_BACK if ref is None else EntryKind.RESOLVE,
            order_id=f"{facility}-O{n % 2000}" if ref is None else None,
            details=(EntryDetails(sku="SKU", quantity=1) if ref is None
                     else EntryDetails(resolves=_entry_id(ref))),
        )
        outcome = "refused" if refused else "applied"
        published = not refused and n <= ENTRIES - 500
        rows.append((
            n, entry.entry_id, entry.terminal, facility, entry.seq, entry.kind.value,
            entry.order_id, outcome, "not enough picked" if refused else None, iso_utc(AT),
            entry.model_dump_json(), None, entry.details.resolves, n if published else None,
        ))
    return rows


@pytest.fixture(
    params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres),
            pytest.param("postgres analyzed", marks=pytest.mark.postgres)]
)
def filled(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CentralStore]:
    """A central store holding :func:`_rows`: SQLite; PostgreSQL just loaded; and analyzed."""
    if request.param == "sqlite":
        url = str(tmp_path / "central.sqlite3")
    else:
        cluster: ThrowawayPostgres = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
    store = open_store(url)
    with store.engine.write() as tx:
        tx.insert_rows(
            "entries",
            (*ENTRY_COLUMNS, "event_pos bigint"),
            _rows(),
        )
        tx.run("UPDATE counters SET value = ? WHERE name = 'events'", (ENTRIES - 500,))
        # Revisions (the entries' positions among them) go on after the loaded ones.
        if store.kind == "sqlite":
            tx.run("UPDATE counters SET value = ? WHERE name = 'rev'", (ENTRIES,))
        else:
            tx.run("SELECT setval('central_revs', ?, true)", (ENTRIES,))
    if request.param == "postgres analyzed":
        with store.engine.write() as tx:
            tx.run("ANALYZE entries")
    yield store
    store.close()
    if request.param != "sqlite":
        cluster.drop_database(url)


class _Explaining:
    """A connection whose statements on the entries are explained (each still run)."""

    def __init__(self, conn: Any, sqlite: bool, plans: list[list[str]]) -> None:
        self._conn = conn
        self._sqlite = sqlite
        self._plans = plans

    def execute(self, sql: str, params: Any = (), **kw: Any) -> Any:
        if re.search(r"\b(FROM|UPDATE) entries\b", sql):
            if self._sqlite:
                plan = [r[3] for r in self._conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
            else:
                plan = [r[0] for r in self._conn.execute("EXPLAIN " + sql, params).fetchall()]
            self._plans.append([sql, *plan])
        return self._conn.execute(sql, params, **kw)

    def executemany(self, sql: str, rows: Any) -> Any:
        rows = list(rows)
        if self._sqlite and rows and re.search(r"\bUPDATE entries\b", sql):
            plan = [r[3] for r in self._conn.execute("EXPLAIN QUERY PLAN " + sql, rows[0])]
            self._plans.append([sql, *plan])
        return self._conn.executemany(sql, rows)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


@contextmanager
def explaining(store: CentralStore) -> Iterator[list[list[str]]]:
    """Each statement on the entries the store runs meanwhile: [its SQL, its plan's lines...]."""
    plans: list[list[str]] = []
    engine = store.engine
    opened = {name: getattr(engine, name) for name in ("read", "write", "publishing")}

    def wrapped(open_tx: Callable[..., AbstractContextManager[Any]]) -> Callable[..., Any]:
        @contextmanager
        def open_explained(*args: Any, **kw: Any) -> Iterator[Any]:
            with open_tx(*args, **kw) as tx:
                real = tx.conn
                if isinstance(real, _Explaining):  # SQLite's publishing() is its write()
                    yield tx
                    return
                tx.conn = _Explaining(real, store.kind == "sqlite", plans)
                try:
                    yield tx
                finally:
                    tx.conn = real
        return open_explained

    for name, open_tx in opened.items():
        setattr(engine, name, wrapped(open_tx))
    try:
        yield plans
    finally:
        for name in opened:
            delattr(engine, name)


_SQLITE_SCAN = re.compile(r"^SCAN (entries|e|r)( AS \w+)?$")


def _indexes_read(plan: list[str], sqlite: bool) -> set[str]:
    """The indexes a statement's plan reads the entries through; fails if it scans the table."""
    _sql, *lines = plan
    if sqlite:
        assert not [ln for ln in lines if _SQLITE_SCAN.match(ln.strip())], plan
        found = set(re.findall(r"USING (?:COVERING )?INDEX (\w+)", "\n".join(lines)))
        if any("USING INTEGER PRIMARY KEY" in ln for ln in lines):
            found.add("entries_pkey")
    else:
        assert not [ln for ln in lines if "Seq Scan on entries" in ln], plan
        found = set(re.findall(r"(?:Index|Index Only) Scan (?:Backward )?using (\w+) on entries",
                               "\n".join(lines)))
        found |= set(re.findall(r"Bitmap Index Scan on (\w+)", "\n".join(lines)))
    assert found, plan
    return found


def _indexes_of(store: CentralStore, plans: list[list[str]]) -> list[set[str]]:
    return [_indexes_read(p, store.kind == "sqlite") for p in plans]


def test_the_backlog_reads_refused_entries_and_resolves_through_their_partial_indexes(
    filled: CentralStore,
) -> None:
    with explaining(filled) as plans:
        backlog = filled.backlog(["F1", "F3"], AT)
        detail = filled.facility_detail("F3", AT)
    refused = {f: {n for n in range(1, ENTRIES + 1) if _refused(n) and n % FACILITIES == f}
               for f in (1, 3)}
    resolved = {_resolves(n) for n in range(1, ENTRIES + 1)}
    assert len(refused[3] & resolved) > 1
    assert [f.refused_waiting for f in backlog.facilities] == [
        len(refused[1] - resolved), len(refused[3] - resolved)
    ]
    assert [r.entry_id for r in detail.refused] == [
        _entry_id(n) for n in sorted(refused[3] - resolved)
    ]
    indexes = _indexes_of(filled, plans)
    # Refused entries and their resolves counted, for the backlog and again for the detail;
    # the facility's refused entries listed.
    assert len(indexes) == 5, plans
    assert set().union(*indexes) <= {"entries_refused", "entries_resolves", "entries_by_ref"}
    assert all(i & {"entries_refused", "entries_resolves"} for i in indexes), plans


def test_a_facility_s_event_feed_reads_the_event_indexes(filled: CentralStore) -> None:
    with explaining(filled) as plans:
        first = filled.events(0, 100, "F3")
        late = filled.events(ENTRIES - 1000, 100, "F3")
    assert [e.position for e in first.events][:3] == [3, 13, 23]
    # From a cursor late in the feed (the first read published the last 500 entries after it).
    assert late.events[0].position == ENTRIES - 997
    indexes = _indexes_of(filled, plans)
    assert set().union(*indexes) <= {
        "entries_unpublished",  # what publishing looks for
        "entries_pkey",  # and gives positions to, by key
        "entries_events_by_facility", "entries_by_event",  # the page of the facility
    }, plans
    assert [p for p, i in zip(plans, indexes, strict=True) if "entries_unpublished" in i]


def test_an_order_s_history_and_a_terminal_s_own_entries_are_read_by_their_keys(
    filled: CentralStore,
) -> None:
    with filled.engine.write() as tx:
        tx.run("INSERT INTO orders (order_id, facility, status) "
               "VALUES ('F3-O3', 'F3', 'in_progress')")
        tx.run("INSERT INTO order_progress (facility, order_id, rev) VALUES ('F3', 'F3-O3', 1)")
    with explaining(filled) as plans:
        history = filled.order_history("F3-O3")
        own = filled.own_entries("T3", 300, 10)
    assert history is not None
    assert [e.position for e in history.entries] == list(range(3, ENTRIES + 1, 2000))
    assert len(own) == 10
    indexes = _indexes_of(filled, plans)
    assert indexes[0] == {"entries_by_order"}, plans
    if filled.kind == "sqlite":
        # The index (the order alone) ends with the row's key, the position: no sort.
        assert not [ln for ln in plans[0] if "TEMP B-TREE" in ln], plans
    assert len(indexes) == 2, plans
    assert indexes[1] <= {"sqlite_autoindex_entries_2", "entries_terminal_seq_key"}, plans


def test_a_batch_reads_the_entries_it_names_by_their_keys(filled: CentralStore) -> None:
    filled.add_client("T-NEW", ClientKind.TERMINAL, "F3")
    resolve = Entry(
        entry_id=_entry_id(ENTRIES + 1), seq=1, terminal="T-NEW", facility="F3",
        operator="OP-1", created_at=AT, kind=EntryKind.RESOLVE,
        details=EntryDetails(resolves=_entry_id(97 * 9)),  # refused, F3's (see _resolves)
    )
    with explaining(filled) as plans:
        [result] = filled.ingest(Client("T-NEW", ClientKind.TERMINAL, "F3"), [resolve])
    assert result.outcome  # judged (the operator is unknown here: refused, and recorded)
    reads = [p for p in plans if p[0].lstrip().startswith("SELECT")]
    indexes = _indexes_of(filled, reads)
    assert len(indexes) == 3, reads  # the batch's IDs; the entry it resolves; its resolves
    assert set().union(*indexes) <= {
        "sqlite_autoindex_entries_1", "entries_entry_id_key", "entries_by_ref"
    }, reads
