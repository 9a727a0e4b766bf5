"""Time opening an order and committing one put-back on a large ledger, against raw SQLite.

The baseline is a single-row INSERT into a table in the same file, with the same durability
(WAL, synchronous=FULL), measured in the same run: the floor any durable scan commit pays.
Each action is paired with one baseline insert, alternating which goes first, on the same file;
every run works on a fresh copy of the loaded ledger. Each pair gives a ratio (baseline time /
action time: a rate ratio, 0.5 means half the baseline's commits a second); a run reports the
ratio of the medians and the median of the pairs' ratios, and the CPU time (process_time) of
each side. The runs repeat on a RAM disk (/dev/shm), where an fsync costs next to nothing: what
is left there is the CPU part alone. The floor replays the put-backs' own statements, with their
values, on a fresh copy, paired the same way: what SQLite and the disk cost without the Python.
The statements are noted in a pass of their own, untimed (the same opens, raw inserts and
put-backs on another fresh copy): the timed put-backs run on the ledger's own connection, with
nothing of the benchmark's between them and SQLite.

The terminal's log is on, as in the app (every ``putback`` command that loads the settings calls
``logs.configure``: one JSON line an entry), in the run's directory beside the ledger; ``--no-log``
leaves it off, to see what it costs.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from putback_tui import logs
from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.station import Station
from putback_tui.sync.answers import applied_ids
from putback_tui.sync.client import BatchAnswer
from putback_tui.sync.worker import _answers as worker_answers
from putback_tui.wire import BatchResult, EntryResult, Outcome, ResultCode, batch_json

ROOT = Path(__file__).resolve().parents[1]


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(int(len(ordered) * p), len(ordered) - 1)]


def summary(
    name: str, values_s: list[float], baseline_s: list[float] | None = None
) -> dict[str, float | str]:
    med, p99 = statistics.median(values_s) * 1e3, pct(values_s, 0.99) * 1e3
    row: dict[str, float | str] = {
        "name": name,
        "n": len(values_s),
        "median_ms": med,
        "p99_ms": p99,
    }
    if baseline_s:
        row["median_ratio_to_baseline"] = med / (statistics.median(baseline_s) * 1e3)
        row["p99_ratio_to_baseline"] = p99 / (pct(baseline_s, 0.99) * 1e3)
    return row


def differences(what: str, got: dict[Any, int], want: dict[Any, int]) -> list[str]:
    """One line saying how ``got`` (the projections) differs from ``want`` (the rebuild)."""
    bad = sorted(k for k in got.keys() | want.keys() if got.get(k) != want.get(k))
    if not bad:
        return []
    shown = ", ".join(f"{k}: {got.get(k)} != rebuilt {want.get(k)}" for k in bad[:3])
    return [f"{what} projections differ from the full rebuild at {len(bad)} keys ({shown})"]


def ensure_ledger(data: Path, quick: bool) -> Path:
    """A loaded ledger for the data set, built once and cached beside it."""
    cached = data.parent / f"{data.name}.ledger" / "data" / "putback.sqlite3"
    if cached.exists():
        return cached
    if not (data / "dataset.json").exists():
        sizes = (
            [
                "--products",
                "100000",
                "--locations",
                "10000",
                "--orders",
                "20000",
                "--lines",
                "100000",
            ]
            if quick
            else []
        )
        subprocess.run(
            [sys.executable, str(ROOT / "scripts" / "gen_data.py"), str(data), *sizes], check=True
        )
    subprocess.run(
        [
            sys.executable,
            "-m",
            "putback_tui.cli",
            "--home",
            str(cached.parents[1]),
            "init",
            "--data",
            str(data),
        ],
        check=True,
    )
    return cached


@dataclass
class Pairs:
    """One measure paired with the baseline: wall and CPU seconds of each call, in pairs."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    raw_wall: list[float] = field(default_factory=list)
    raw_cpu: list[float] = field(default_factory=list)

    def stats(self) -> dict[str, float]:
        """Medians, p99s, both ratios and the CPU per call of a run (ms and us)."""
        med, raw_med = statistics.median(self.wall), statistics.median(self.raw_wall)
        return {
            "n": len(self.wall),
            "median_ms": med * 1e3,
            "p99_ms": pct(self.wall, 0.99) * 1e3,
            "raw_median_ms": raw_med * 1e3,
            "raw_p99_ms": pct(self.raw_wall, 0.99) * 1e3,
            "ratio_of_medians": raw_med / med,
            # For a burst, "pairs" are the i-th put-back and the i-th insert of the two runs.
            "median_pair_ratio": statistics.median(
                r / a for a, r in zip(self.wall, self.raw_wall, strict=True)
            ),
            "cpu_us": statistics.fmean(self.cpu) * 1e6,
            "raw_cpu_us": statistics.fmean(self.raw_cpu) * 1e6,
        }


class Recorder:
    """The station's connection, noting every statement it runs (with its values) when asked.

    For the floor (see :func:`floor_run`): the same statements, replayed without the Python
    that chose them.
    """

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self.log: list[tuple[str, Any]] | None = None

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        """Run ``sql``, noted first (one list append: under a microsecond a statement)."""
        if self.log is not None:
            self.log.append((sql, params))
        return self._conn.execute(sql, params)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._conn, name)


def recorded(
    recorder: Recorder, call: Callable[[], object]
) -> Callable[[], list[tuple[str, Any]]]:
    """``call``, noting its statements in a list of their own (kept on the call's result)."""

    def run() -> list[tuple[str, Any]]:
        recorder.log = []
        try:
            call()
            return recorder.log
        finally:
            recorder.log = None

    return run


def timed(call: Callable[[], object]) -> tuple[float, float]:
    """Wall and CPU seconds of one call."""
    c0, t0 = time.process_time(), time.perf_counter()
    call()
    t1, c1 = time.perf_counter(), time.process_time()
    return t1 - t0, c1 - c0


def close_log() -> None:
    """``logs.close()``, or the same on a tree from before it (main's, in a recipe)."""
    if hasattr(logs, "close"):
        logs.close()
        return
    logger = logging.getLogger("putback")
    for handler in [h for h in logger.handlers if getattr(h, "_putback", False)]:
        logger.removeHandler(handler)
        handler.close()


def one_run(
    source: Path, where: Path, n: int, log: bool = True
) -> tuple[dict[str, Pairs], float, list[str]]:
    """Open n exception orders and put one unit of each back, each paired with a raw insert.

    Then a burst of put-backs alone, and as many raw inserts alone (see below); then the
    floor: the same statements replayed on a fresh copy (see :func:`floor_run`).

    Returns:
        The pairs of each measure, the ledger's size in MB, and what the check found wrong.
    """
    with tempfile.TemporaryDirectory(dir=where, prefix="bench-ledger-") as tmp:
        path = Path(tmp) / "putback.sqlite3"
        shutil.copyfile(source, path)
        size_mb = path.stat().st_size / 1e6
        if log:  # as the app does (see the module's docstring)
            logs.configure(Path(tmp) / "logs")
        ledger = Ledger(path)
        station = Station(ledger, Settings())
        station.sign_in("SV-0001")
        picked = picked_lines(ledger, n)
        if not picked:
            sys.exit(f"bench-ledger: FAILED: {source} has no picked exception-order line to "
                     "put back")
        # The baseline runs interleaved with the measured calls, on a second connection to the
        # same file, so both see the same disk (write-back of the copy, checkpoints) at once.
        os.sync()
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT)")
        measures = {"open": Pairs(), "put_back": Pairs()}
        k = 0

        def pair(measure: Pairs, call: Callable[[], object]) -> None:
            nonlocal k
            insert = functools.partial(
                raw.execute, "INSERT INTO bench_raw (payload) VALUES (?)", (f"row {k}",)
            )
            # Which goes first alternates, so neither always follows the other's fsync.
            if k % 2:
                rw, rc = timed(insert)
                w, c = timed(call)
            else:
                w, c = timed(call)
                rw, rc = timed(insert)
            k += 1
            measure.wall.append(w)
            measure.cpu.append(c)
            measure.raw_wall.append(rw)
            measure.raw_cpu.append(rc)

        for order_id, line_no, sku, location, _ in picked:
            pair(measures["open"], functools.partial(station.open_order, order_id))
            pair(
                measures["put_back"],
                functools.partial(station.put_back, order_id, line_no, sku, location),
            )
        # Bursts: the next unit of each line with one left, with no other connection's commit
        # between two put-backs (as while the sync worker is idle, or offline), so the ledger's
        # read cache and SQLite's page cache stay warm (in the pairs above, each side's commit
        # makes SQLite drop the other connection's page cache); then as many raw inserts in a
        # row, the baseline for the burst.
        burst = Pairs()
        for order_id, line_no, sku, location, units in picked:
            if units >= 2:
                w, c = timed(
                    functools.partial(station.put_back, order_id, line_no, sku, location)
                )
                burst.wall.append(w)
                burst.cpu.append(c)
        for i in range(len(burst.wall)):
            w, c = timed(
                functools.partial(
                    raw.execute, "INSERT INTO bench_raw (payload) VALUES (?)", (f"burst {i}",)
                )
            )
            burst.raw_wall.append(w)
            burst.raw_cpu.append(c)
        raw.close()
        if burst.wall:
            measures["burst"] = burst
        # The benchmark's own check: the projections it read from equal the full rebuild.
        qoh_rows, atp_rows = ledger.stock()
        rebuilt_qoh, rebuilt_atp = ledger.rebuild_stock()
        problems = differences("QOH", {(s, loc): v for s, loc, v in qoh_rows}, rebuilt_qoh)
        problems += differences("ATP", dict(atp_rows), rebuilt_atp)
        ledger.close()
        if log:
            close_log()
    with tempfile.TemporaryDirectory(dir=where, prefix="bench-ledger-record-") as tmp:
        script = record_script(source, Path(tmp) / "putback.sqlite3", picked)
    with tempfile.TemporaryDirectory(dir=where, prefix="bench-ledger-floor-") as tmp:
        measures["floor"] = floor_run(source, Path(tmp) / "putback.sqlite3", script)
    return measures, size_mb, problems


Script = list[tuple[list[tuple[str, Any]], list[tuple[str, Any]]]]
"""Each order's open and put-back, as the statements (with their values) they ran."""


def record_script(source: Path, path: Path, picked: list[tuple[Any, ...]]) -> Script:
    """The statements of the paired opens and put-backs of :func:`one_run`, noted untimed.

    On a fresh copy of the same ledger, the same calls in the same order, with a raw insert
    wherever the timed run had one (two between an order's open and its put-back): so the
    put-backs run the statements the timed ones ran (another connection's commit before each
    makes them read the cache's marks and the order's progress again), with values that differ
    only in the entries' IDs and times.
    """
    shutil.copyfile(source, path)
    ledger = Ledger(path)
    recorder = Recorder(ledger._conn)
    ledger._conn = recorder  # type: ignore[assignment]
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT)")
    insert = "INSERT INTO bench_raw (payload) VALUES (?)"
    script: Script = []
    for k, (order_id, line_no, sku, location, _) in enumerate(picked):
        opened = recorded(recorder, functools.partial(station.open_order, order_id))()
        raw.execute(insert, (f"row {2 * k}",))
        raw.execute(insert, (f"row {2 * k + 1}",))
        put = recorded(
            recorder, functools.partial(station.put_back, order_id, line_no, sku, location)
        )()
        script.append((opened, put))
    raw.close()
    ledger.close()
    return script


def floor_run(source: Path, path: Path, script: Script) -> Pairs:
    """The put-backs' own statements, with their values, replayed by a bare loop: the floor.

    A fresh copy of the same ledger (migrated by opening it, as the run's was); each order's
    open replayed, then its put-back's statements (``BEGIN IMMEDIATE`` to ``COMMIT``, reads
    included, each result fetched) paired with a raw insert exactly as the put-back was. What
    is left between this and the put-back is the Python that chooses and checks them.
    """
    shutil.copyfile(source, path)
    Ledger(path).close()
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    os.sync()
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT)")

    def replay(statements: list[tuple[str, Any]]) -> None:
        for sql, params in statements:
            conn.execute(sql, params).fetchall()

    floor = Pairs()
    for k, (opened, put) in enumerate(script):
        replay(opened)
        insert = functools.partial(
            raw.execute, "INSERT INTO bench_raw (payload) VALUES (?)", (f"row {k}",)
        )
        # The put-back's pair had the raw insert first (odd pair numbers): so here too.
        rw, rc = timed(insert)
        w, c = timed(functools.partial(replay, put))
        floor.wall.append(w)
        floor.cpu.append(c)
        floor.raw_wall.append(rw)
        floor.raw_cpu.append(rc)
    raw.close()
    conn.close()
    return floor


DRAIN_PHASES = ("read", "body", "parse", "answers", "record", "counts")


def make_entries(source: Path, where: Path, n: int) -> Path:
    """A copy of the loaded ledger with ``n`` put-backs made, to drain.

    The opens before them add their releases; written once, copied for each drain run.
    """
    path = where / "drain-source.sqlite3"
    shutil.copyfile(source, path)
    ledger = Ledger(path)
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    picked = picked_lines(ledger)
    made = 0
    for order_id, line_no, sku, location, units in picked:
        if made >= n:
            break
        station.open_order(order_id)
        for _ in range(units):
            station.put_back(order_id, line_no, sku, location)
            made += 1
    ledger.close()
    return path


def drain_run(made: Path, batch: int) -> tuple[int, dict[str, float], float]:
    """The sync worker's own work on every entry of ``made``, in batches, without HTTP.

    What ``SyncWorker._push`` does on the terminal for each batch: read the outbox rows, build
    the body, parse the central store's answer (made here as the central store writes it: every
    entry applied), turn it into answers, record them (one transaction), count what is left.
    The baseline: the same number of rows inserted into a bare table of the same file, one
    ``executemany`` and one commit per batch.

    Returns:
        Entries drained, CPU seconds per phase, and the baseline's CPU seconds.
    """
    path = made.with_name("drain.sqlite3")
    shutil.copyfile(made, path)
    ledger = Ledger(path, create=False)
    spent = dict.fromkeys(DRAIN_PHASES, 0.0)
    clock = time.process_time
    drained = 0
    with ledger.read() as tx:
        out = book.unsent_json(tx, batch)
    while out.seqs:
        # The central store's answer as it writes it (BatchResult's own JSON: every entry
        # applied), read as SyncClient.push_json reads it.
        answer = BatchResult(
            results=tuple(
                EntryResult(entry_id=e, seq=s, outcome=Outcome.APPLIED, recorded_as="applied",
                            code=ResultCode.APPLIED)
                for s, e in zip(out.seqs, out.entry_ids, strict=True)
            )
        ).model_dump_json().encode()
        t0 = clock()
        batch_json(out.entries_json)
        t1 = clock()
        ids = applied_ids(answer)
        if ids is None:
            sys.exit("bench-ledger: FAILED: the central store's answer was not read as all applied")
        if list(ids) != list(out.entry_ids):
            sys.exit("bench-ledger: FAILED: the answer does not match the batch sent")
        t2 = clock()
        answers, retry = worker_answers(out, BatchAnswer(None))
        assert answers is None
        assert retry is None
        t3 = clock()
        with ledger.write() as tx:
            book.record_applied(tx, out.seqs)
            book.clear_failure(tx, "push")
        t4 = clock()
        with ledger.read() as tx:
            book.counts(tx)
        t5 = clock()
        drained += len(out.seqs)
        with ledger.read() as tx:
            out = book.outgoing(tx, out.seqs[-1], batch)
        t6 = clock()
        for phase, took in zip(
            DRAIN_PHASES, (t6 - t5, t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True
        ):
            spent[phase] += took
    with ledger.read() as tx:
        left = book.counts(tx).waiting
    ledger.close()
    if left:
        sys.exit(f"bench-ledger: FAILED: the drain left {left} entries unanswered")
    raw = sqlite3.connect(path, isolation_level=None)
    raw.execute("PRAGMA synchronous=FULL")
    raw.execute("CREATE TABLE bench_raw (seq INTEGER, entry_id TEXT, outcome TEXT)")
    base = 0.0
    for start in range(0, drained, batch):
        rows = [(i, f"entry {i}", "applied") for i in range(start, min(start + batch, drained))]
        t0 = clock()
        raw.execute("BEGIN")
        raw.executemany("INSERT INTO bench_raw VALUES (?, ?, ?)", rows)
        raw.execute("COMMIT")
        base += clock() - t0
    raw.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return drained, spent, base


def picked_lines(ledger: Ledger, limit: int = -1) -> list[tuple[Any, ...]]:
    """One picked line without a lot of each exception order, in order-ID order.

    Up to ``limit`` (-1: all): order ID, line number, SKU, pick location, units picked.
    """
    with ledger.read() as tx:
        return list(
            tx.conn.execute(
                "SELECT o.order_id, l.line_no, l.sku, l.pick_location, l.picked FROM orders o "
                "JOIN order_lines l USING (order_id) WHERE o.status IN "
                "('cancelled', 'deleted', 'failed') AND l.picked > 0 AND l.lot IS NULL "
                "GROUP BY o.order_id ORDER BY o.order_id LIMIT ?",
                (limit,),
            ).fetchall()
        )


def spread(values: list[float], fmt: str = ".2f") -> str:
    """``min-max (median m)`` of a figure over the runs."""
    lo, hi, mid = min(values), max(values), statistics.median(values)
    if len(values) == 1:
        return format(mid, fmt)
    return f"{lo:{fmt}}-{hi:{fmt}} (median {mid:{fmt}})"


_SERIES_FIGURES = (
    ("ratio_of_medians", ".2f"),
    ("median_ms", ".3f"),
    ("raw_median_ms", ".3f"),
    ("cpu_us", ".0f"),
    ("raw_cpu_us", ".0f"),
)
"""The figures summed up over the runs for the bursts and the floor (by :func:`spread`)."""


def _spreads(prefix: str, series: list[dict[str, Any]]) -> dict[str, str]:
    """Each of ``_SERIES_FIGURES`` over ``series``, keyed ``prefix + name``; none without runs."""
    if not series:
        return {}
    return {f"{prefix}{key}": spread([s[key] for s in series], fmt) for key, fmt in _SERIES_FIGURES}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="data set directory")
    parser.add_argument("--quick", action="store_true", help="a 100,000-product set, fewer runs")
    parser.add_argument("-n", type=int, default=None, help="orders to open / units to put back")
    parser.add_argument("--runs", type=int, default=3, help="runs per place (default 3)")
    parser.add_argument(
        "--where",
        default="disk,shm",
        help="places to run: disk (the temp directory's disk), shm (/dev/shm, a RAM disk); "
        "comma-separated (default both)",
    )
    parser.add_argument(
        "--drain",
        type=int,
        default=None,
        help="put-backs to make and drain, timing the sync worker's own work per entry "
        "(default 5000 with --quick, 20000 without; 0: skip)",
    )
    parser.add_argument(
        "--no-log",
        dest="log",
        action="store_false",
        help="without the terminal's log (the app always writes it: one JSON line an entry)",
    )
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    data = args.data or ROOT / ".data" / ("quick" if args.quick else "large")
    n = args.n or (200 if args.quick else 1000)
    if n < 1 or args.runs < 1:
        parser.error("-n and --runs must be at least 1")
    places = {"disk": Path(tempfile.gettempdir()), "shm": Path("/dev/shm")}
    wanted = [w.strip() for w in args.where.split(",") if w.strip()]
    if not wanted or any(w not in places for w in wanted):
        parser.error(f"--where takes disk and/or shm, not {args.where!r}")
    wanted = [w for w in wanted if w != "shm" or places["shm"].is_dir()]
    source = ensure_ledger(data, args.quick)

    runs: list[dict[str, Any]] = []
    pooled: dict[str, Pairs] = {"open": Pairs(), "put_back": Pairs()}
    problems: list[str] = []
    size_mb = 0.0
    for run in range(1, args.runs + 1):
        for place in wanted:
            measures, size_mb, found = one_run(source, places[place], n, args.log)
            problems += found
            runs.append(
                {"place": place, "run": run, **{m: p.stats() for m, p in measures.items()}}
            )
            if place == wanted[0]:
                for name in ("open", "put_back"):
                    p = measures[name]
                    for attr in ("wall", "cpu", "raw_wall", "raw_cpu"):
                        getattr(pooled[name], attr).extend(getattr(p, attr))

    print(
        f"ledger: {source} ({size_mb:.0f} MB), {n} orders a run, {args.runs} runs on each of "
        f"{', '.join(wanted)}; projections == rebuild (QOH and ATP) after every run: "
        f"{not problems}; the terminal's log {'on, as in the app' if args.log else 'off'}"
    )
    print("ratio: baseline time / action time, per pair (a rate ratio: >= 0.5 is the goal)")
    head = ("place", "run", "measure", "med ms", "p99 ms", "raw med", "raw p99", "ratio med",
            "pair ratio", "CPU us", "raw CPU us")
    print(f"{head[0]:<5} {head[1]:>3} {head[2]:<9}" + "".join(f" {h:>10}" for h in head[3:]))
    for r in runs:
        for m in ("put_back", "open", "burst", "floor"):
            if m not in r:
                continue
            s = r[m]
            print(
                f"{r['place']:<5} {r['run']:>3} {m:<9} {s['median_ms']:>10.3f} "
                f"{s['p99_ms']:>10.3f} {s['raw_median_ms']:>10.3f} {s['raw_p99_ms']:>10.3f} "
                f"{s['ratio_of_medians']:>10.2f} {s['median_pair_ratio']:>10.2f} "
                f"{s['cpu_us']:>10.0f} {s['raw_cpu_us']:>10.0f}"
            )
    summary_by_place: dict[str, dict[str, str]] = {}
    for place in wanted:
        mine = [r["put_back"] for r in runs if r["place"] == place]
        summary_by_place[place] = {
            key: spread([s[key] for s in mine], fmt)
            for key, fmt in (
                ("ratio_of_medians", ".2f"),
                ("median_pair_ratio", ".2f"),
                ("median_ms", ".3f"),
                ("raw_median_ms", ".3f"),
                ("cpu_us", ".0f"),
                ("raw_cpu_us", ".0f"),
            )
        }
        bursts = [r["burst"] for r in runs if r["place"] == place and "burst" in r]
        summary_by_place[place] |= _spreads("burst_", bursts)
        s = summary_by_place[place]
        print(
            f"put-back on {place}, over {len(mine)} runs: ratio of medians {s['ratio_of_medians']}"
            f"; median pair ratio {s['median_pair_ratio']}; median {s['median_ms']} ms against "
            f"{s['raw_median_ms']} ms; CPU {s['cpu_us']} us against {s['raw_cpu_us']} us"
        )
        if bursts:
            print(
                f"  in bursts ({bursts[0]['n']} put-backs in a row, then as many raw inserts): "
                f"ratio of medians {s['burst_ratio_of_medians']}; median "
                f"{s['burst_median_ms']} ms against {s['burst_raw_median_ms']} ms; CPU "
                f"{s['burst_cpu_us']} us against {s['burst_raw_cpu_us']} us"
            )
        floors = [r["floor"] for r in runs if r["place"] == place and "floor" in r]
        summary_by_place[place] |= _spreads("floor_", floors)
        if floors:
            print(
                "  floor (the same statements, noted in an untimed pass, replayed by a bare loop, "
                f"paired the same way): ratio of medians {s['floor_ratio_of_medians']}; median "
                f"{s['floor_median_ms']} ms against {s['floor_raw_median_ms']} ms; CPU "
                f"{s['floor_cpu_us']} us against {s['floor_raw_cpu_us']} us"
            )
    drain: dict[str, Any] = {}
    to_drain = args.drain if args.drain is not None else (5000 if args.quick else 20000)
    if to_drain > 0:
        where = places["shm"] if "shm" in wanted else places["disk"]
        with tempfile.TemporaryDirectory(dir=where, prefix="bench-ledger-drain-") as tmp:
            made = make_entries(source, Path(tmp), to_drain)
            per_run = [drain_run(made, 1000) for _ in range(args.runs)]
        drained = per_run[0][0]
        totals = [sum(spent.values()) / n * 1e6 for n, spent, _ in per_run]
        bases = [base / n * 1e6 for n, _, base in per_run]
        drain = {
            "entries": drained,
            "place": "shm" if "shm" in wanted else "disk",
            "cpu_us_per_entry": totals,
            "baseline_cpu_us_per_entry": bases,
            "phases_us_per_entry": [
                {k: v / n * 1e6 for k, v in spent.items()} for n, spent, _ in per_run
            ],
        }
        print(
            f"drain, the sync worker's own work (no HTTP), {drained} entries in batches of "
            f"1000, {args.runs} runs on {drain['place']}: CPU {spread(totals)} us an entry "
            f"against {spread(bases)} us for the baseline (the same number of rows inserted "
            "into a bare table, one executemany a batch)"
        )
        for run, phases in enumerate(drain["phases_us_per_entry"], 1):
            print(f"  run {run}: " + ", ".join(f"{k} {v:.2f}" for k, v in phases.items()))
    if problems:
        # Figures measured on wrong results are no figures: no JSON, a non-zero exit, and why.
        for problem in problems:
            print(f"bench-ledger: FAILED: {problem}", file=sys.stderr)
        sys.exit(1)
    if args.json:
        # The first place's runs pooled, under the names scripts/bench reads.
        raw_rows = Pairs(
            wall=pooled["put_back"].raw_wall + pooled["open"].raw_wall,
        )
        rows = [
            summary("raw SQLite single-row durable insert (baseline)", raw_rows.wall),
            summary(
                "open exception order (incl. release commit)",
                pooled["open"].wall,
                raw_rows.wall,
            ),
            summary("commit one put-back", pooled["put_back"].wall, raw_rows.wall),
        ]
        args.json.write_text(
            json.dumps(
                {
                    "db_size_mb": size_mb,
                    "place": wanted[0],
                    "rows": rows,
                    "runs": runs,
                    "summary": summary_by_place,
                    "drain": drain,
                },
                indent=2,
            )
        )


if __name__ == "__main__":
    main()
