"""Time opening an order and committing one put-back on a large ledger, against raw SQLite.

The baseline is a single-row INSERT into a table in the same file, with the same durability
(WAL, synchronous=FULL), measured in the same run: the floor any durable scan commit pays.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from putback_tui.config import Settings
from putback_tui.ledger import Ledger
from putback_tui.station import Station

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=None, help="data set directory")
    parser.add_argument("--quick", action="store_true", help="a 100,000-product set, fewer runs")
    parser.add_argument("-n", type=int, default=None, help="orders to open / units to put back")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    data = args.data or ROOT / ".data" / ("quick" if args.quick else "large")
    n = args.n or (200 if args.quick else 1000)
    source = ensure_ledger(data, args.quick)
    if n < 1:
        parser.error("-n must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "putback.sqlite3"
        shutil.copyfile(source, path)
        size_mb = path.stat().st_size / 1e6
        ledger = Ledger(path)
        station = Station(ledger, Settings())
        station.sign_in("SV-0001")
        with ledger.read() as tx:
            picked = tx.conn.execute(
                "SELECT o.order_id, l.line_no, l.sku, l.pick_location FROM orders o "
                "JOIN order_lines l USING (order_id) WHERE o.status IN "
                "('cancelled', 'deleted', 'failed') AND l.picked > 0 AND l.lot IS NULL "
                "GROUP BY o.order_id ORDER BY o.order_id LIMIT ?",
                (n,),
            ).fetchall()
        if not picked:
            sys.exit(f"bench-ledger: FAILED: {source} has no picked exception-order line to "
                     "put back")

        # The baseline runs interleaved with the measured calls, on a second connection to the
        # same file, so both see the same disk (write-back of the copy, checkpoints) at once.
        os.sync()
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT)")
        open_s: list[float] = []
        put_s: list[float] = []
        raw_s: list[float] = []
        for i, (order_id, line_no, sku, location) in enumerate(picked):
            t0 = time.perf_counter()
            raw.execute("INSERT INTO bench_raw (payload) VALUES (?)", (f"row {i}",))
            t1 = time.perf_counter()
            station.open_order(order_id)
            t2 = time.perf_counter()
            station.put_back(order_id, line_no, sku, location)
            t3 = time.perf_counter()
            raw_s.append(t1 - t0)
            open_s.append(t2 - t1)
            put_s.append(t3 - t2)
        raw.close()
        # The benchmark's own check: the projections it read from equal the full rebuild.
        qoh_rows, atp_rows = ledger.stock()
        rebuilt_qoh, rebuilt_atp = ledger.rebuild_stock()
        problems = differences("QOH", {(s, loc): v for s, loc, v in qoh_rows}, rebuilt_qoh)
        problems += differences("ATP", dict(atp_rows), rebuilt_atp)
        ledger.close()

    rows = [
        summary("raw SQLite single-row durable insert (baseline)", raw_s),
        summary("open exception order (incl. release commit)", open_s, raw_s),
        summary("commit one put-back", put_s, raw_s),
    ]
    print(
        f"ledger: {source} ({size_mb:.0f} MB), {len(picked)} orders, projections == rebuild "
        f"(QOH and ATP): {not problems}"
    )
    head = ("measure", "n", "median ms", "p99 ms", "x base med", "x base p99")
    print(f"{head[0]:<52} {head[1]:>5} {head[2]:>10} {head[3]:>8} {head[4]:>10} {head[5]:>10}")
    for r in rows:
        print(
            f"{r['name']:<52} {r['n']:>5} {r['median_ms']:>10.3f} {r['p99_ms']:>8.3f} "
            f"{r.get('median_ratio_to_baseline', 1.0):>10.2f} "
            f"{r.get('p99_ratio_to_baseline', 1.0):>10.2f}"
        )
    if problems:
        # Figures measured on wrong results are no figures: no JSON, a non-zero exit, and why.
        for problem in problems:
            print(f"bench-ledger: FAILED: {problem}", file=sys.stderr)
        sys.exit(1)
    if args.json:
        args.json.write_text(json.dumps({"db_size_mb": size_mb, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
