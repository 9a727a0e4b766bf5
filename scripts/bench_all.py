"""Run every benchmark of the project and write one table (bench.md) and one JSON file (bench.json).

Each figure comes with the baseline it is compared to and the ratio between the two, both
measured in the same run on the same machine:

* scan-to-screen latency (order open, put-back confirm) against a minimal Textual app that
  echoes the same scan, and start-up to the first screen against that minimal app
  (scripts/bench-latency);
* order open and put-back commit against a raw single-row SQLite insert with the same
  durability settings, interleaved on the same file (scripts/bench-ledger);
* sync drain into SQLite and PostgreSQL against inserting the same entries directly, the same
  for the backlog of a terminal's real ledger (releases beside the put-backs), and 50
  concurrent terminals on PostgreSQL against that same direct insert (scripts/bench-sync);
* scanner decoder rate against a dict lookup per key press (scripts/bench-decoder);
* peak memory of the app started headless on the large data set against a minimal Textual app.

Each benchmark runs in its own process and hands its figures over as JSON (``--json``), so
nothing here parses printed tables. A benchmark that cannot run (no terminal UI yet, no
PostgreSQL) gives rows marked "not available" with the reason, never a failure of the whole.

    scripts/bench [--quick] [--out DIR]

``--quick`` (under two minutes once .data/quick is cached) uses a 100,000-product data set for
the ledger and memory, the demo data for latency, and fewer samples; without it the large data
set (scripts/gen-data, 1,000,000 products) and full sample counts.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Row:
    """One line of the table: a figure, its baseline, and the ratio between them."""

    group: str
    name: str
    value: float | None
    unit: str
    baseline_name: str
    baseline_value: float | None
    better: str
    """``lower`` or ``higher``: which way the figure is better (the ratio is value/baseline)."""
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """The figure divided by its baseline; None when either is missing."""
        if self.value is None or not self.baseline_value:
            return None
        return self.value / self.baseline_value

    def as_dict(self) -> dict[str, Any]:
        """The row for bench.json."""
        d = asdict(self)
        d["ratio"] = self.ratio
        d["available"] = self.value is not None
        return d


def _env() -> dict[str, str]:
    # The benchmarks import this checkout's code, whatever the interpreter has installed.
    return {**os.environ, "PYTHONPATH": str(ROOT / "src")}


def run_json(name: str, argv: list[str], timeout_s: float) -> tuple[dict[str, Any] | None, str]:
    """Run one benchmark with ``--json``; its figures, or None and why not."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        started = time.monotonic()
        print(f"== {name}: {' '.join(argv)}", file=sys.stderr, flush=True)
        try:
            done = subprocess.run(
                [sys.executable, *argv, "--json", str(out)], cwd=ROOT, env=_env(),
                capture_output=True, text=True, timeout=timeout_s, check=False,
            )
        except subprocess.TimeoutExpired:
            return None, f"timed out after {timeout_s:.0f} s"
        sys.stderr.write(done.stdout)
        print(f"   ({time.monotonic() - started:.0f} s)", file=sys.stderr, flush=True)
        if done.returncode != 0 or not out.exists():
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, f"failed: {last[:160]}"
        return json.loads(out.read_text()), ""


def ledger_rows(quick: bool) -> list[Row]:
    argv = ["scripts/bench_ledger.py", *(["--quick"] if quick else [])]
    data, why = run_json("ledger", argv, 1800)
    group = "ledger (put-back commit)"
    if data is None:
        return [Row(group, "put-back commit rate", None, "commits/s",
                    "raw durable SQLite insert", None, "higher", why)]
    by = {r["name"]: r for r in data["rows"]}
    raw = by["raw SQLite single-row durable insert (baseline)"]
    put = by["commit one put-back"]
    opened = by["open exception order (incl. release commit)"]
    size = f"{data['db_size_mb']:.0f} MB ledger, WAL + synchronous=FULL, n={put['n']}"
    return [
        Row(group, "put-back commit rate (1 / median)", 1000 / put["median_ms"], "commits/s",
            "raw durable single-row insert, same file, interleaved", 1000 / raw["median_ms"],
            "higher", size),
        Row(group, "put-back commit p99", put["p99_ms"], "ms", "raw insert p99", raw["p99_ms"],
            "lower"),
        Row(group, "order open incl. release commit, median", opened["median_ms"], "ms",
            "raw insert median", raw["median_ms"], "lower"),
    ]


def sync_rows(quick: bool) -> list[Row]:
    argv = ["scripts/bench_sync.py",
            *(["--quick", "-n", "5000", "--per", "100", "--real-orders", "5000", "--runs", "1"]
              if quick else [])]
    data, why = run_json("sync", argv, 3600)
    group = "sync"
    if data is None:
        return [Row(group, name, None, "entries/s", "direct insert", None, "higher", why)
                for name in ("ingest into SQLite", "drain into SQLite",
                             "drain of a terminal's real ledger into SQLite",
                             "ingest into PostgreSQL", "drain into PostgreSQL",
                             "drain of a terminal's real ledger into PostgreSQL",
                             "50 terminals at once on PostgreSQL")]
    rows = []
    runs = f"median of {data['runs']} run{'s' if data['runs'] > 1 else ''}"
    for kind, label in (("sqlite", "SQLite"), ("postgresql", "PostgreSQL")):
        for name, what in (
            ("ingest", f"batches of {data['batch']}, pre-built, over HTTP"),
            ("drain", "the product's batches (200, growing to 5,000), real SyncWorker over HTTP"),
        ):
            fig = data[f"{name}_{kind}"]
            rows.append(Row(group, f"{name} of {data['entries']:,} entries into {label}",
                            fig["rate"]["median"], "entries/s",
                            f"same entries inserted directly into {label}",
                            fig["baseline"]["median"], "higher",
                            f"{what}; server CPU "
                            f"{fig['cpu_us_server']['median']:.0f} us/entry; {runs}"))
        real = data[f"real_drain_{kind}"]
        count = {k: f"{v['median']:,.0f}" for k, v in real.items() if k != "runs"}
        rows.append(Row(group, f"drain of a terminal's real ledger ({count['entries']} entries: "
                        f"{count['releases']} releases, {count['put_backs']} put-backs) into "
                        f"{label}", real["rate"]["median"], "entries/s",
                        f"same entries inserted directly into {label}",
                        real["baseline"]["median"], "higher",
                        f"real SyncWorker over HTTP, the product's batches: the push of the "
                        f"terminal's first sync (its full pull after it, "
                        f"{real['pull_s']['median']:.1f} s, not counted); "
                        f"{count['batches_with_release']} of {count['batches']} held a release; "
                        f"{count['answers_already_released']} answered "
                        f"already_released; server CPU {count['cpu_us_server']} us/entry; "
                        f"{runs}"))
    base = data["drain_postgresql"]["baseline"]["median"]
    for workers in (1, 2):
        fan = data.get(f"fan_in_postgresql_{workers}")
        if fan is None:
            continue
        rows.append(Row(group, f"{data['fan_in_terminals']} terminals over "
                        f"{data['fan_in_facilities']} facilities on PostgreSQL, {workers} "
                        f"server process{'es' if workers > 1 else ''}",
                        fan["rate"]["median"], "entries/s",
                        "direct insert into PostgreSQL (drain baseline above)", base, "higher",
                        f"{data['fan_in_per_terminal']:,} entries each; batch answer p50 "
                        f"{fan['p50_ms']['median']:.0f} ms, p99 {fan['p99_ms']['median']:.0f} ms; "
                        f"{runs}"))
    return rows


def decoder_rows(quick: bool) -> list[Row]:
    argv = ["scripts/bench-decoder", *(["--scans", "600", "--rounds", "3"] if quick else [])]
    data, why = run_json("decoder", argv, 600)
    group = "scanner decoder"
    if data is None:
        return [Row(group, "decoder rate", None, "chars/s", "dict lookup per key press", None,
                    "higher", why)]
    return [Row(group, "decoder rate (recorded US and GS1 scans)", data["chars_per_s"],
                "chars/s", "dict lookup per key press, same events",
                data["baseline_chars_per_s"], "higher",
                f"{data['ratio_to_fastest_scanner']:,.0f} x a fast scanner (125 chars/s)")]


def latency_rows(quick: bool, data_dir: Path, home: Path | None) -> list[Row]:
    group = "terminal UI"
    script = ROOT / "scripts" / "bench_latency.py"
    names = ("scan-to-screen: order open, median", "scan-to-screen: order open, p99",
             "scan-to-screen: put-back confirm, median", "scan-to-screen: put-back confirm, p99",
             "start-up to first screen")
    if not script.exists():
        return [Row(group, n, None, "ms", "minimal Textual app", None, "lower",
                    "not available: the terminal UI and scripts/bench-latency are not here yet")
                for n in names]
    argv = ["scripts/bench_latency.py", "--data", str(data_dir),
            "--samples", "25" if quick else "300", "--startup-runs", "3" if quick else "7"]
    if home is not None:
        argv += ["--ledger", str(home / "data" / "putback.sqlite3")]
    data, why = run_json("latency", argv, 3600)
    if data is None:
        return [Row(group, n, None, "ms", "minimal Textual app", None, "lower",
                    f"not available: {why}") for n in names]
    floor = data["floor"]
    where = f"data: {Path(data['data']).name}, headless 100x30"
    rows = []
    for key, label in (("order_open", "order open"), ("put_back_confirm", "put-back confirm")):
        fig = data[key]
        rows.append(Row(group, f"scan-to-screen: {label}, median", fig["median_ms"], "ms",
                        "minimal Textual app echoing the scan, median", floor["median_ms"],
                        "lower", where))
        rows.append(Row(group, f"scan-to-screen: {label}, p99", fig["p99_ms"], "ms",
                        "minimal Textual app, p99", floor["p99_ms"], "lower", where))
    start = data["startup"]
    rows.append(Row(group, "start-up to first screen (median)", start["app_ms"], "ms",
                    "minimal Textual app start-up", start["minimal_ms"], "lower", where))
    return rows


def memory_rows(quick: bool, home: Path | None, data_name: str) -> list[Row]:
    group = "terminal UI"
    name = f"app memory, peak RSS, headless, {data_name} data set"
    script = ROOT / "scripts" / "bench_latency.py"
    if not script.exists():
        return [Row(group, name, None, "MB", "minimal Textual app", None, "lower",
                    "not available: the terminal UI is not here yet")]
    if home is None:
        return [Row(group, name, None, "MB", "minimal Textual app", None, "lower",
                    "not available: no loaded ledger (scripts/bench-ledger makes it)")]

    def peak(kind: str) -> float:
        out = []
        for _ in range(3):
            done = subprocess.run(
                [sys.executable, str(script), "--child", kind, str(home)], cwd=ROOT, env=_env(),
                capture_output=True, text=True, timeout=300, check=False,
            )
            words = done.stdout.split()
            if done.returncode != 0 or len(words) < 2 or words[0] != "READY":
                last = (done.stderr.strip().splitlines() or ["no output"])[-1]
                raise RuntimeError(f"{kind} app: {last[:160]}")
            out.append(int(words[1]) / 1024)
        return statistics.median(out)

    print("== memory", file=sys.stderr, flush=True)
    try:
        app, minimal = peak("app"), peak("minimal")
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        return [Row(group, name, None, "MB", "minimal Textual app", None, "lower",
                    f"not available: {exc}")]
    return [Row(group, name, app, "MB", "minimal Textual app (one label), peak RSS", minimal,
                "lower", "median of 3 runs, measured at the first painted screen")]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return "n/a"
    if unit in ("ms",) and value < 10:
        return f"{value:.2f} {unit}"
    if value >= 100:
        return f"{value:,.0f} {unit}"
    return f"{value:.1f} {unit}"


def markdown(rows: list[Row], meta: dict[str, Any]) -> str:
    lines = [
        f"# putback benchmarks ({'quick' if meta['quick'] else 'full'} run)",
        "",
        f"{meta['when']} on {meta['machine']}; Python {meta['python']}. Every baseline is "
        "measured in the same run; ratio = figure / baseline (see *better*).",
        "",
        "| group | figure | value | baseline | baseline value | ratio | better | note |",
        "| --- | --- | ---: | --- | ---: | ---: | --- | --- |",
    ]
    for r in rows:
        ratio = f"{r.ratio:.2f}" if r.ratio is not None else "n/a"
        lines.append(
            f"| {r.group} | {r.name} | {_fmt(r.value, r.unit)} | {r.baseline_name} | "
            f"{_fmt(r.baseline_value, r.unit)} | {ratio} | {r.better} | {r.note} |"
        )
    lines.append("")
    return "\n".join(lines)


def ensure_loaded_home(quick: bool) -> tuple[Path, Path]:
    """The data set and the home loaded with it (made and cached by scripts/bench-ledger)."""
    data = ROOT / ".data" / ("quick" if quick else "large")
    home = data.parent / f"{data.name}.ledger"
    return data, home


def main() -> None:
    parser = argparse.ArgumentParser(prog="scripts/bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sets and samples (< 2 min)")
    parser.add_argument("--out", type=Path, default=Path.cwd(),
                        help="where to write bench.md and bench.json (default: here)")
    args = parser.parse_args()
    started = time.monotonic()
    rows: list[Row] = []
    # The ledger benchmark first: it generates and loads (once, cached) the data set that the
    # memory benchmark reuses.
    rows += ledger_rows(args.quick)
    data, home = ensure_loaded_home(args.quick)
    loaded = home if (home / "data" / "putback.sqlite3").exists() else None
    rows += sync_rows(args.quick)
    rows += decoder_rows(args.quick)
    if args.quick:
        from putback_tui.dataset import DEMO_DIR

        rows += latency_rows(True, DEMO_DIR, None)
    else:
        rows += latency_rows(False, data, loaded)
    rows += memory_rows(args.quick, loaded, data.name)
    meta = {
        "quick": args.quick,
        "when": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "python": platform.python_version(),
        "seconds": round(time.monotonic() - started, 1),
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench.md").write_text(markdown(rows, meta))
    (args.out / "bench.json").write_text(
        json.dumps({**meta, "rows": [r.as_dict() for r in rows]}, indent=2)
    )
    print(markdown(rows, meta))
    print(f"wrote {args.out / 'bench.md'} and {args.out / 'bench.json'} "
          f"in {meta['seconds']:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
