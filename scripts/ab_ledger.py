"""Two versions of the code, one put-back each in turn: a before/after a busy machine cannot skew.

Two worker processes, A running the code of a git revision (``--base``, extracted to a temporary
directory) and B this working tree, each on its own copy of the same loaded ledger, are driven in
lockstep: the same order is opened in each, then each makes the same put-back paired with a raw
durable insert (the raw insert first, as the pairs of ``bench-ledger`` do), A first or B first
in turn. Both see the machine's load at the same moments, so the median of the per-put-back CPU
differences says what the change did even while other processes share the cores. A burst (the
next unit of every line with one left, no other connection's commit between) follows. Both
write the terminal's log, as the app does (``logs.configure``), beside their ledger copy;
``--no-log`` leaves it off. ``--clock thread`` times the calling thread alone
(``time.thread_time``): the log writer's runs, which land in whatever call is being timed, left
out (a change of a few microseconds shows through them).

    scripts/ab-ledger --base main              # this tree against main, 300 orders on the disk
    scripts/ab-ledger --base HEAD~3 --where shm -n 400
    scripts/ab-ledger --base main --where shm -n 4000 --clock thread
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PICK = (
    "SELECT o.order_id, l.line_no, l.sku, l.pick_location, l.picked FROM orders o "
    "JOIN order_lines l USING (order_id) WHERE o.status IN ('cancelled', 'deleted', 'failed') "
    "AND l.picked > 0 AND l.lot IS NULL GROUP BY o.order_id ORDER BY o.order_id LIMIT ?"
)


def worker(source: Path, where: Path, n: int, log: bool, clock_name: str = "process") -> None:
    """Answer the driver's commands on stdin, one line each: ``open I``, ``pair I``, ``burst I``."""
    from putback_tui import logs
    from putback_tui.config import Settings
    from putback_tui.ledger import Ledger
    from putback_tui.station import Station

    clock = time.thread_time if clock_name == "thread" else time.process_time
    with tempfile.TemporaryDirectory(dir=where, prefix="ab-ledger-") as tmp:
        path = Path(tmp) / "putback.sqlite3"
        shutil.copyfile(source, path)
        if log:
            logs.configure(Path(tmp) / "logs")
        ledger = Ledger(path)
        station = Station(ledger, Settings())
        station.sign_in("SV-0001")
        with ledger.read() as tx:
            picked = tx.conn.execute(PICK, (n,)).fetchall()
        bursts = [p for p in picked if p[4] >= 2]
        raw = sqlite3.connect(path, isolation_level=None)
        raw.execute("PRAGMA synchronous=FULL")
        raw.execute("CREATE TABLE bench_raw (id INTEGER PRIMARY KEY, payload TEXT)")
        os.sync()
        start = time.process_time()  # every thread, whatever --clock says
        print(f"ready {len(picked)} {len(bursts)}", flush=True)
        for line in sys.stdin:
            command, index = line.split()
            i = int(index)
            c0 = clock()
            if command == "open":
                station.open_order(picked[i][0])
            elif command == "pair":
                raw.execute("INSERT INTO bench_raw (payload) VALUES (?)", (f"row {i}",))
                c0 = clock()
                order_id, line_no, sku, location, _ = picked[i]
                station.put_back(order_id, line_no, sku, location)
            else:
                order_id, line_no, sku, location, _ = bursts[i]
                station.put_back(order_id, line_no, sku, location)
            print(f"{(clock() - c0) * 1e6:.1f}", flush=True)
        if log and hasattr(logs, "close"):  # the last lines written, counted (as at exit)
            logs.close()
        print(f"{(time.process_time() - start) * 1e6:.1f}", flush=True)
        raw.close()
        ledger.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against (A)")
    parser.add_argument("-n", type=int, default=300, help="orders (default 300)")
    parser.add_argument("--where", choices=("disk", "shm"), default="disk")
    parser.add_argument("--data", type=Path, default=ROOT / ".data" / "quick.ledger" / "data"
                        / "putback.sqlite3", help="a loaded ledger (bench-ledger --quick makes it)")
    parser.add_argument("--no-log", dest="log", action="store_false",
                        help="without the terminal's log (the app always writes it)")
    parser.add_argument("--clock", choices=("process", "thread"), default="process",
                        help="CPU of every thread of the process (default), or of the calling "
                        "thread alone")
    parser.add_argument("--worker", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        worker(Path(args.worker[0]), Path(args.worker[1]), int(args.worker[2]), args.log,
               args.clock)
        return
    if not args.data.exists():
        sys.exit(f"ab-ledger: no ledger at {args.data}: run scripts/bench-ledger --quick once")
    where = Path("/dev/shm") if args.where == "shm" else Path(tempfile.gettempdir())
    with tempfile.TemporaryDirectory(prefix="ab-ledger-base-") as base:
        archive = subprocess.run(
            ["git", "-C", str(ROOT), "archive", args.base, "src"], check=True, capture_output=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", base], input=archive, check=True)
        procs = {}
        for name, src in (("A", Path(base) / "src"), ("B", ROOT / "src")):
            env = {**os.environ, "PYTHONPATH": str(src)}
            procs[name] = subprocess.Popen(
                [sys.executable, __file__, "--base", args.base, "--worker", str(args.data),
                 str(where), str(args.n), "--clock", args.clock,
                 *(() if args.log else ("--no-log",))],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env,
            )
        counts = {}
        for name, proc in procs.items():
            assert proc.stdin is not None
            assert proc.stdout is not None
            _, orders, bursts = proc.stdout.readline().split()
            counts[name] = (int(orders), int(bursts))

        def ask(name: str, command: str, i: int) -> float:
            proc = procs[name]
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.write(f"{command} {i}\n")
            proc.stdin.flush()
            return float(proc.stdout.readline())

        cpu: dict[str, dict[str, list[float]]] = {v: {"open": [], "pair": [], "burst": []}
                                                   for v in "AB"}
        orders = min(c[0] for c in counts.values())
        for i in range(orders):
            for command in ("open", "pair"):
                for name in ("AB" if (i + len(command)) % 2 else "BA"):
                    cpu[name][command].append(ask(name, command, i))
        for i in range(min(c[1] for c in counts.values())):
            for name in ("AB" if i % 2 else "BA"):
                cpu[name]["burst"].append(ask(name, "burst", i))
        total = {}
        for name, proc in procs.items():
            assert proc.stdin is not None
            assert proc.stdout is not None
            proc.stdin.close()
            total[name] = float(proc.stdout.readline())
            proc.wait()
    med = statistics.median
    print(f"ab-ledger: A = {args.base}, B = this tree; {orders} orders on {args.where}; "
          f"the terminal's log {'on' if args.log else 'off'}; "
          f"CPU ({args.clock}_time) of each call, us")
    for command, what in (("pair", "put-back after a raw insert"), ("burst", "put-back, burst"),
                          ("open", "order open")):
        a, b = cpu["A"][command], cpu["B"][command]
        diff = [y - x for x, y in zip(a, b, strict=True)]
        print(f"  {what:<28} A median {med(a):6.0f}  B median {med(b):6.0f}  "
              f"median of B-A {med(diff):+6.0f} (n={len(a)})")
    calls = sum(len(calls_of) for calls_of in cpu["A"].values())
    print(f"  every thread of the process, from the first call to the last line written, a "
          f"call: A {total['A'] / calls:6.0f}  B {total['B'] / calls:6.0f}  "
          f"B-A {(total['B'] - total['A']) / calls:+6.0f} (n={calls}; the log's writer "
          "included, driver's waits between calls included)")


if __name__ == "__main__":
    main()
