"""Benchmark of sync into the central store; run through scripts/bench-sync.

Every figure is run ``--runs`` times (3 by default), each run on fresh databases with its own
baseline measured in the same run; the table gives min / median / max over the runs.

(a) ingest     the central store's own rate over HTTP: one terminal's batches, built before
               the clock starts (the JSON the sync worker sends), posted one after another to
               a central store served by ``putback central serve`` in its own process. The
               poster is a lean terminal (:class:`LeanTerminal`): each answer's bytes are
               kept as received and read into models, and checked, after the clock stops.
(b) drain      the same backlog sent by the real SyncWorker from a terminal's ledger, with
               the product's batch settings (200 entries first, growing to 5,000 while
               the central store answers within half a second; ``--batch`` sets both).
               Baseline of (a) and (b): the same entries inserted straight into the same
               database (executemany, one transaction per batch of the same size, no HTTP, no
               checks, a table of the entries' columns without keys or indexes).
(c) fan-in     50 terminals over 10 facilities pushing pre-built batches of 200 at once, to
               PostgreSQL, with 1 and with 2 server processes: entries/s and the p50 / p99
               time to answer one batch. Lean terminals as in (a): 50 simulated terminals
               share the server's two cores, where real ones each have their own machine.
(r) real       the drain of a terminal's real ledger, in the product's first sync of such a
               terminal. (a), (b) and (c) send plain put-backs; a terminal's own backlog is
               mostly releases (until the hot path read them too, in session 12, a batch
               holding one went the ordinary way). A data set generated as scripts/gen-data
               writes one (``--real-orders`` orders) is loaded into the central store
               (``import_path``, which releases the unpicked units of its exception orders) and
               into the terminal's ledger as ``putback init --data`` loads it (which releases
               them too, an entry an order); a supervisor at a Station then opens exception
               orders and puts their picked units back, a tenth as many as the set has orders,
               offline. The terminal has never synced: its pull cursor is 0. The timed round
               is the real SyncWorker's ``run_once``: the push of that backlog (the releases
               first, then the put-backs), then the pull from cursor 0, a full snapshot of the
               facility. The two phases are timed apart: the rate, the ratio and the CPU per
               entry are the push's (the drain: every entry sent, answered and recorded),
               against the baseline of (b) on the backlog's own entries (inserted again until
               10,000 rows, when fewer); the pull's seconds (wall, and CPU of the terminal, the
               server and PostgreSQL) and the whole round's are printed beside them. The
               answers are counted by code (the releases mostly ``already_released``: the
               central store released first); an entry answered otherwise than applied,
               already_released or applied_as_derived, or not at all, fails the figure; so does
               a terminal that ends the round holding figures the central store does not hold
               (``ledger_against_central``: stock, line progress, orders, reconciliations and
               reference data compared key by key, untimed). Printed too: releases and
               put-backs, and the batches that held a release. The set, the ledger and each
               engine's central store are made once (untimed) and copied for every run.
(d) CPU        CPU time per entry of the central store's processes (and of PostgreSQL's,
               split into its backends, autovacuum and its background writers), read from
               /proc before and after each timed part; for (a), (b) and (r) also the
               terminal's (this process's, time.process_time: in (b) and (r) the sync worker's
               two threads). In (r), the push's.

SQLite and PostgreSQL (a throwaway cluster, durable: fsync on, started only when a figure runs
on it). --quick: 10,000 entries, 50 x 200, and (r) from 10,000 orders (about 4,000 entries);
full: 100,000, 50 x 2,000, and (r) from 100,000 orders (about 40,000 entries: PostgreSQL takes
about a millisecond an order to import them, so a backlog the size of (b)'s, from 250,000
orders, costs minutes before the first run).

With --ladder, also where the drain's time goes, as rates against the same baseline: each rung
adds one part of what the drain does, on the same entries, each into a fresh database.

   keyed insert      the entries into the central store's own ``entries`` table (with the
                     unique keys exactly-once stands on), same transactions as the baseline
   database work     every statement ingest runs for these batches (reads, the entry rows,
                     lines, orders, stock), recorded from a real ingest and replayed: the
                     database's share with no Python deciding anything
   + validation      that, plus reading every entry from its JSON as the API reads a batch of
                     plain put-backs (the hot path's msgspec decoder and the endpoint's checks)
   ingest            that reading and ``CentralStore.ingest_hot`` in this process: no HTTP, no
                     terminal
   drain             the real thing, as above
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import re
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, NamedTuple

import bench_ledger
import gen_data
import httpx
from pydantic import SecretStr

from putback_tui.central import hot
from putback_tui.central.app import cut_batch, tune_garbage_collector
from putback_tui.central.imports import import_path
from putback_tui.central.limits import CentralLimits
from putback_tui.central.server import free_port
from putback_tui.central.storage import CentralStore, Client, Tx, open_store
from putback_tui.config import Settings, SyncSettings
from putback_tui.dataset import Dataset
from putback_tui.domain.bounds import MAX_SEQ
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
from putback_tui.ledger.load import load_dataset
from putback_tui.sync.client import SyncClient
from putback_tui.sync.worker import SyncState, SyncWorker
from putback_tui.wire import (
    API_PREFIX,
    BatchResult,
    ChangesPage,
    ClientKind,
    ResultCode,
    batch_json,
)

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
             None, None)
            for k, e in enumerate(entries[i : i + batch])
        ]
        with store.engine.write() as tx:
            # The columns named: the same statement before and after schema 7 (event_pos).
            tx.many(
                f"INSERT INTO {table} (position, entry_id, terminal, facility, seq, kind, "
                "order_id, outcome, reason, received_at, body, effects, ref) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows,
            )
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


Calls = list[tuple[str, tuple[Any, ...], dict[str, Any]]]
"""The calls made on one transaction: method name and arguments."""


class _Recorder:
    """A transaction that keeps every call made on it, to be replayed on another database."""

    def __init__(self, tx: Tx, calls: Calls) -> None:
        self._tx = tx
        self._calls = calls

    def __getattr__(self, name: str) -> Callable[..., Any]:
        method = getattr(self._tx, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            args = tuple(list(a) if not isinstance(a, str | int) else a for a in args)
            self._calls.append((name, args, kwargs))
            return method(*args, **kwargs)

        return call


@contextmanager
def recording(store: CentralStore, calls: list[Calls]) -> Iterator[None]:
    """While open, every write transaction of ``store`` is recorded, one list per transaction."""
    engine = store.engine
    write = engine.write

    @contextmanager
    def recorded(*scope: Any) -> Iterator[Any]:
        with write(*scope) as tx:
            calls.append([])
            yield _Recorder(tx, calls[-1])

    # A stand-in with the same call shape; mypy sees a method replaced by a function.
    engine.write = recorded  # type: ignore[method-assign, assignment]
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
    answers: list[str] = []
    validating = 0.0
    start = time.perf_counter()
    with recording(store, calls):
        for text in texts:
            # As the API reads a batch of plain put-backs: the hot path (central/hot.py).
            t0 = time.perf_counter()
            pieces = cut_batch(text)
            received = hot.decode(pieces) if pieces is not None else None
            if received is None or not hot.admissible(
                received, "T1", "F1", CentralLimits(), datetime.now(UTC)
            ):
                raise CheckFailed(f"ladder ({kind}): a batch is not for the hot path")
            validating += time.perf_counter() - t0
            answer = store.ingest_hot(client, received)
            if answer is None:
                raise CheckFailed(f"ladder ({kind}): the hot path declined a batch")
            answers.append(answer)
    ingest_s = time.perf_counter() - start
    store.close()
    # Read after the clock stops: the server sends the answer, it does not read it back.
    outcomes = [r["outcome"] for answer in answers for r in json.loads(answer)["results"]]
    check_applied(f"ladder ({kind}) ingest", outcomes, n)

    store = fresh("ladder_replay")
    start = time.perf_counter()
    for transaction in calls:
        with store.engine.write("F1") as central:
            for name, args, kwargs in transaction:
                getattr(central, name)(*args, **kwargs)
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
            break
        except OSError:
            if time.monotonic() > deadline:
                proc.kill()
                raise SystemExit("central store did not start") from None
            time.sleep(0.1)
    if workers > 1:  # every worker process must be up, not only the first to answer
        while len(process_tree(proc.pid)) < workers + 1 and time.monotonic() < deadline:
            time.sleep(0.1)
        time.sleep(1.0)
    return proc, url


class LeanTerminal:
    """A terminal that only posts pre-built batches and keeps each answer's bytes.

    What the sync client does on the wire (the same body, token and headers, one connection),
    without reading each answer into models while the clock runs: that is the terminal's
    work, on its own machine in real life, and here it would share the two cores with the
    central store being measured. :meth:`check` reads and checks every answer afterwards.
    """

    def __init__(self, url: str, token: str) -> None:
        self._http = httpx.Client(
            base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=300
        )
        self.answers: list[tuple[list[str], bytes]] = []

    def post(self, entry_ids: list[str], body: bytes) -> None:
        """Post one batch (``wire.batch_json``'s bytes) and keep the answer."""
        response = self._http.post(
            API_PREFIX + "/entries", content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 200:
            raise CheckFailed(f"a batch was answered {response.status_code}: {response.text}")
        self.answers.append((entry_ids, response.content))

    def outcomes(self) -> list[str]:
        """Every entry's outcome, in order, each answer checked against its batch's entry IDs."""
        out: list[str] = []
        for entry_ids, answer in self.answers:
            results = BatchResult.model_validate_json(answer).results
            if [r.entry_id for r in results] != entry_ids:
                raise CheckFailed("an answer does not match the batch sent")
            out += [r.outcome.value for r in results]
        return out

    def close(self) -> None:
        """Close the connection."""
        self._http.close()


def body_of(entries_json: list[str]) -> bytes:
    """The batch's body as the sync client sends it."""
    return batch_json(entries_json).encode()


# -- CPU time, from /proc --------------------------------------------------------------------

_TICK = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of ``pid``, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = text[text.rindex(")") + 2 :].split()  # after "pid (comm) "
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICK


def process_tree(root: int) -> dict[int, float]:
    """CPU seconds used so far by ``root`` and every process below it, by pid."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and (st := _stat(int(entry.name))) is not None:
            stats[int(entry.name)] = st
    tree = {root}
    grew = True
    while grew:
        below = {pid for pid, (ppid, _) in stats.items() if ppid in tree} - tree
        tree |= below
        grew = bool(below)
    return {pid: stats[pid][1] for pid in tree if pid in stats}


def _kind(pid: int) -> str:
    """What a PostgreSQL process is, from its title: backend, autovacuum or background."""
    try:
        title = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return "background"
    if "autovacuum" in title:
        return "autovacuum"
    if re.search(r"postgres: \S+ \S+ (\[local\]|\d|\S+\(\d+\))", title):
        return "backends"
    return "background"  # the postmaster, checkpointer, WAL writer, background writer...


class CpuMeter:
    """CPU seconds the process trees under ``roots`` use between start() and stop()."""

    def __init__(self, **roots: int | None) -> None:
        self.roots = {name: pid for name, pid in roots.items() if pid is not None}
        self.before: dict[str, dict[int, float]] = {}
        self.used: dict[str, float] = {}

    def start(self) -> None:
        """Note every process's CPU time so far."""
        self.before = {name: process_tree(pid) for name, pid in self.roots.items()}

    def read(self) -> dict[str, float]:
        """CPU seconds used since start(), by tree; the database's also by kind of process."""
        used: dict[str, float] = {}
        for name, pid in self.roots.items():
            after = process_tree(pid)
            used[name] = sum(t - self.before[name].get(p, 0.0) for p, t in after.items())
            if name == "database":
                for p, t in after.items():
                    key = f"database_{_kind(p)}"
                    used[key] = used.get(key, 0.0) + t - self.before[name].get(p, 0.0)
        return used

    def stop(self) -> dict[str, float]:
        """What :meth:`read` returns, kept as ``used``."""
        self.used = self.read()
        return self.used


def machine_cpu() -> float:
    """CPU seconds every process of the machine has used so far (all cores, from /proc/stat)."""
    fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _TICK


def postgres_pid(pg: Any) -> int | None:
    """The postmaster's pid of the throwaway cluster (its backends are its children)."""
    for found in Path(pg.root).rglob("postmaster.pid"):
        return int(found.read_text().split()[0])
    return None


# -- the figures -------------------------------------------------------------------------------


def prepared(kind: str, db: str, n: int, work: Path, tag: str) -> tuple[CentralStore, str, Path]:
    """A fresh central store with the reference data and terminal T1, its token, a ledger.

    The terminal's ledger holds ``n`` unsent put-backs. None of this is timed.
    """
    store = open_store(db)
    setup_reference(store, "F1")
    token = store.add_client("T1", ClientKind.TERMINAL, "F1")
    ledger = work / f"{kind}-{tag}-terminal.sqlite3"
    backlog(ledger, n)
    return store, token, ledger


def outgoing_batches(ledger_path: Path, batch: int) -> list[tuple[list[str], list[str]]]:
    """The ledger's unsent entries as the sync worker sends them: (entry IDs, entries' JSON)."""
    ledger = Ledger(ledger_path)
    out: list[tuple[list[str], list[str]]] = []
    with ledger.read() as tx:
        after = 0
        while (page := book.outgoing(tx, after, batch)).seqs:
            ids = [json.loads(e)["entry_id"] for e in page.entries_json]
            out.append((ids, list(page.entries_json)))
            after = page.seqs[-1]
    ledger.close()
    return out


def check_recorded(what: str, store: CentralStore, n: int, terminal: str = "T1") -> None:
    if (recorded := len(store.recorded(terminal))) != n:
        raise CheckFailed(f"{what}: {recorded} of {n} entries recorded")


def ingest_http(
    kind: str, db: str, n: int, batch: int, work: Path, pg_pid: int | None, tag: str
) -> dict[str, float]:
    """(a): pre-built batches posted one after another over HTTP, against the baseline."""
    store, token, ledger = prepared(kind, db, n, work, tag)
    batches = outgoing_batches(ledger, batch)
    proc, url = serve(db)
    meter = CpuMeter(server=proc.pid, database=pg_pid)
    bodies = [(ids, body_of(entries_json)) for ids, entries_json in batches]
    terminal = LeanTerminal(url, token)
    try:
        meter.start()
        client_cpu = time.process_time()
        start = time.perf_counter()
        for ids, body in bodies:
            terminal.post(ids, body)
        took = time.perf_counter() - start
        client_cpu = time.process_time() - client_cpu
        cpu = meter.stop()
    finally:
        terminal.close()
        proc.terminate()
        proc.wait()
    check_applied(f"ingest into {kind}", terminal.outcomes(), n)
    check_recorded(f"ingest into {kind}", store, n)
    base = baseline(store, entries_for("T1", "F1", n), batch)
    store.close()
    return {"rate": n / took, "baseline": base, "ratio": n / took / base,
            **{f"cpu_us_{k}": v / n * 1e6 for k, v in cpu.items()},
            "cpu_us_terminal": client_cpu / n * 1e6}


def timed_round(
    db: str, pg_pid: int | None, ledger: Path, token: str, sizes: dict[str, int],
    pull_start: PullStart | None = None, **worker: Any,
) -> tuple[SyncState, float, float, dict[str, float]]:
    """One round of the real SyncWorker into a server of ``db`` started for it.

    Returns its state, its wall seconds, the terminal's CPU seconds (this process's while the
    round runs: the worker's thread and the one sending its batches; this thread only waits
    for them) and the server's and the database's (:class:`CpuMeter`). ``pull_start``, when
    given, is started with the round's clocks (the client marks it, see :class:`PullStart`).
    ``worker``: more arguments of the SyncWorker.
    """
    proc, url = serve(db)
    meter = CpuMeter(server=proc.pid, database=pg_pid)
    try:
        sync = SyncWorker(ledger, SyncSettings(url=url, token=SecretStr(token), **sizes), **worker)
        meter.start()
        terminal_cpu = time.process_time()
        start = time.perf_counter()
        if pull_start is not None:
            pull_start.begin(start, terminal_cpu, meter)
        state = sync.run_once()
        took = time.perf_counter() - start
        terminal_cpu = time.process_time() - terminal_cpu
        cpu = meter.stop()
        sync.stop()
    finally:
        proc.terminate()
        proc.wait()
    return state, took, terminal_cpu, cpu


class PullStart:
    """Where a timed round's pull began: what its push took, read at its first changes request.

    The worker asks for its first page of changes only after its push returned (every batch
    answered and recorded, the sender thread joined), so the clocks read then are the push's:
    its wall seconds, the terminal's CPU seconds (this process's) and the meter's reading (the
    server's and the database's CPU seconds), each since the round began. What the round took
    after that is the pull's. Reading the meter here costs the pull a walk of /proc.
    """

    def __init__(self) -> None:
        self._clocks: tuple[float, float, CpuMeter] | None = None
        self.push: tuple[float, float, dict[str, float]] | None = None

    def begin(self, wall: float, cpu: float, meter: CpuMeter) -> None:
        """Take the round's clocks at its start (:func:`timed_round`)."""
        self._clocks, self.push = (wall, cpu, meter), None

    def mark(self) -> None:
        """Read the clocks, the first time only."""
        if self.push is None and self._clocks is not None:
            wall, cpu, meter = self._clocks
            took, cpu_took = time.perf_counter() - wall, time.process_time() - cpu
            self.push = (took, cpu_took, meter.read())


def drain(
    kind: str, db: str, n: int, batch: int, work: Path, pg_pid: int | None, tag: str,
    product_batches: bool = True,
) -> dict[str, float]:
    """(b): the real SyncWorker drains the ledger's backlog, against the baseline."""
    store, token, ledger = prepared(kind, db, n, work, tag)
    sizes = {} if product_batches else {"batch_size": batch, "max_batch_size": batch}
    state, took, terminal_cpu, cpu = timed_round(db, pg_pid, ledger, token, sizes)
    if (state.waiting, state.refused, state.last_error) != (0, 0, None):
        raise CheckFailed(f"drain into {kind}: {state.waiting} entries left waiting, "
                          f"{state.refused} refused, last error {state.last_error}")
    check_recorded(f"drain into {kind}", store, n)
    base = baseline(store, entries_for("T1", "F1", n), batch)
    store.close()
    return {"rate": n / took, "baseline": base, "ratio": n / took / base,
            **{f"cpu_us_{k}": v / n * 1e6 for k, v in cpu.items()},
            "cpu_us_terminal": terminal_cpu / n * 1e6}


# -- (r): the drain of a terminal's real ledger ------------------------------------------------

REAL_SEED = 20261121
"""scripts/gen-data's own seed: the quick set's orders, lines and stock, at a smaller size."""
BASELINE_ROWS = 10_000
"""The fewest rows (r)'s baseline inserts: (b)'s in quick mode."""
KEPT_CODES = (ResultCode.APPLIED, ResultCode.ALREADY_RELEASED, ResultCode.APPLIED_AS_DERIVED)
"""The answers that leave an entry applied; any other fails (r)."""


def real_set(work: Path, orders: int) -> Path:
    """A data set as scripts/gen-data writes one, in the quick set's shape, with ``orders`` orders.

    Five lines an order, a location for every two orders, a product for every order (the quick
    set has five: more products change nothing a drain reads, and slow the two imports). About
    30 % of the orders are exceptions (cancelled, deleted or failed), as in every generated set.
    """
    out = work / "real-set"
    gen_data.generate(
        out, products=orders, locations=max(orders // 2, 10), orders=orders, lines=5 * orders,
        seed=REAL_SEED,
    )
    return out


class RealLedger(NamedTuple):
    """A terminal's ledger with its unsent backlog, made once and copied for every run."""

    path: Path
    terminal: str
    facility: str
    kinds: dict[str, int]
    """The backlog's entries by kind."""


def real_ledger(data: Path, work: Path, put_backs: int) -> RealLedger:
    """The terminal's ledger as a terminal makes it offline (nothing sent; none of it timed).

    Loaded from ``data`` as ``putback init --data`` loads it, which releases the unpicked units
    of every exception order at once (one release entry an order); then a supervisor signed in
    at a :class:`Station` opens exception orders and puts their picked units back, up to
    ``put_backs`` (``bench_ledger.make_entries``, the ledger session 11 counted).
    """
    info = Dataset(data).info
    settings = Settings()  # as make_entries' station runs: its terminal must be the set's
    if (settings.terminal.id, settings.terminal.facility) != (info.terminal, info.facility):
        raise CheckFailed(f"the data set is for {info.terminal} at {info.facility}, the "
                          f"station's settings for {settings.terminal.id}")
    where = work / "real-ledger"
    where.mkdir()
    loaded = where / "loaded.sqlite3"
    ledger = Ledger(loaded)
    try:
        load_dataset(ledger, Dataset(data), info.facility, roles=settings.roles.keys(),
                     release_as=info.terminal)
    finally:
        ledger.close()
    made = bench_ledger.make_entries(loaded, where, put_backs)
    ledger = Ledger(made, create=False)
    with ledger.read() as tx:
        kinds = dict(tx.conn.execute("SELECT kind, COUNT(*) FROM entries GROUP BY kind"))
        waiting = book.counts(tx).waiting
    ledger.close()
    if waiting != sum(kinds.values()):
        raise CheckFailed(f"the terminal's ledger has {waiting} of its "
                          f"{sum(kinds.values())} entries waiting")
    return RealLedger(made, info.terminal, info.facility, kinds)


def real_central(db: str, data: Path, real: RealLedger) -> str:
    """A central store loaded from the same data set, with the terminal; the terminal's token.

    What ``putback central import DIR`` loads (``import_path``). Importing the exception orders
    releases their unpicked units (central/releases.py), so the terminal's own releases of
    them will be answered ``already_released``.
    """
    store = open_store(db)
    try:
        import_path(store, data)
        return store.add_client(real.terminal, ClientKind.TERMINAL, real.facility)
    finally:
        store.close()


class KeptAnswers(SyncClient):
    """The product's sync client, keeping each batch's body and answer as sent and received.

    Read after the clock stops (what each batch held, how each entry was answered): keeping
    them costs one list append a batch. Its first request for changes marks ``pull_start``.
    """

    def __init__(self, base_url: str, token: str, pull_start: PullStart | None = None) -> None:
        super().__init__(base_url, token)
        self.kept: list[tuple[str, bytes]] = []
        self.pull_start = pull_start

    def _post_batch(self, body: str) -> httpx.Response:
        response = super()._post_batch(body)
        self.kept.append((body, response.content))
        return response

    def changes(self, cursor: int, limit: int) -> ChangesPage:
        """The product's request for a page of changes, after marking ``pull_start``."""
        if self.pull_start is not None:
            self.pull_start.mark()
        return super().changes(cursor, limit)


class Differs(NamedTuple):
    """One table's comparison: the keys whose rows differ, of how many keys compared."""

    keys: list[Any]
    compared: int


def _when(value: str | None) -> datetime | None:
    """A stored timestamp as a time (the two stores may write one instant differently)."""
    return None if value is None else datetime.fromisoformat(value).astimezone(UTC)


# What the terminal's ledger keeps of the central store's, as (name, the ledger's query, the
# central store's query (facility as its one parameter, or none), what a missing row counts as):
# each row is its key (all but the last column), then its figures (the last column, a tuple).
# Stock and progress are projections: a row missing on one side counts as zeros there. The rest
# are facts: a row on one side only differs.
_CENTRAL_HELD: tuple[tuple[str, str, str, tuple[Any, ...] | None], ...] = (
    ("QOH", "SELECT sku, location, qoh FROM stock_qoh",
     "SELECT sku, location, qoh FROM stock_qoh WHERE facility = ?", (0,)),
    ("ATP", "SELECT sku, atp FROM stock_atp",
     "SELECT sku, atp FROM stock_atp WHERE facility = ?", (0,)),
    ("line progress",
     "SELECT order_id, line_no, released, rejected, put_back, withdrawn FROM line_progress",
     "SELECT l.order_id, l.line_no, l.released, l.rejected, l.put_back, l.withdrawn "
     "FROM order_lines l JOIN orders o ON o.order_id = l.order_id WHERE o.facility = ?",
     (0, 0, 0, 0)),
    ("orders", "SELECT order_id, facility, status, has_label, status_changed_at FROM orders",
     "SELECT order_id, facility, status, has_label, status_changed_at FROM orders "
     "WHERE facility = ?", None),
    ("order lines",
     "SELECT order_id, line_no, sku, quantity, picked, pick_location, lot FROM order_lines",
     "SELECT l.order_id, l.line_no, l.sku, l.quantity, l.picked, l.pick_location, l.lot "
     "FROM order_lines l JOIN orders o ON o.order_id = l.order_id WHERE o.facility = ?", None),
    ("reconciled orders",
     "SELECT order_id, reconciled_at, reconciled_by, reconciled_terminal FROM order_state "
     "WHERE reconciled_at IS NOT NULL",
     "SELECT order_id, reconciled_at, reconciled_by, reconciled_terminal FROM orders "
     "WHERE facility = ? AND reconciled_at IS NOT NULL", None),
    ("products", "SELECT sku, description, lot_tracked, home_location FROM products",
     "SELECT sku, description, lot_tracked, home_location FROM products", None),
    ("locations", "SELECT code, facility, kind, barcode FROM locations",
     "SELECT code, facility, kind, barcode FROM locations WHERE facility = ?", None),
    ("operators", "SELECT badge, name, role, facility, active FROM operators",
     "SELECT badge, name, role, facility, active FROM operators", None),
)
_KEY_COLUMNS = {"QOH": 2, "ATP": 1, "line progress": 2, "orders": 1, "order lines": 2,
                "reconciled orders": 1, "products": 1, "locations": 1, "operators": 1}
_TIMES = {"orders": (3,), "reconciled orders": (0,)}
"""The figures that are timestamps, by table (their index among the figures)."""


def ledger_against_central(ledger_path: Path, db: str, facility: str) -> dict[str, Differs]:
    """Where a terminal's ledger and the central store disagree on what both hold (untimed).

    Compared for ``facility``, key by key: stock on hand and available (the projections the
    screens read), every line's progress, the orders' and their lines' central facts, who
    reconciled which order, and the reference data (products and their barcodes, locations,
    operators). A terminal with nothing waiting that has pulled to the end of the changes feed
    holds exactly what the central store holds; a difference is a state the product never
    reaches, or a bug.

    Returns:
        Every table compared, by name, with the keys whose rows differ (sorted).
    """
    terminal = Ledger(ledger_path, create=False)
    store = open_store(db)
    out: dict[str, Differs] = {}
    try:
        with terminal.read() as tx, store.engine.read() as central:
            for name, ours_sql, theirs_sql, missing in _CENTRAL_HELD:
                width, times = _KEY_COLUMNS[name], _TIMES.get(name, ())
                params = (facility,) if "?" in theirs_sql else ()
                sides = []
                for rows in (tx.conn.execute(ours_sql).fetchall(), central.all(theirs_sql, params)):
                    side = {}
                    for row in rows:
                        figures = tuple(_when(v) if i in times else v
                                        for i, v in enumerate(row[width:]))
                        side[tuple(row[:width])] = figures
                    sides.append(side)
                ours, theirs = sides
                keys = ours.keys() | theirs.keys()
                differ = sorted(k for k in keys if ours.get(k, missing) != theirs.get(k, missing))
                out[name] = Differs(differ, len(keys))
            barcodes = {tuple(r) for r in tx.conn.execute("SELECT code, sku FROM barcodes")}
            gtins = {(code, sku) for sku, held in central.all("SELECT sku, gtins FROM products")
                     for code in json.loads(held)}
            out["barcodes"] = Differs(sorted(barcodes ^ gtins), len(barcodes | gtins))
    finally:
        terminal.close()
        store.close()
    return out


def check_reached(what: str, ledger_path: Path, db: str, facility: str) -> None:
    """Fail unless the terminal's ledger holds what the central store holds (see above)."""
    differ = {name: d for name, d in ledger_against_central(ledger_path, db, facility).items()
              if d.keys}
    if differ:
        raise CheckFailed(
            f"{what}: the terminal ended its round with figures the central store does not "
            "hold: " + "; ".join(f"{name} {len(d.keys):,} of {d.compared:,} keys (first "
                                  f"{d.keys[0]})" for name, d in differ.items())
        )


def real_drain(
    kind: str, db: str, token: str, real: RealLedger, batch: int, work: Path,
    pg_pid: int | None, tag: str, product_batches: bool = True,
) -> dict[str, float]:
    """(r): the real SyncWorker drains a terminal's real backlog, against the baseline.

    ``db`` holds the central store as :func:`real_central` left it; the terminal's ledger is
    :func:`real_ledger`'s: loaded from the set's files, worked on offline, never connected.
    Its pull cursor is 0, as a real terminal's is until its first round. The timed round is
    the product's first sync of such a terminal, :meth:`SyncWorker.run_once` as it runs: the
    push of the whole backlog, then the pull from cursor 0, a full snapshot of the facility,
    which replaces the terminal's baseline (its entries are all answered by then, so none
    stays pending on top of it).

    The two phases are timed apart (:class:`PullStart`). The headline rate and ratio are the
    push's, a drain's: the backlog's entries over the time to send them and have every one
    answered and recorded, against the baseline. The pull, a snapshot whose size is the
    facility's and not the backlog's, is reported beside it (wall seconds, and CPU of the
    terminal, the server and the database), and the whole round too.

    Why not the state the terminal reached before (the cursor set to where the central store
    stood after its import, session 12): the import's own releases then never reached the
    terminal, its releases were answered ``already_released`` with no effects, and the round's
    incremental pull left it with figures the central store does not hold (after the quick
    round 5,722 of 10,000 ATP figures differed). No terminal reaches that state: one loaded
    from a file starts at cursor 0. After the round (untimed) :func:`check_reached` fails the
    figure unless the terminal holds what the central store holds.
    """
    store = open_store(db)
    ledger = work / f"{kind}-{tag}-terminal.sqlite3"
    copy_database("sqlite", str(real.path), str(ledger), None)
    terminal = Ledger(ledger, create=False)
    with terminal.read() as tx:
        entries = book.unsent(tx, MAX_SEQ)
        if (cursor := book.pull_cursor(tx)) != 0:
            raise CheckFailed(f"the terminal's ledger starts at pull cursor {cursor}, not 0")
    terminal.close()
    n = len(entries)
    clients: list[KeptAnswers] = []
    pull_start = PullStart()

    def client_factory(url: str, token: str) -> SyncClient:
        clients.append(KeptAnswers(url, token, pull_start))
        return clients[-1]

    sizes = {} if product_batches else {"batch_size": batch, "max_batch_size": batch}
    state, took, terminal_cpu, cpu = timed_round(
        db, pg_pid, ledger, token, sizes, pull_start,
        client_factory=client_factory, release_as=(real.terminal, real.facility),
    )
    kept = [pair for client in clients for pair in client.kept]
    codes = dict.fromkeys(ResultCode, 0)
    for _, answer in kept:
        for r in BatchResult.model_validate_json(answer).results:
            codes[r.code or ResultCode(r.outcome.value)] += 1
    held = [[e["kind"] for e in json.loads(body)["entries"]] for body, _ in kept]
    counted = {c.value: k for c, k in codes.items() if k}
    what = f"drain of a real ledger into {kind}"
    if (state.waiting, state.refused, state.last_error) != (0, 0, None):
        raise CheckFailed(f"{what}: {state.waiting} entries left "
                          f"waiting, {state.refused} refused, last error {state.last_error}; "
                          f"answers {counted}")
    if sum(codes.values()) != n or any(k for c, k in codes.items() if c not in KEPT_CODES):
        raise CheckFailed(f"{what}: {n} entries in the backlog, "
                          f"answers {counted or 'none'}")
    if pull_start.push is None:
        raise CheckFailed(f"{what}: the round pulled nothing")
    check_recorded(what, store, n, real.terminal)
    check_reached(what, ledger, db, real.facility)
    # The backlog's entries as often as it takes to reach BASELINE_ROWS: a quick backlog of
    # 4,000 entries is inserted in about 0.1 s, which the other work of a machine moves by
    # half or more (6,000-43,000 /s in three runs on a busy machine).
    base = baseline(store, entries * -(-BASELINE_ROWS // n), batch)
    store.close()
    push_took, push_terminal, push_cpu = pull_start.push
    with_release = [kinds for kinds in held if EntryKind.RELEASE.value in kinds]
    return {"rate": n / push_took, "baseline": base, "ratio": n / push_took / base,
            **{f"cpu_us_{k}": v / n * 1e6 for k, v in push_cpu.items()},
            "cpu_us_terminal": push_terminal / n * 1e6,
            "push_s": push_took, "pull_s": took - push_took, "round_s": took,
            **{f"pull_cpu_s_{k}": v - push_cpu[k] for k, v in cpu.items()},
            "pull_cpu_s_terminal": terminal_cpu - push_terminal,
            "entries": n, "releases": real.kinds.get(EntryKind.RELEASE.value, 0),
            "put_backs": real.kinds.get(EntryKind.PUT_BACK.value, 0),
            "batches": len(held), "batches_with_release": len(with_release),
            "entries_in_batches_with_release": sum(len(kinds) for kinds in with_release),
            **{f"answers_{c.value}": k for c, k in codes.items()}}


def copy_database(kind: str, template: str, copy: str, pg: Any) -> str:
    """A copy of the database ``template`` (a file, or a PostgreSQL database's URL)."""
    if kind == "sqlite":
        with closing(sqlite3.connect(template)) as source, closing(sqlite3.connect(copy)) as to:
            source.backup(to)
        return copy
    import psycopg

    name = copy.rsplit("/", 1)[1]
    deadline = time.monotonic() + 60
    while True:
        try:
            with psycopg.connect(pg.url, autocommit=True) as conn:
                conn.execute(
                    f'CREATE DATABASE "{name}" TEMPLATE "{template.rsplit("/", 1)[1]}"'
                )
            return str(pg.database_url(name))
        except psycopg.errors.ObjectInUse:
            # Autovacuum may be reading the freshly imported template: a copy waits for it.
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)


FACILITIES = 10


def fan_in(
    db: str, store: CentralStore, terminals: int, per: int, batch: int, workers: int,
    pg_pid: int | None,
) -> dict[str, float]:
    """(c): ``terminals`` terminals over 10 facilities pushing pre-built batches at once."""
    names = [f"T{i:02d}" for i in range(terminals)]
    facility = {t: f"F{i % FACILITIES}" for i, t in enumerate(names)}
    for f in sorted(set(facility.values())):
        setup_reference(store, f)
    tokens = {t: store.add_client(t, ClientKind.TERMINAL, facility[t]) for t in names}
    # Each terminal's batches as the sync worker sends them (the entries' JSON as the ledger
    # holds it), built before the clock starts: the figure is the central store's, not the
    # cost of 50 simulated terminals serialising models on the same two cores.
    batches = {
        t: [
            ([e.entry_id for e in chunk],
             body_of([e.model_dump_json(exclude_defaults=True) for e in chunk]))
            for chunk in (es[i : i + batch] for i in range(0, len(es), batch))
        ]
        for t in names
        for es in [entries_for(t, facility[t], per)]
    }

    proc, url = serve(db, workers)
    meter = CpuMeter(server=proc.pid, database=pg_pid)
    times: list[float] = []
    errors: list[str] = []
    lock = threading.Lock()
    go = threading.Event()
    terminals_of = {t: LeanTerminal(url, tokens[t]) for t in names}

    def push(name: str) -> None:
        terminal = terminals_of[name]
        try:
            go.wait()
            for entry_ids, body in batches[name]:
                t0 = time.perf_counter()
                terminal.post(entry_ids, body)
                took = time.perf_counter() - t0
                with lock:
                    times.append(took)
        except BaseException as exc:  # reported after the run: a thread's exception is lost
            with lock:
                errors.append(f"{name}: {type(exc).__name__}: {exc}")

    try:
        threads = [threading.Thread(target=push, args=(t,)) for t in names]
        for t in threads:
            t.start()
        meter.start()
        client_cpu = os.times()
        machine = machine_cpu()
        start = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        took = time.perf_counter() - start
        cpu = meter.stop()
        after = os.times()
        machine = machine_cpu() - machine
    finally:
        for terminal in terminals_of.values():
            terminal.close()
        proc.terminate()
        proc.wait()
    if errors:
        raise CheckFailed(f"fan-in: {len(errors)} of {terminals} terminals failed, first "
                          f"{errors[0]}")
    check_applied("fan-in", [o for t in names for o in terminals_of[t].outcomes()],
                  terminals * per)
    times.sort()
    n = terminals * per
    clients = (after.user - client_cpu.user) + (after.system - client_cpu.system)
    return {
        "rate": n / took,
        "p50_ms": statistics.median(times) * 1000,
        "p99_ms": times[max(0, int(len(times) * 0.99) - 1)] * 1000,
        **{f"cpu_us_{k}": v / n * 1e6 for k, v in cpu.items()},
        "cpu_us_terminals": clients / n * 1e6,
        # The trees' totals (the database's split by kind is the same CPU again).
        "cpu_busy": (sum(v for k, v in cpu.items() if k in meter.roots) + clients) / took,
        "machine_busy": machine / took,
    }


def database_split(col: dict[str, list[float]]) -> str:
    """PostgreSQL's CPU per entry by kind of process, medians."""
    return ", ".join(
        f"{kind} {statistics.median(col.get(f'cpu_us_database_{kind}', [0.0])):.1f}"
        for kind in ("backends", "autovacuum", "background")
    )


def backlog_held(col: dict[str, list[float]]) -> str:
    """What (r)'s backlog held, how it went in batches, and how its entries were answered."""
    def count(key: str) -> str:
        lo, mid, hi = spread(col[key])
        return f"{mid:,.0f}" if lo == hi else fmt(col[key])

    answers = ", ".join(
        f"{code.value} {count(f'answers_{code.value}')}"
        for code in ResultCode if max(col[f"answers_{code.value}"]) > 0
    )
    return (f"backlog {count('entries')} entries: {count('releases')} releases, "
            f"{count('put_backs')} put-backs; {count('batches')} batches, "
            f"{count('batches_with_release')} holding a release "
            f"({count('entries_in_batches_with_release')} entries); answers: {answers}")


def round_phases(col: dict[str, list[float]]) -> str:
    """(r)'s round in its two phases: the push (the figures above), then the full pull."""
    cpu = [f"the terminal {fmt(col['pull_cpu_s_terminal'], ' s', 2)}",
           f"server {fmt(col['pull_cpu_s_server'], ' s', 2)}"]
    if "pull_cpu_s_database" in col:
        cpu.append(f"PostgreSQL {fmt(col['pull_cpu_s_database'], ' s', 2)}")
    return (f"the round: push {fmt(col['push_s'], ' s', 2)} (the figures above), then the "
            f"full pull from cursor 0 {fmt(col['pull_s'], ' s', 2)} (CPU: {', '.join(cpu)}); "
            f"push and pull {fmt(col['round_s'], ' s', 2)}")


def spread(values: list[float]) -> tuple[float, float, float]:
    return min(values), statistics.median(values), max(values)


def fmt(values: list[float], unit: str = "", digits: int = 0) -> str:
    lo, mid, hi = spread(values)
    return f"{mid:,.{digits}f}{unit} ({lo:,.{digits}f}-{hi:,.{digits}f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10,000 entries, 50 x 200")
    parser.add_argument("--batch", type=int,
                        help="entries a batch in (a), the baselines and the ladder (1,000); "
                        "given, also every batch of (b) (else the product's: 200, growing)")
    parser.add_argument("-n", type=int, help="entries for (a) and (b) (100,000; 10,000 quick)")
    parser.add_argument("--per", type=int, help="entries per fan-in terminal (2,000; 200 quick)")
    parser.add_argument("--runs", type=int, default=3, help="runs of every figure (3)")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--ladder", action="store_true",
                        help="also show where the drain's time goes (see the module docstring)")
    parser.add_argument("--real-orders", type=int,
                        help="orders of the data set (r) is made from (100,000; 10,000 quick); "
                        "the terminal puts back a tenth as many units")
    parser.add_argument("--only", choices=["a", "b", "c", "r"], action="append",
                        help="only these figures (repeat; default all)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], action="append",
                        help="only these engines for (a), (b) and (r) (default both)")
    parser.add_argument("--workers", type=int, action="append",
                        help="server processes for the fan-in (repeat; default 1 and 2)")
    args = parser.parse_args()
    only = set(args.only or "abcr")
    engines = args.engine or ["sqlite", "postgresql"]
    workers_list = args.workers or [1, 2]
    n = args.n or (10_000 if args.quick else 100_000)
    batch = args.batch or 1000
    drain_as = drain if args.batch is None else partial(drain, product_batches=False)
    real_as = real_drain if args.batch is None else partial(real_drain, product_batches=False)
    real_orders = args.real_orders or (10_000 if args.quick else 100_000)
    b_batches = ("the product's batches (200, growing to 5,000)" if args.batch is None
                 else f"batches of {batch}")
    per = args.per or (200 if args.quick else 2000)
    figures: dict[str, Any] = {"entries": n, "batch": batch, "runs": args.runs,
                               "fan_in_terminals": 50, "fan_in_facilities": FACILITIES,
                               "fan_in_per_terminal": per, "real_orders": real_orders,
                               "cpus": os.cpu_count()}
    work = Path(tempfile.mkdtemp(prefix="putback-bench-"))
    print(f"(a) ingest of {n:,} entries in batches of {batch}, (b) drain in {b_batches}; "
          f"(c) fan-in of "
          f"50 terminals over {FACILITIES} facilities x {per:,} entries in batches of 200; "
          f"(r) drain of a terminal's real ledger (a data set of {real_orders:,} orders, "
          f"{real_orders // 10:,} put-backs) in its first sync: the push timed as (b), then "
          f"the full pull; "
          f"{args.runs} runs each, median (min-max); cpus: {os.cpu_count()}, load average "
          f"{os.getloadavg()[0]:.1f}", flush=True)
    # The throwaway cluster is test support (tests/support), not part of the package.
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.throwaway_pg import ThrowawayPostgres

    # Started only when a figure runs on it: SQLite's figures run where PostgreSQL is not.
    needs_pg = "c" in only or (
        "postgresql" in engines and (bool(only & {"a", "b", "r"}) or args.ladder)
    )
    pg = ThrowawayPostgres(durable=True).start() if needs_pg else None
    pg_pid = postgres_pid(pg) if pg is not None else None
    counter = iter(range(10**6))

    def new_db(kind: str) -> str:
        tag = next(counter)
        if kind == "sqlite":
            return str(work / f"central-{tag}.sqlite3")
        assert pg is not None
        return pg.create_database(f"bench{tag}")

    data: Path | None = None
    real: RealLedger | None = None
    templates: dict[str, tuple[str, str]] = {}

    def real_db(kind: str) -> tuple[str, str, RealLedger]:
        """A copy of the central store (r) starts from, the terminal's token, its ledger."""
        nonlocal data, real
        if data is None or real is None:
            started = time.perf_counter()
            data = real_set(work, real_orders)
            real = real_ledger(data, work, real_orders // 10)
            print(f"(r) the terminal's ledger: {sum(real.kinds.values()):,} entries waiting "
                  f"({', '.join(f'{k} {v:,}' for k, v in sorted(real.kinds.items()))}), "
                  f"made offline in {time.perf_counter() - started:.0f} s", flush=True)
        if kind not in templates:
            started = time.perf_counter()
            template = new_db(kind)
            templates[kind] = (template, real_central(template, data, real))
            print(f"(r) the central store on {kind} loaded from the same set in "
                  f"{time.perf_counter() - started:.0f} s", flush=True)
        template, token = templates[kind]
        tag = next(counter)
        copy = (str(work / f"central-{tag}.sqlite3") if pg is None or kind == "sqlite"
                else pg.database_url(f"bench{tag}"))
        return copy_database(kind, template, copy, pg), token, real

    try:
        for kind in engines:
            pg_of = pg_pid if kind == "postgresql" else None
            for letter, name in (("a", "ingest"), ("b", "drain"), ("r", "real")):
                if letter not in only:
                    continue
                runs = []
                for _ in range(args.runs):
                    tag = str(next(counter))
                    if letter == "a":
                        db = new_db(kind)
                        runs.append(ingest_http(kind, db, n, batch, work, pg_of, tag))
                    elif letter == "b":
                        db = new_db(kind)
                        runs.append(drain_as(kind, db, n, batch, work, pg_of, tag))
                    else:
                        db, token, ledger = real_db(kind)
                        runs.append(real_as(kind, db, token, ledger, batch, work, pg_of, tag))
                    if pg is None or kind == "sqlite":
                        for f in work.glob(f"{Path(db).name}*"):
                            f.unlink()
                    else:
                        pg.drop_database(db)
                    for f in work.glob("*-terminal.sqlite3*"):
                        f.unlink()
                col = {k: [r[k] for r in runs] for k in runs[0]}
                cpu = f"server CPU {fmt(col['cpu_us_server'], ' us', 1)}/entry"
                if "cpu_us_database" in col:
                    cpu += f", PostgreSQL {fmt(col['cpu_us_database'], ' us', 1)}/entry"
                    cpu += f" ({database_split(col)})"
                if "cpu_us_terminal" in col:
                    cpu += f", the terminal {fmt(col['cpu_us_terminal'], ' us', 1)}/entry"
                print(f"({letter}) {name:<6} {kind:<10} {fmt(col['rate'])} entries/s   baseline "
                      f"{fmt(col['baseline'])} /s   ratio {fmt(col['ratio'], digits=2)}   "
                      f"{cpu}", flush=True)
                if letter == "r":
                    print(f"(r) {'':<6} {kind:<10} {round_phases(col)}", flush=True)
                    print(f"(r) {'':<6} {kind:<10} {backlog_held(col)}", flush=True)
                key = {"a": "ingest", "b": "drain", "r": "real_drain"}[letter]
                figures[f"{key}_{kind}"] = {k: {"min": lo, "median": mid, "max": hi}
                                            for k, v in col.items()
                                            for lo, mid, hi in [spread(v)]}
                figures[f"{key}_{kind}"]["runs"] = runs
        if "c" in only:
            assert pg is not None
            for workers in workers_list:
                runs = []
                for _ in range(args.runs):
                    db = new_db("postgresql")
                    store = open_store(db)
                    runs.append(fan_in(db, store, 50, per, 200, workers, pg_pid))
                    store.close()
                    pg.drop_database(db)
                col = {k: [r[k] for r in runs] for k in runs[0]}
                procs = f"{workers} server process{'es' if workers > 1 else ''}"
                print(f"(c) fan-in postgresql, {procs}: {fmt(col['rate'])} entries/s   batch "
                      f"answer p50 {fmt(col['p50_ms'], ' ms')}, p99 {fmt(col['p99_ms'], ' ms')}   "
                      f"CPU per entry: server "
                      f"{fmt(col['cpu_us_server'], ' us', 1)}, PostgreSQL "
                      f"{fmt(col.get('cpu_us_database', [0.0]), ' us', 1)} "
                      f"({database_split(col)}), the 50 terminals "
                      f"{fmt(col['cpu_us_terminals'], ' us', 1)}; cores busy with these "
                      f"{fmt(col['cpu_busy'], digits=2)}, with anything (the machine) "
                      f"{fmt(col['machine_busy'], digits=2)} of {os.cpu_count()}", flush=True)
                figures[f"fan_in_postgresql_{workers}"] = {
                    k: {"min": lo, "median": mid, "max": hi}
                    for k, v in col.items() for lo, mid, hi in [spread(v)]
                } | {"runs": runs, "workers": workers}
            one, two = (figures.get(f"fan_in_postgresql_{w}") for w in (1, 2))
            if one and two:
                pairs = zip(one["runs"], two["runs"], strict=True)
                gain = [b["rate"] / a["rate"] for a, b in pairs]
                print(f"(c) 2 processes against 1 (run by run): {fmt(gain, 'x', 2)}")
                figures["fan_in_two_against_one"] = dict(
                    zip(("min", "median", "max"), spread(gain), strict=True)
                )
        if args.ladder:
            for kind in engines:
                store = open_store(new_db(kind))
                base = baseline(store, entries_for("T1", "F1", n), batch)
                store.close()

                def fresh_db(_name: str, kind: str = kind) -> str:
                    return new_db(kind)

                rungs = ladder(kind, fresh_db, n, batch, work)
                print(f"ladder {kind}: baseline {base:,.0f} entries/s")
                for rung, value in rungs.items():
                    print(f"{'':<10} {rung:<16} {value:>9,.0f} entries/s   "
                          f"ratio {value / base:.2f}")
                figures[f"ladder_{kind}"] = {r: {"entries_per_s": v, "ratio": v / base}
                                             for r, v in rungs.items()}
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)  # a full run leaves over 500 MB of databases


if __name__ == "__main__":
    main()
