"""Benchmark of the backlog answer (GET /v1/backlog); run through scripts/bench-backlog.

A central store of 100 facilities and 1,000,000 entries (200,000 orders, 5 entries each, over
30 days; about 50 waiting orders per facility) is written straight into the database in bulk,
on SQLite and on PostgreSQL (a throwaway cluster), migrated by the real schema. Then, each
timed many times over HTTP on a real server on loopback, and as the store's call alone:

  backlog, all       GET /v1/backlog with a viewer of every facility
  backlog, one       GET /v1/backlog/{facility} (the detail: waiting orders scored)
  baseline whoami    GET /v1/whoami: the cost of any authenticated call
  baseline count     SELECT COUNT(*) FROM entries WHERE facility = ? (one facility's entries,
                     10,000 of them, through its index): a plain indexed read, in process

--quick: 10 facilities and 50,000 entries.
"""

from __future__ import annotations

import argparse
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx

from putback_tui.central.app import create_app, tune_garbage_collector
from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import CentralStore, open_store
from putback_tui.domain.models import iso_utc, now_utc

KINDS = ("cancelled", "deleted", "failed", "rejected")
REASONS = ("DAMAGE", "MISMATCH", "NOT IN STOCK", "WORN DISPLAY")
ENTRIES_PER_ORDER = 5
SKUS = 200
DAYS = 30


def generate(facilities: int, entries: int, now: datetime, seed: int = 19) -> dict[str, list[Any]]:
    """Every table's rows for the data set (deterministic for a seed)."""
    rnd = random.Random(seed)
    orders_per = entries // ENTRIES_PER_ORDER // facilities
    rows: dict[str, list[Any]] = {k: [] for k in (
        "locations", "clients", "contacts", "orders", "progress", "lines", "entries", "atp",
        "reasons")}
    position = 0
    reasons: dict[tuple[str, str, str, str], list[int]] = {}
    for f in range(facilities):
        fac = f"F-{f:03d}"
        for n in range(10):
            rows["locations"].append((f"{fac}-L{n}", fac, "storage", f"LOC:{fac}-L{n}", 1))
        terminals = [f"{fac}-T{t}" for t in range(3)]
        seqs = dict.fromkeys(terminals, 0)
        for t in terminals:
            rows["contacts"].append((t, fac, iso_utc(now - timedelta(seconds=rnd.randint(1, 90))),
                                     rnd.randint(0, 3)))
        for sku in range(SKUS):
            rows["atp"].append((fac, f"SKU-{sku:03d}", rnd.choice((0, 5, 20, 100)), 1))
        for k in range(orders_per):
            oid = f"O{f:03d}-{k:06d}"
            exception = rnd.random() < 0.7
            status = rnd.choice(KINDS) if exception else rnd.choice(("shipped", "open"))
            changed = now - timedelta(minutes=rnd.uniform(0, DAYS * 1440))
            recent = now - changed < timedelta(days=2)
            waiting = exception and recent and rnd.random() < 0.5
            reconciled = first = None
            if exception and not waiting:
                first = changed + timedelta(minutes=rnd.uniform(1, 60))
                reconciled = first + timedelta(minutes=rnd.uniform(1, 240))
                if reconciled > now:
                    reconciled = None
            elif waiting and rnd.random() < 0.5:
                first = changed + timedelta(minutes=rnd.uniform(1, 30))
                first = min(first, now)
            picks = [rnd.randint(0, 2) if exception else 0 for _ in (1, 2)]
            by = "OP-1"
            if exception and not any(picks):
                # Nothing picked: its release cleared it at once, by nobody.
                waiting, first, reconciled, by = False, None, changed, "system"
            to_put_back = reserved = 0
            for line, picked in enumerate(picks, start=1):
                quantity = picked + rnd.randint(0, 1)
                done = picked if reconciled else 0
                released = quantity - picked if exception else 0
                rows["lines"].append((oid, line, f"SKU-{rnd.randrange(SKUS):03d}", quantity,
                                      picked, None, None, released, 0, done, 0))
                # The sums the central store keeps on the order (backlog.order_sums).
                to_put_back += picked - done
                reserved += quantity - picked - released
            rows["orders"].append((
                oid, fac, status, 0, iso_utc(changed),
                iso_utc(reconciled) if reconciled else None, by if reconciled else None,
                terminals[0] if reconciled else None, iso_utc(first) if first else None,
            ))
            # Its revision and sums, kept apart from the order (migration 13).
            rows["progress"].append((fac, oid, 1, to_put_back, reserved))
            for e in range(ENTRIES_PER_ORDER):
                position += 1
                terminal = terminals[e % 3]
                seqs[terminal] += 1
                at = changed + timedelta(minutes=e * 3)
                kind = ("release", "put_back", "put_back", "reject", "move_out")[e]
                refused = rnd.random() < 0.005
                details: dict[str, Any] = {"sku": "SKU-001", "quantity": 1}
                if kind == "reject":
                    reason = rnd.choice(REASONS)
                    details["reason"] = reason
                    if not refused:
                        key = (fac, iso_utc(at)[:10], "reject", reason)
                        reasons.setdefault(key, [0, 0])
                        reasons[key][0] += 1
                        reasons[key][1] += 1
                body = json.dumps({
                    "entry_id": f"{position:036d}", "seq": seqs[terminal], "terminal": terminal,
                    "facility": fac, "operator": "system" if e == 0 else "OP-1",
                    "created_at": iso_utc(at), "kind": kind, "order_id": oid,
                    "details": details,
                    "changes": [{"sku": "SKU-001", "location": f"{fac}-L1", "qoh": 1}],
                })
                rows["entries"].append((
                    position, f"{position:036d}", terminal, fac, seqs[terminal], kind, oid,
                    "refused" if refused else "applied", "over-put-back" if refused else None,
                    iso_utc(at), body, None, None,
                ))
        for t in terminals:
            rows["clients"].append((t, "terminal", fac, f"hash-{t}", iso_utc(now), seqs[t]))
    rows["reasons"] = [(*k, v[0], v[1]) for k, v in reasons.items()]
    return rows


TABLES = {
    "locations": "locations (code, facility, kind, barcode, rev)",
    "clients": "clients (name, kind, facility, token_hash, created_at, last_seq)",
    "contacts": "terminal_contacts (terminal, facility, last_contact, waiting_to_send)",
    "orders": "orders (order_id, facility, status, has_label, status_changed_at, "
              "reconciled_at, reconciled_by, reconciled_terminal, first_action_at)",
    "progress": "order_progress (facility, order_id, rev, units_to_put_back, units_reserved)",
    "lines": "order_lines (order_id, line_no, sku, quantity, picked, pick_location, lot, "
             "released, rejected, put_back, withdrawn)",
    "entries": "entries (position, entry_id, terminal, facility, seq, kind, order_id, outcome, "
               "reason, received_at, body, effects, ref)",
    "atp": "stock_atp (facility, sku, atp, rev)",
    "reasons": "reason_counts (facility, day, kind, reason, entries, units)",
}


def load(store: CentralStore, url: str, rows: dict[str, list[Any]]) -> None:
    """Write the rows straight into the migrated database, in bulk."""
    if store.kind == "sqlite":
        import sqlite3

        conn = sqlite3.connect(url)
        with conn:
            for key, table in TABLES.items():
                marks = ",".join("?" * len(rows[key][0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows[key])
        # No ANALYZE: the central store never runs it on SQLite (PostgreSQL's autovacuum does).
        conn.close()
        return
    import psycopg

    with psycopg.connect(url) as conn, conn.cursor() as cur:
        for key, table in TABLES.items():
            with cur.copy(f"COPY {table} FROM STDIN") as copy:
                for row in rows[key]:
                    copy.write_row(row)
    # What autovacuum does after a bulk insert: statistics, and the visibility map that lets
    # index-only scans skip the table.
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")


def timed(call: Callable[[], object], runs: int) -> dict[str, float]:
    """Median and p90 milliseconds of ``call`` over ``runs`` (after two warm-up calls).

    Also the median CPU time this process spent (``cpu_ms``): on a shared machine the wall
    time includes waiting for a core, the CPU time does not (for SQLite, in process, it is all
    the work; for PostgreSQL the server's share is not in it).
    """
    call()
    call()
    ms, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        ms.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
    ms.sort()
    return {"median_ms": statistics.median(ms),
            "p90_ms": ms[min(round(0.9 * (runs - 1)), runs - 1)],
            "cpu_ms": statistics.median(cpu)}


def bench(kind: str, url: str, facilities: int, entries: int, runs: int) -> dict[str, Any]:
    now = now_utc()
    start = time.perf_counter()
    rows = generate(facilities, entries, now)
    store = open_store(url)
    load(store, url, rows)
    built = time.perf_counter() - start
    out: dict[str, Any] = {"entries": len(rows["entries"]), "orders": len(rows["orders"]),
                           "facilities": facilities, "build_s": round(built, 1)}
    # The data set lives in the database now: a server does not hold it (a million tuples
    # left here would make every full collection of the cycle collector walk them).
    del rows
    # The kept sums as ingest would have written them (what `putback central doctor` checks).
    assert store.health().sums_astray == (0, []), store.health().sums_astray
    viewer = store.add_viewer("WALL", None)
    server = BackgroundServer(create_app(store))
    # As `putback central serve` runs its app: what exists at start-up frozen out of the cycle
    # collector, and its youngest generation collected less often.
    tune_garbage_collector()
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=60,
                          headers={"Authorization": f"Bearer {viewer}"}) as http:
            answer = http.get("/v1/backlog").json()
            waiting = sum(f["waiting_orders"] for f in answer["facilities"])
            out["waiting_orders"] = waiting
            assert len(answer["facilities"]) == facilities, answer["facilities"][:1]
            out["backlog_all_http"] = timed(lambda: http.get("/v1/backlog").raise_for_status(),
                                            runs)
            out["backlog_one_http"] = timed(
                lambda: http.get("/v1/backlog/F-042" if facilities > 42 else "/v1/backlog/F-001")
                .raise_for_status(), runs)
            out["baseline_whoami_http"] = timed(
                lambda: http.get("/v1/whoami").raise_for_status(), runs)
        names = store.facilities()
        out["backlog_all_store"] = timed(lambda: store.backlog(names), runs)

        def count() -> object:
            with store.engine.read() as tx:
                return tx.all("SELECT COUNT(*) FROM entries WHERE facility = ?", ("F-001",))

        out["baseline_count"] = timed(count, runs)
    finally:
        server.stop()
        store.close()
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="10 facilities, 50,000 entries")
    parser.add_argument("--runs", type=int, default=30, help="timed calls per figure")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--engine", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--keep", type=Path, help="keep the SQLite database at this path")
    args = parser.parse_args()
    facilities, entries = (10, 50_000) if args.quick else (100, 1_000_000)
    work = Path(tempfile.mkdtemp(prefix="putback-bench-backlog-"))
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from tests.support.throwaway_pg import ThrowawayPostgres

    engines = ("sqlite", "postgresql") if args.engine == "both" else (args.engine,)
    pg = ThrowawayPostgres(durable=True).start() if "postgresql" in engines else None
    figures: dict[str, Any] = {}
    print(f"{facilities} facilities, {entries:,} entries; {args.runs} timed calls each: "
          "median and p90 wall ms, median CPU ms of this process")
    try:
        for kind in engines:
            if kind == "sqlite":
                url = str(args.keep or work / "central.sqlite3")
            else:
                assert pg is not None
                url = pg.create_database("bench")
            fig = bench(kind, url, facilities, entries, args.runs)
            figures[kind] = fig
            print(f"{kind}: {fig['orders']:,} orders, {fig['waiting_orders']:,} waiting, "
                  f"built in {fig['build_s']} s")
            for key, label in (("backlog_all_http", "GET /v1/backlog (all)"),
                               ("backlog_one_http", "GET /v1/backlog/{facility}"),
                               ("backlog_all_store", "store.backlog (all, no HTTP)"),
                               ("baseline_whoami_http", "baseline GET /v1/whoami"),
                               ("baseline_count", "baseline indexed COUNT, F-001")):
                print(f"  {label:<32} {fig[key]['median_ms']:8.1f} {fig[key]['p90_ms']:8.1f} "
                      f"{fig[key]['cpu_ms']:8.1f}")
        if args.json:
            args.json.write_text(json.dumps(figures, indent=2))
    finally:
        if pg is not None:
            pg.stop()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
