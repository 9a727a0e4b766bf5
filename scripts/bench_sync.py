"""Benchmark of sync into the central store; run through scripts/bench-sync.

1. Drain: one terminal's backlog of N ledger entries (put-backs with line and stock changes)
   sent by the real SyncWorker over HTTP to a central store served by `putback central serve`
   in its own process, on SQLite and on PostgreSQL. Baseline, measured in the same run: the
   same entries inserted straight into the same database (executemany, one transaction per
   batch of the same size, no HTTP, no checks).
2. Fan-in: 50 terminals pushing concurrently to PostgreSQL: entries per second and the p99
   time to answer one batch.

With --ladder, also where the drain's time goes, as rates against the same baseline: each rung
adds one part of what the drain does, on the same entries, each into a fresh database.

   keyed insert      the entries into the central store's own ``entries`` table (with the
                     unique keys exactly-once stands on), same transactions as the baseline
   database work     every statement ingest runs for these batches (reads, the entry rows,
                     lines, orders, stock), recorded from a real ingest and replayed: the
                     database's share with no Python deciding anything
   + validation      that, plus validating every entry from its JSON as the API does
   ingest            validation and ``CentralStore.ingest`` in this process: no HTTP, no
                     terminal
   drain             the real thing, as above
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from putback_tui.central.app import split_batch, tune_garbage_collector
from putback_tui.central.server import free_port
from putback_tui.central.storage import CentralStore, Client, Tx, open_store
from putback_tui.config import SyncSettings
from putback_tui.domain.entries import Entry, EntryDetails, EntryDraft, EntryKind, new_entry_id
from putback_tui.domain.models import (
    LineChange,
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    StockChange,
)
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.sync.client import SyncClient
from putback_tui.sync.worker import SyncWorker
from putback_tui.wire import ClientKind, batch_json

SKUS = [f"SKU-{i:04d}" for i in range(200)]
ORDERS = 2000


class CheckFailed(SystemExit):
    """The benchmark's own check of its results failed: figures of wrong work are no figures."""

    def __init__(self, message: str) -> None:
        print(f"bench-sync: FAILED: {message}", file=sys.stderr, flush=True)
        super().__init__(1)


def check_applied(what: str, outcomes: list[str], expected: int) -> None:
    """Every one of ``expected`` entries was applied, none refused or a duplicate."""
    counts = {o: outcomes.count(o) for o in sorted(set(outcomes))}
    if len(outcomes) != expected or counts != {"applied": expected}:
        raise CheckFailed(f"{what}: {expected} entries sent, answers {counts or 'none'}")


def setup_reference(store: CentralStore, facility: str) -> None:
    orders = [
        Order(order_id=f"{facility}-O{i}", facility=facility, status=OrderStatus.CANCELLED,
              lines=(OrderLine(line_no=1, sku=SKUS[i % len(SKUS)], quantity=10**6,
                               picked=10**6),))
        for i in range(ORDERS)
    ]
    store.import_data(
        # What the central store judges each put-back against: product, location, operator.
        products=[Product(sku=s, description=s) for s in SKUS],
        locations=[Location(code=f"{facility}-A-01", facility=facility,
                            kind=LocationKind.STORAGE, barcode=f"LOC:{facility}-A-01")],
        operators=[Operator(badge="OP-1", name="Bench Operator", role="operator")],
        orders=orders,
        stock=[(facility, s, f"{facility}-A-01", 100) for s in SKUS],
        atp=[(facility, s, 100) for s in SKUS],
    )


def draft(i: int, facility: str) -> EntryDraft:
    order = i % ORDERS
    sku = SKUS[order % len(SKUS)]
    return EntryDraft(
        kind=EntryKind.PUT_BACK, order_id=f"{facility}-O{order}",
        details=EntryDetails(sku=sku, quantity=1, location=f"{facility}-A-01"),
        changes=(StockChange(sku=sku, location=f"{facility}-A-01", qoh=1),
                 StockChange(sku=sku, atp=1)),
        line_changes=(LineChange(order_id=f"{facility}-O{order}", line_no=1, put_back=1),),
    )


def entries_for(terminal: str, facility: str, n: int) -> list[Entry]:
    now = datetime.now(UTC)
    return [
        Entry(**draft(i, facility).model_dump(), entry_id=new_entry_id(), seq=i + 1,
              terminal=terminal, facility=facility, operator="OP-1", created_at=now)
        for i in range(n)
    ]


@contextmanager
def server_gc() -> Iterator[None]:
    """The garbage collector set as ``central serve`` sets it, restored afterwards.

    Every timed part runs under the same settings: 100,000 entry models held by this process
    would otherwise make Python's own full collections a part of whatever is timed.
    """
    threshold = gc.get_threshold()
    tune_garbage_collector()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.set_threshold(*threshold)


def insert_straight(store: CentralStore, table: str, entries: list[Entry], batch: int) -> float:
    """Entries per second inserting the entries' rows into ``table``, a transaction a batch."""
    start = time.perf_counter()
    for i in range(0, len(entries), batch):
        rows = [
            (1_000_000_000 + i + k, e.entry_id, e.terminal, e.facility, e.seq, e.kind.value,
             e.order_id, "applied", None, e.created_at.isoformat(), e.model_dump_json(),
             None, None, None)
            for k, e in enumerate(entries[i : i + batch])
        ]
        with store.engine.write() as tx:
            tx.many(f"INSERT INTO {table} VALUES ({', '.join('?' * len(rows[0]))})", rows)
    return len(entries) / (time.perf_counter() - start)


def baseline(store: CentralStore, entries: list[Entry], batch: int) -> float:
    """Entries per second inserting the same rows straight into the same database.

    Into a table of the entries' columns without keys or indexes: the least a database can
    do to store them.
    """
    with store.engine.write() as tx:
        tx.run("CREATE TABLE bench_baseline AS SELECT * FROM entries WHERE 1 = 0")
    with server_gc():
        return insert_straight(store, "bench_baseline", entries, batch)


def backlog(path: Path, n: int) -> None:
    """A terminal ledger holding ``n`` unsent put-backs of terminal T1 at F1 (made offline)."""
    ledger = Ledger(path)
    with ledger.write() as tx:
        for i in range(n):
            tx.append(draft(i, "F1"), terminal="T1", facility="F1", operator="OP-1")
    ledger.close()


Calls = list[tuple[str, tuple[Any, ...]]]
"""The calls made on one transaction: method name and arguments."""


class _Recorder:
    """A transaction that keeps every call made on it, to be replayed on another database."""

    def __init__(self, tx: Tx, calls: Calls) -> None:
        self._tx = tx
        self._calls = calls

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._tx, name)

        def call(*args: Any) -> Any:
            args = tuple(list(a) if not isinstance(a, str | int) else a for a in args)
            self._calls.append((name, args))
            return method(*args)

        return call


@contextmanager
def recording(store: CentralStore, calls: list[Calls]) -> Iterator[None]:
    """While open, every write transaction of ``store`` is recorded, one list per transaction."""
    engine = store.engine
    write = engine.write

    @contextmanager
    def recorded() -> Iterator[Any]:
        with write() as tx:
            calls.append([])
            yield _Recorder(tx, calls[-1])

    engine.write = recorded  # type: ignore[method-assign]
    try:
        yield
    finally:
        engine.write = write  # type: ignore[method-assign]


def ladder(
    kind: str, new_db: Callable[[str], str], n: int, batch: int, work: Path
) -> dict[str, float]:
    """Entries per second of each rung (see the module docstring), on fresh databases."""
    with server_gc():
        return _ladder(kind, new_db, n, batch, work)


def _ladder(
    kind: str, new_db: Callable[[str], str], n: int, batch: int, work: Path
) -> dict[str, float]:
    rates: dict[str, float] = {}

    def fresh(name: str) -> CentralStore:
        store = open_store(new_db(name))
        setup_reference(store, "F1")
        store.add_client("T1", ClientKind.TERMINAL, "F1")
        return store

    ledger_path = work / f"ladder-{kind}-terminal.sqlite3"
    backlog(ledger_path, n)
    ledger = Ledger(ledger_path)
    texts: list[str] = []
    with ledger.read() as tx:  # the batch bodies the sync worker would send
        after = 0
        while (out := book.outgoing(tx, after, batch)).seqs:
            texts.append(batch_json(out.entries_json))
            after = out.seqs[-1]
    ledger.close()

    store = fresh("ladder_keyed")
    rates["keyed insert"] = insert_straight(store, "entries", entries_for("T1", "F1", n), batch)
    store.close()

    store = fresh("ladder_ingest")
    client = Client("T1", ClientKind.TERMINAL, "F1")
    calls: list[Calls] = []
    outcomes: list[str] = []
    validating = 0.0
    start = time.perf_counter()
    with recording(store, calls):
        for text in texts:
            t0 = time.perf_counter()
            received = split_batch(text)
            validating += time.perf_counter() - t0
            if received is None:
                raise CheckFailed(f"ladder ({kind}): a batch body did not split")
            results = store.ingest(client, received.entries, bodies=received.bodies)
            outcomes += [r.outcome.value for r in results]
    ingest_s = time.perf_counter() - start
    store.close()
    check_applied(f"ladder ({kind}) ingest", outcomes, n)

    store = fresh("ladder_replay")
    start = time.perf_counter()
    for transaction in calls:
        with store.engine.write() as tx:
            for name, args in transaction:
                getattr(tx, name)(*args)
    replay_s = time.perf_counter() - start
    store.close()
    rates["database work"] = n / replay_s
    rates["+ validation"] = n / (replay_s + validating)
    rates["ingest"] = n / ingest_s
    return rates


def serve(db: str, workers: int = 1) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-c", "from putback_tui.cli import main; main()", "central", "serve",
         "--db", db, "--port", str(port), "--workers", str(workers)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            urllib.request.urlopen(url + "/openapi.json", timeout=1).close()
            return proc, url
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("central store did not start") from None
            time.sleep(0.1)


def drain(db: str, store: CentralStore, n: int, batch: int, work: Path) -> tuple[float, float]:
    setup_reference(store, "F1")
    token = store.add_client("T1", ClientKind.TERMINAL, "F1")
    backlog(work / f"{store.kind}-terminal.sqlite3", n)  # not timed
    proc, url = serve(db)
    try:
        worker = SyncWorker(
            work / f"{store.kind}-terminal.sqlite3",
            SyncSettings(url=url, token=SecretStr(token), batch_size=batch),
        )
        start = time.perf_counter()
        state = worker.run_once()
        took = time.perf_counter() - start
        worker.stop()
    finally:
        proc.terminate()
        proc.wait()
    if (state.waiting, state.refused, state.last_error) != (0, 0, None):
        raise CheckFailed(f"drain into {store.kind}: {state.waiting} entries left waiting, "
                          f"{state.refused} refused, last error {state.last_error}")
    if len(store.recorded("T1")) != n:
        raise CheckFailed(f"drain into {store.kind}: {len(store.recorded('T1'))} of {n} entries "
                          "recorded")
    rate = n / took
    base = baseline(store, entries_for("T1", "F1", n), batch)
    return rate, base


def fan_in(
    db: str, store: CentralStore, terminals: int, per: int, batch: int, workers: int
) -> dict[str, float]:
    names = [f"T{i:02d}" for i in range(terminals)]
    setup_reference(store, "F2")
    tokens = {t: store.add_client(t, ClientKind.TERMINAL, "F2") for t in names}
    # Each terminal's batches as the sync worker sends them (the entries' JSON as the ledger
    # holds it), built before the clock starts: the figure is the central store's, not the
    # cost of 50 simulated terminals serialising models on the same two cores.
    batches = {
        t: [
            ([e.entry_id for e in chunk], [e.model_dump_json(exclude_defaults=True) for e in chunk])
            for chunk in (es[i : i + batch] for i in range(0, len(es), batch))
        ]
        for t in names
        for es in [entries_for(t, "F2", per)]
    }
    proc, url = serve(db, workers)
    times: list[float] = []
    outcomes: list[str] = []
    errors: list[str] = []
    lock = threading.Lock()

    def push(name: str) -> None:
        try:
            with SyncClient(url, tokens[name], timeout_s=120) as client:
                for entry_ids, entries_json in batches[name]:
                    t0 = time.perf_counter()
                    result = client.push_json(entry_ids, entries_json)
                    with lock:
                        times.append(time.perf_counter() - t0)
                        outcomes.extend(r.outcome.value for r in result.results)
        except Exception as exc:  # reported after the run: a thread's exception is lost
            with lock:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

    try:
        threads = [threading.Thread(target=push, args=(t,)) for t in names]
        start = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        took = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait()
    if errors:
        raise CheckFailed(f"fan-in: {len(errors)} of {terminals} terminals failed, first "
                          f"{errors[0]}")
    check_applied("fan-in", outcomes, terminals * per)
    times.sort()
    return {
        "entries_per_s": terminals * per / took,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[max(0, int(len(times) * 0.99) - 1)] * 1000,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 entries, 50 x 400")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("-n", type=int, help="entries to drain (default 100,000; 10,000 quick)")
    parser.add_argument("--per", type=int, help="entries per fan-in terminal (2,000; 400 quick)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--ladder", action="store_true",
                        help="also show where the drain's time goes (see the module docstring)")
    parser.add_argument("--workers", type=int, default=2,
                        help="server processes for the fan-in (central serve --workers)")
    args = parser.parse_args()
    figures: dict[str, object] = {"entries": 0, "batch": args.batch}
    n = args.n or (10_000 if args.quick else 100_000)
    per = args.per or (400 if args.quick else 2000)
    figures.update(entries=n, fan_in_terminals=50, fan_in_per_terminal=per)
    work = Path(tempfile.mkdtemp(prefix="putback-bench-"))
    print(f"drain of {n:,} entries, batches of {args.batch}; fan-in 50 terminals x {per:,} "
          f"entries in batches of 200 (cpus: {os.cpu_count()})")
    # The throwaway cluster is test support (tests/support), not part of the package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.throwaway_pg import ThrowawayPostgres

    pg = ThrowawayPostgres(durable=True).start()
    try:
        for kind in ("sqlite", "postgresql"):
            db = str(work / "central.sqlite3") if kind == "sqlite" else pg.create_database("bench")
            store = open_store(db)
            rate, base = drain(db, store, n, args.batch, work)
            print(f"{kind:<10} drain {rate:>9,.0f} entries/s   baseline {base:>9,.0f} entries/s "
                  f"  ratio {rate / base:.2f}")
            figures[f"drain_{kind}"] = {"entries_per_s": rate, "baseline_entries_per_s": base,
                                        "ratio": rate / base}
            store.close()
            if args.ladder:
                def new_db(name: str, kind: str = kind) -> str:
                    if kind == "sqlite":
                        return str(work / f"{name}.sqlite3")
                    return pg.create_database(name)

                rungs = ladder(kind, new_db, n, args.batch, work)
                for rung, value in rungs.items():
                    print(f"{'':<10} {rung:<16} {value:>9,.0f} entries/s   "
                          f"ratio {value / base:.2f}")
                figures[f"ladder_{kind}"] = {r: {"entries_per_s": v, "ratio": v / base}
                                             for r, v in rungs.items()}
        db = pg.create_database("fanin")
        store = open_store(db)
        fig = fan_in(db, store, 50, per, 200, args.workers)
        store.close()
        print(f"postgresql 50 terminals {fig['entries_per_s']:>9,.0f} entries/s   batch answer "
              f"p50 {fig['p50_ms']:.0f} ms, p99 {fig['p99_ms']:.0f} ms "
              f"({args.workers} server workers)")
        figures["fan_in_postgresql"] = {**fig, "workers": args.workers}
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        pg.stop()
        shutil.rmtree(work, ignore_errors=True)  # a full run leaves over 500 MB of databases


if __name__ == "__main__":
    main()
