"""The central store's CPU per batch, whatever its size: this tree against a git revision.

A real ``central serve`` (SQLite, and a throwaway PostgreSQL) is sent pre-built batches of 1
and of 200 plain put-backs over HTTP, one after another, each with the outbox header the sync
worker sends (a count that changes with every batch, as in a drain); the server's CPU time
(and PostgreSQL's, its backends included) is read from /proc around them. A batch of one
entry is nearly all fixed cost: authentication, the transaction, the HTTP layer. Runs
alternate between the revision's code (``--base``, extracted with ``git archive`` and put
first on the server's ``PYTHONPATH``) and this tree's, in the same run, ``--runs`` pairs.

    scripts/bench-batch-cost --base HEAD~1              # both engines, 3 pairs
    scripts/bench-batch-cost --base main --engine sqlite --runs 5
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import bench_sync as b

from putback_tui.wire import API_PREFIX, OUTBOX_HEADER

ROOT = Path(__file__).resolve().parents[1]
SIZES = ((1, 400), (200, 8000))
"""(entries a batch, entries in all) of each measurement."""


def one_run(
    kind: str, db: str, batch: int, n: int, work: Path, pg_pid: int | None
) -> dict[str, float]:
    """Server (and PostgreSQL) CPU ms per batch, posting ``n`` entries ``batch`` at a time."""
    store, token, ledger = b.prepared(kind, db, n, work, f"{batch}")
    bodies = [b.body_of(entries) for _, entries in b.outgoing_batches(ledger, batch)]
    proc, url = b.serve(db)
    meter = b.CpuMeter(server=proc.pid, database=pg_pid)
    http = b.LeanTerminal(url, token)._http
    try:
        meter.start()
        for k, body in enumerate(bodies):
            waiting = str(n - (k + 1) * batch)
            answer = http.post(
                API_PREFIX + "/entries",
                content=body,
                headers={"Content-Type": "application/json", OUTBOX_HEADER: waiting},
            )
            if answer.status_code != 200 or '"applied"' not in answer.text:
                raise SystemExit(f"bench-batch-cost: a batch was answered {answer.status_code}")
        cpu = meter.stop()
    finally:
        http.close()
        proc.terminate()
        proc.wait()
    b.check_recorded(f"{kind}, batches of {batch}", store, n)
    store.close()
    return {k: v / len(bodies) * 1e3 for k, v in cpu.items() if k in ("server", "database")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--base", required=True, help="git revision to compare against (A)")
    parser.add_argument("--runs", type=int, default=3, help="pairs of runs (3)")
    parser.add_argument("--engine", choices=["sqlite", "postgresql"], action="append")
    args = parser.parse_args()
    engines = args.engine or ["sqlite", "postgresql"]
    work = Path(tempfile.mkdtemp(prefix="bench-batch-cost-"))
    base = work / "base"
    base.mkdir()
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", args.base, "src"], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(base)], input=archive, check=True)
    trees = {"A": str(base / "src"), "B": str(ROOT / "src")}
    pg = None
    pg_pid = None
    if "postgresql" in engines:
        from tests.support.throwaway_pg import ThrowawayPostgres

        pg = ThrowawayPostgres(durable=True).start()
        pg_pid = b.postgres_pid(pg)
    counter = iter(range(10**6))
    print(
        f"bench-batch-cost: A = {args.base}, B = this tree; {args.runs} pairs alternating; "
        f"CPU ms per batch, median (min-max); load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        for kind in engines:
            for batch, n in SIZES:
                got: dict[str, dict[str, list[float]]] = {"A": {}, "B": {}}
                for _ in range(args.runs):
                    for tree in ("A", "B"):
                        os.environ["PYTHONPATH"] = trees[tree]
                        tag = next(counter)
                        db = (
                            str(work / f"central-{tag}.sqlite3")
                            if kind == "sqlite"
                            else pg.create_database(f"cost{tag}")
                        )  # type: ignore[union-attr]
                        for key, value in one_run(
                            kind, db, batch, n, work, pg_pid if kind == "postgresql" else None
                        ).items():
                            got[tree].setdefault(key, []).append(value)
                        for f in work.glob("*-terminal.sqlite3*"):
                            f.unlink()
                for key in got["A"]:
                    a, bb = (sorted(got[t][key]) for t in ("A", "B"))
                    print(
                        f"  {kind:10} batches of {batch:3}: {key:8} "
                        f"A {statistics.median(a):6.2f} ({a[0]:.2f}-{a[-1]:.2f})  "
                        f"B {statistics.median(bb):6.2f} ({bb[0]:.2f}-{bb[-1]:.2f})  "
                        f"B/A {statistics.median(bb) / statistics.median(a):.2f}",
                        flush=True,
                    )
    finally:
        os.environ.pop("PYTHONPATH", None)
        if pg is not None:
            pg.stop()


if __name__ == "__main__":
    main()
