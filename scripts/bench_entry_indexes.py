"""What each index of the central store's entries costs an insert, in process, on both engines.

100,000 entries rows (bench-sync's put-backs) inserted into the real ``entries`` table of a fresh
central store, in batches of 1,000, a transaction each, through the store's own bulk insert
(``executemany`` on SQLite, ``COPY`` on PostgreSQL), with the table's indexes as each variant
has them: schema 13's (main's before session 10, the baseline), this schema's, and this schema
with one index taken away each (what that index costs), or all of them (the table's key only).
Each variant runs in a process of its own, the variants in turn, ``--runs`` times. Printed per
variant: CPU time per entry of this process and, on PostgreSQL, of the database's backend
(median, min-max), their sum, and the sum against the baseline's, run by run.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_sync

from putback_tui.central.storage import ENTRY_COLUMNS, CentralStore, open_store

_SCHEMA_13 = [
    "DROP INDEX entries_by_order",
    "CREATE INDEX entries_by_order ON entries (order_id, position)",
    "CREATE INDEX entries_by_facility ON entries (facility, position)",
]
VARIANTS: dict[str, list[str]] = {
    "schema 13 (baseline)": _SCHEMA_13,
    "schema 14": [],
    "schema 14 without entries_by_order": ["DROP INDEX entries_by_order"],
    "schema 14 without entries_unpublished": ["DROP INDEX entries_unpublished"],
    "schema 14 without UNIQUE (entry_id)": ["unique entry_id"],
    "schema 14 without UNIQUE (terminal, seq)": ["unique terminal_seq"],
    "the key alone": ["DROP INDEX entries_by_order", "DROP INDEX entries_unpublished",
                      "unique entry_id", "unique terminal_seq"],
}
"""Each variant: statements run on a fresh store, ``unique X`` dropping a unique key."""


def _drop_uniques(store: CentralStore, keys: set[str]) -> None:
    """Drop the entries' unique keys named (``entry_id``, ``terminal_seq``).

    PostgreSQL drops a constraint; SQLite cannot, so the (empty) table is made again without
    them, with its indexes.
    """
    with store.engine.write() as tx:
        if store.kind != "sqlite":
            for key in sorted(keys):
                tx.run(f"ALTER TABLE entries DROP CONSTRAINT entries_{key}_key")
            return
        [[table]] = tx.all("SELECT sql FROM sqlite_master WHERE name = 'entries'")
        indexes = [r[0] for r in tx.all(
            "SELECT sql FROM sqlite_master WHERE tbl_name = 'entries' AND type = 'index' "
            "AND sql IS NOT NULL"
        )]
        if "entry_id" in keys:
            table = table.replace("entry_id TEXT NOT NULL UNIQUE", "entry_id TEXT NOT NULL")
        if "terminal_seq" in keys:
            table = table.replace(",\n                UNIQUE (terminal, seq)", "")
        tx.run("DROP TABLE entries")
        tx.run(table)
        for sql in indexes:
            tx.run(sql)


def _backend_cpu(pid: int | None) -> float:
    if pid is None:
        return 0.0
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def one(db: str, variant: str, n: int) -> dict[str, float]:
    """Insert ``n`` entries into a fresh store at ``db`` with ``variant``'s indexes."""
    store = open_store(db)
    try:
        bench_sync.setup_reference(store, "F1")
        changes = VARIANTS[variant]
        with store.engine.write() as tx:
            for sql in changes:
                if not sql.startswith("unique "):
                    tx.run(sql)
        _drop_uniques(store, {c.split()[1] for c in changes if c.startswith("unique ")})
        backend = None
        if store.kind != "sqlite":
            with store.engine.write() as tx:
                backend = int(tx.all("SELECT pg_backend_pid()")[0][0])
        entries = bench_sync.entries_for("T1", "F1", n)
        batches = [
            [(1_000_000_000 + i + k, e.entry_id, e.terminal, e.facility, e.seq, e.kind.value,
              e.order_id, "applied", None, e.created_at.isoformat(), e.model_dump_json(),
              None, None) for k, e in enumerate(entries[i : i + 1000])]
            for i in range(0, n, 1000)
        ]
        with bench_sync.server_gc():
            wall, cpu, db_cpu = time.perf_counter(), time.process_time(), _backend_cpu(backend)
            for rows in batches:
                with store.engine.write() as tx:
                    tx.insert_rows("entries", ENTRY_COLUMNS, rows)
            wall = time.perf_counter() - wall
            cpu = time.process_time() - cpu
            db_cpu = _backend_cpu(backend) - db_cpu
    finally:
        store.close()
    return {"wall_us": wall / n * 1e6, "cpu_us": cpu / n * 1e6, "db_cpu_us": db_cpu / n * 1e6}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3, help="runs of every variant (3)")
    parser.add_argument("-n", type=int, default=100_000, help="entries per run (100,000)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], action="append",
                        help="only this engine (repeatable; both by default)")
    parser.add_argument("--variant", choices=list(VARIANTS), action="append",
                        help="only this variant, besides the baseline (repeatable)")
    parser.add_argument("--one", nargs=2, metavar=("DB", "VARIANT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        print(json.dumps(one(args.one[0], args.one[1], args.n)))
        return
    variants = list(VARIANTS) if not args.variant else [
        "schema 13 (baseline)", *(v for v in args.variant if v != "schema 13 (baseline)")
    ]
    print(f"{args.n:,} entries rows into the entries table, batches of 1,000; {args.runs} runs "
          f"of each variant in turn, median (min-max); load average {os.getloadavg()[0]:.1f}",
          flush=True)
    from tests.support.throwaway_pg import ThrowawayPostgres

    work = Path(tempfile.mkdtemp(prefix="putback-bench-indexes-"))
    for engine in args.engine or ["sqlite", "postgresql"]:
        pg = ThrowawayPostgres(durable=True).start() if engine == "postgresql" else None
        try:
            runs: dict[str, list[dict[str, float]]] = {v: [] for v in variants}
            for r in range(args.runs):
                for v in variants:
                    db = (pg.create_database(f"idx{r}_{variants.index(v)}") if pg
                          else str(work / f"c{r}-{variants.index(v)}.sqlite3"))
                    out = subprocess.run(
                        [sys.executable, __file__, "-n", str(args.n), "--one", db, v],
                        check=True, capture_output=True, text=True,
                    ).stdout
                    runs[v].append(json.loads(out.strip().splitlines()[-1]))
                    if pg:
                        pg.drop_database(db)
                    else:
                        for f in work.glob(f"{Path(db).name}*"):
                            f.unlink()
            base = [x["cpu_us"] + x["db_cpu_us"] for x in runs["schema 13 (baseline)"]]
            for v in variants:
                col = {k: [x[k] for x in runs[v]] for k in runs[v][0]}
                total = [c + d for c, d in zip(col["cpu_us"], col["db_cpu_us"], strict=True)]
                against = [t / b for t, b in zip(total, base, strict=True)]
                db_part = (f"  PostgreSQL {_fmt(col['db_cpu_us'])}" if pg else "")
                print(f"{engine:<10} {v:<42} CPU us an entry: this process "
                      f"{_fmt(col['cpu_us'])}{db_part}  sum {_fmt(total)}  against the "
                      f"baseline {_fmt(against, 2)}   (wall {_fmt(col['wall_us'])})", flush=True)
        finally:
            if pg:
                pg.stop()


def _fmt(values: list[float], digits: int = 1) -> str:
    return (f"{statistics.median(values):.{digits}f} "
            f"({min(values):.{digits}f}-{max(values):.{digits}f})")


if __name__ == "__main__":
    main()
