"""Scan-to-screen latency of putback against a minimal Textual app, and time to first scan.

One harness drives both apps headless at 100x30: it posts a scan as a keyboard-wedge burst
(one key event per character, then Enter) and stops the clock when the app has handled the
scan *and* the screen has been refreshed with its result (``call_after_refresh`` from the
app's ``scan_shown`` hook). The minimal app buffers the same keys and only echoes the scan into
a label: the floor any Textual app pays. Measured for putback:

- order open: scanning an order ID (round robin over the facility's orders; exception orders
  are released on first open, as in real use);
- put-back confirmation: scanning the item on the location step (order, item and location are
  scanned first, unmeasured; Ctrl+Z undoes it afterwards so the data set can be reused);
- worklist open: on the order screen, with the worklist of every waiting exception order on it,
  scanning a waiting order's ID (round robin over the list); Esc brings the order screen back,
  unmeasured. Measured twice: with the list read and shown ("list shown"), and with a re-read
  of the list under way in its thread when the scan arrives (asked for, then running for 5 ms:
  "list re-read"), the worst case of the minute tick or a sync round landing on a scan. The
  time of one read of the list (``Station.worklist``, every waiting order scored) is given too,
  in the app's thread and by the helper process the app reads a long list with (with the CPU
  time the app itself spends on it).

For the worklist, generate a data set with a few hundred exception orders, e.g.
``scripts/gen-data .data/large-500 --exceptions 600`` (200,000 orders; about 600 of them
waiting once loaded).

Start-up: wall time from spawning a fresh Python process until the first screen is painted and
ready for a scan, for each app (median of several runs).

Run it on the large data set (``scripts/gen-data``, then ``--data DIR``, plus ``--ledger FILE``
to start from a copy of a ledger already loaded with it instead of loading it again, which takes
minutes); the default, the demo data, is only a smoke test. The floor is measured before and
after putback in the same run and pooled, so a busy machine weighs on both alike. Goal (issue 17,
scan to screen): median at most 1.2 times the floor's, p99 at most 1.5 times.
Each figure also lists its five slowest samples, so the tail can be read sample by sample.

    scripts/bench-latency --data DIR [--ledger FILE] [--samples 300] [--json bench.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from textual import events  # noqa: E402
from textual.app import App, ComposeResult  # noqa: E402
from textual.keys import _character_to_key  # noqa: E402
from textual.widgets import Label  # noqa: E402

from putback_tui.config import Settings  # noqa: E402
from putback_tui.dataset import DEMO_DIR  # noqa: E402
from putback_tui.ledger import Ledger  # noqa: E402
from putback_tui.tui.app import PutbackApp  # noqa: E402
from putback_tui.tui.messages import ScanReceived  # noqa: E402
from putback_tui.tui.screens.order import OrderScreen  # noqa: E402
from putback_tui.tui.screens.put_back import PutBackScreen  # noqa: E402
from putback_tui.worklist_process import WorklistProcess  # noqa: E402

SIZE = (100, 30)


# -- the two apps --------------------------------------------------------------------------------


class Marked:
    """Mixin: sets an event with the time the screen showed a scan's result."""

    shown_at: float = 0.0
    shown: asyncio.Event

    def scan_shown(self, text: str) -> None:
        """Stop the clock: the screen now shows the scan's result."""
        self.shown_at = time.perf_counter()
        self.shown.set()


class BenchApp(Marked, PutbackApp):
    """putback itself, marked."""


class EchoApp(Marked, App[None]):
    """The floor: buffers keys like putback and echoes each scan into a label."""

    def __init__(self) -> None:
        super().__init__()
        self.buffer: list[str] = []

    def compose(self) -> ComposeResult:
        """One label."""
        yield Label("ready", id="echo")

    async def on_event(self, event: events.Event) -> None:
        """Buffer keys until Enter, as putback does."""
        if isinstance(event, events.Key) and not event.is_forwarded:
            if event.key == "enter":
                self.post_message(ScanReceived("".join(self.buffer), "keyboard"))
                self.buffer.clear()
                return
            if event.is_printable and event.character:
                self.buffer.append(event.character)
                return
        await super().on_event(event)

    def on_scan_received(self, message: ScanReceived) -> None:
        """Echo the scan."""
        self.query_one(Label).update(message.text)
        self.call_after_refresh(self.scan_shown, message.text)


def keys(text: str) -> list[events.Key]:
    return [events.Key(_character_to_key(c), c) for c in text] + [events.Key("enter", "\r")]


async def timed_scan(app: Any, text: str) -> float:
    """Deliver one scan as a burst; seconds until its result is on screen."""
    app.shown = asyncio.Event()
    for key in keys(text)[:-1]:
        app.post_message(key)
    start = time.perf_counter()
    app.post_message(keys("")[0])  # the Enter: the scan is now completely delivered
    await asyncio.wait_for(app.shown.wait(), 5)
    return app.shown_at - start


async def untimed_scan(app: Any, text: str) -> None:
    await timed_scan(app, text)
    await asyncio.sleep(0.005)


# -- the workload --------------------------------------------------------------------------------


def prepare_home(home: Path, data: Path, ledger_file: Path | None) -> None:
    """Make ``home`` a putback home on ``data``: a copy of a ready ledger, or ``putback init``."""
    from putback_tui.config import resolve_paths, save_settings
    from putback_tui.dataset import Dataset

    paths = resolve_paths(home)
    if ledger_file is None:
        subprocess.run(
            [sys.executable, "-c",
             "import sys; from putback_tui.cli import main; sys.argv=['putback', '--home', "
             f"{str(home)!r}, 'init', '--data', {str(data)!r}]; main()"],
            check=True, env=dict(os.environ, PYTHONPATH=str(ROOT / "src")),
            stdout=subprocess.DEVNULL,
        )
        return
    # A copy: the benchmark writes (releases, put-backs, undos); the cached file stays as it is.
    info = Dataset(data).info
    paths.data_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(ledger_file, paths.db_path)
    settings = Settings.model_validate(
        {"terminal": {"id": info.terminal, "facility": info.facility}}
    )
    save_settings(paths.config_file, settings)


def open_home(home: Path) -> tuple[Ledger, Settings]:
    from putback_tui.config import load_settings, resolve_paths

    paths = resolve_paths(home)
    return Ledger(paths.db_path, create=False), load_settings(paths.config_file)


def put_back_cases(ledger: Ledger, settings: Settings, limit: int) -> list[tuple[str, str, str]]:
    """(order, item barcode, location barcode) for picked, not lot-tracked lines."""
    from putback_tui.domain.models import EXCEPTION_STATUSES

    prefix = settings.codes.location_prefix
    cases: list[tuple[str, str, str]] = []
    with ledger.read() as tx:
        fallback = next(iter(tx.exception_locations(settings.terminal.facility)), None)
        for order_id in tx.order_ids(settings.terminal.facility, EXCEPTION_STATUSES):
            order = tx.order(order_id)
            if order is None:
                continue
            for line in order.lines:
                product = tx.product(line.sku)
                if not line.to_put_back or product is None or product.lot_tracked:
                    continue
                where = line.pick_location or product.home_location or fallback
                if where and product.gtins:
                    cases.append((order_id, product.gtins[0], prefix + where))
                    break
            if len(cases) >= limit:
                break
    return cases


def order_ids(ledger: Ledger, settings: Settings, limit: int) -> list[str]:
    with ledger.read() as tx:
        ids = [r[0] for r in tx.conn.execute(
            "SELECT order_id FROM orders WHERE facility = ? ORDER BY order_id LIMIT ?",
            (settings.terminal.facility, limit),
        )]
    return ids


def summary(samples: list[float]) -> dict[str, Any]:
    """Median, p99 and the slowest five samples (the tail, one by one), in ms."""
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]
    return {"median_ms": statistics.median(ordered) * 1000, "p99_ms": p99 * 1000, "n": len(ordered),
            "slowest_ms": [round(t * 1000, 2) for t in ordered[:-6:-1]]}


async def bench_floor(samples: int) -> list[float]:
    app = EchoApp()
    out: list[float] = []
    async with app.run_test(size=SIZE):
        for i in range(samples + 10):
            took = await timed_scan(app, f"D-{1000 + i % 997}")
            if i >= 10:  # warm-up
                out.append(took)
            await asyncio.sleep(0.005)
    return out


async def bench_putback(home: Path, samples: int) -> tuple[list[float], list[float]]:
    ledger, settings = open_home(home)
    try:
        badge = None
        with ledger.read() as tx:
            badge = tx.conn.execute("SELECT badge FROM operators ORDER BY badge").fetchone()[0]
        ids = order_ids(ledger, settings, samples + 10)
        cases = put_back_cases(ledger, settings, samples + 10)
        from putback_tui.station import Station

        app = BenchApp(Station(ledger, settings), settings)
        opens: list[float] = []
        confirms: list[float] = []
        async with app.run_test(size=SIZE):
            await asyncio.sleep(0.1)
            await untimed_scan(app, badge)
            for i in range(samples + 10):
                took = await timed_scan(app, ids[i % len(ids)])
                if i >= 10:
                    opens.append(took)
                await asyncio.sleep(0.005)
                await app.workers.wait_for_complete()
            for i in range(samples + 10):
                order_id, item, location = cases[i % len(cases)]
                await untimed_scan(app, order_id)
                await untimed_scan(app, item)
                await untimed_scan(app, location)
                took = await timed_scan(app, item)
                if i >= 10:
                    confirms.append(took)
                await app.workers.wait_for_complete()
                await app.action_undo()  # give the unit back so the case can be reused
                await app.workers.wait_for_complete()
                await asyncio.sleep(0.005)
    finally:
        ledger.close()
    return opens, confirms


def reading(app: Any) -> bool:
    """True while a worklist read runs in its thread worker."""
    from textual.worker import WorkerState

    return any(w.group == "worklist" and w.state is WorkerState.RUNNING for w in app.workers)


async def read_under_way(app: Any) -> None:
    """Wait until the re-read asked for runs in its thread, and a few ms into it."""
    for _ in range(500):
        if reading(app):
            break
        await asyncio.sleep(0.001)
    await asyncio.sleep(0.005)


async def bench_worklist(home: Path, samples: int) -> dict[str, Any]:
    """Order opens from the order screen with the worklist on it; and the list's read time."""
    from putback_tui.station import Station

    ledger, settings = open_home(home)
    out: dict[str, Any] = {}
    try:
        with ledger.read() as tx:
            badge = tx.conn.execute("SELECT badge FROM operators ORDER BY badge").fetchone()[0]
        station = Station(ledger, settings)
        reads, cpu = [], []
        for _ in range(15):
            start, start_cpu = time.perf_counter(), time.thread_time()
            worklist = station.worklist(now=datetime.now(UTC))
            reads.append(time.perf_counter() - start)
            cpu.append(time.thread_time() - start_cpu)
        out["waiting"] = worklist.waiting
        out["read"] = summary(reads)
        out["read_cpu_ms"] = statistics.median(cpu) * 1000
        # The same read by the helper process (what the app does from HELPER_FROM_WAITING
        # orders on): its wall time, and the CPU the app's own reader thread spends on it.
        helper = WorklistProcess(ledger.path, station.facility, settings.sla, settings.priority)
        try:
            helper.read(datetime.now(UTC))  # started, warm
            helper_reads, helper_cpu = [], []
            for _ in range(15):
                start, start_cpu = time.perf_counter(), time.thread_time()
                helper.read(datetime.now(UTC))
                helper_reads.append(time.perf_counter() - start)
                helper_cpu.append(time.thread_time() - start_cpu)
        finally:
            helper.close()
        out["helper_read"] = summary(helper_reads)
        out["helper_read_app_cpu_ms"] = statistics.median(helper_cpu) * 1000
        waiting = [r.order_id for r in worklist.rows]
        if not waiting:
            return out
        app = BenchApp(station, settings)
        shown: list[float] = []
        reread: list[float] = []
        landed = 0
        async with app.run_test(size=SIZE):
            await asyncio.sleep(0.1)
            await untimed_scan(app, badge)
            await app.workers.wait_for_complete()
            for i in range(2 * (samples + 10)):
                busy = i % 2 == 1
                if busy:
                    app.refresh_worklist(force=True)
                    await read_under_way(app)  # the scan lands on a read in its thread
                took = await timed_scan(app, waiting[i % len(waiting)])
                if i >= 20:
                    (reread if busy else shown).append(took)
                    if busy and reading(app):
                        landed += 1
                if not isinstance(app.screen, PutBackScreen):
                    raise SystemExit(f"{waiting[i % len(waiting)]} did not open: {app.result}")
                app.post_message(events.Key("escape", None))  # back to the order screen
                for _ in range(400):
                    await asyncio.sleep(0.005)
                    if isinstance(app.screen, OrderScreen):
                        break
                else:
                    raise SystemExit(f"not back on the order screen: {app.screen!r}")
                await app.workers.wait_for_complete()
                await asyncio.sleep(0.005)
            used = app.worklist_feed.helper
            out["by_helper"] = used is not None and used.usable and used.starts > 0
        out["list_shown"] = shown
        out["list_reread"] = reread
        out["landed_on_read"] = landed
    finally:
        ledger.close()
    return out


# -- start-up ------------------------------------------------------------------------------------


def _peak_rss_kb() -> int:
    """Peak resident memory of this process so far, in KiB (read by scripts/bench)."""
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


def child(kind: str, home: str) -> None:
    """Run one app headless; print READY once the first screen is painted, then quit."""
    if kind == "minimal":

        class Minimal(App[None]):
            def compose(self) -> ComposeResult:
                yield Label("ready")

            def on_ready(self) -> None:
                self.call_after_refresh(self.ready)

            def ready(self) -> None:
                print("READY", _peak_rss_kb(), flush=True)
                self.exit()

        Minimal().run(headless=True, size=SIZE)
        return
    from putback_tui.config import load_settings, resolve_paths
    from putback_tui.tui.app import make_app
    from putback_tui.tui.screens.sign_in import SignInScreen

    paths = resolve_paths(Path(home))
    ledger = Ledger(paths.db_path, create=False)
    app = make_app(ledger, load_settings(paths.config_file))

    def ready() -> None:
        if isinstance(app.screen, SignInScreen):
            print("READY", _peak_rss_kb(), flush=True)
            app.exit()
        else:
            app.call_after_refresh(ready)

    app.call_later(lambda: app.call_after_refresh(ready))
    app.run(headless=True, size=SIZE)
    ledger.close()


def startup(kind: str, home: str, runs: int) -> list[float]:
    out = []
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    for _ in range(runs):
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, __file__, "--child", kind, home],
            stdout=subprocess.PIPE, text=True, env=env,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        took = time.perf_counter() - start
        proc.wait(timeout=10)
        if line.split()[:1] != ["READY"]:
            raise SystemExit(f"{kind} app did not start: {line!r}")
        out.append(took)
    return out


# -- main ----------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=DEMO_DIR,
                        help="data set directory (default: the demo set; use the large set)")
    parser.add_argument("--ledger", type=Path,
                        help="a ledger already loaded with --data (e.g. by `putback init`): "
                        "copied to a temporary home instead of loading the data set again")
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--startup-runs", type=int, default=7)
    parser.add_argument("--json", type=Path, help="also write the figures here")
    parser.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(*args.child)
        return

    floor_samples = asyncio.run(bench_floor(args.samples))
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        prepare_home(home, args.data, args.ledger)
        minimal = statistics.median(startup("minimal", str(home), args.startup_runs)) * 1000
        app = statistics.median(startup("app", str(home), args.startup_runs)) * 1000
        opens, confirms = asyncio.run(bench_putback(home, args.samples))
        worklist = asyncio.run(bench_worklist(home, args.samples))
    floor_samples += asyncio.run(bench_floor(args.samples))
    floor = summary(floor_samples)
    results: dict[str, Any] = {"data": str(args.data), "floor": floor}
    measured = [("order_open", opens), ("put_back_confirm", confirms)]
    for key in ("list_shown", "list_reread"):
        if key in worklist:
            measured.append((f"worklist_open_{key}", worklist[key]))
    results["worklist"] = {
        key: worklist[key]
        for key in ("waiting", "read", "read_cpu_ms", "helper_read", "helper_read_app_cpu_ms",
                    "by_helper")
        if key in worklist
    }
    for name, samples in measured:
        stats = summary(samples)
        stats["ratio_median"] = stats["median_ms"] / floor["median_ms"]
        stats["ratio_p99"] = stats["p99_ms"] / floor["p99_ms"]
        results[name] = stats
    results["startup"] = {"minimal_ms": minimal, "app_ms": app, "ratio": app / minimal}

    show: Callable[[str, dict[str, Any]], None] = lambda name, s: print(  # noqa: E731
        f"{name:<18} median {s['median_ms']:6.2f} ms   p99 {s['p99_ms']:6.2f} ms"
        + (f"   ratio {s['ratio_median']:.2f} (p99 {s['ratio_p99']:.2f})" if "ratio_median" in s
           else "   (floor)")
        + f"\n{'':<18} slowest {' '.join(f'{t:.2f}' for t in s['slowest_ms'])} ms"
    )
    print(f"data set: {args.data}   samples: {args.samples}   terminal: {SIZE[0]}x{SIZE[1]}")
    show("echo app (floor)", floor)
    show("order open", results["order_open"])
    show("put-back confirm", results["put_back_confirm"])
    if "worklist_open_list_shown" in results:
        show("worklist open", results["worklist_open_list_shown"])
        show("  (list re-read)", results["worklist_open_list_reread"])
        print(f"{'':<18} ({worklist['landed_on_read']} of {len(worklist['list_reread'])} scans "
              "found the re-read still under way when their result was shown)")
    read = results["worklist"]["read"]
    print(f"{'worklist read':<18} median {read['median_ms']:6.2f} ms   p99 {read['p99_ms']:6.2f} ms"
          f"   ({results['worklist']['waiting']} waiting orders, every one scored; in a thread: "
          f"{results['worklist']['read_cpu_ms']:.1f} ms CPU of the app's)")
    if "helper_read" in results["worklist"]:
        hread = results["worklist"]["helper_read"]
        print(f"{'  by the helper':<18} median {hread['median_ms']:6.2f} ms   p99 "
              f"{hread['p99_ms']:6.2f} ms   ({results['worklist']['helper_read_app_cpu_ms']:.1f} ms"
              " CPU of the app's; the scans above were read so: "
              f"{'yes' if results['worklist'].get('by_helper') else 'NO'})")
    print(f"{'start-up':<18} minimal {minimal:6.0f} ms   putback {app:6.0f} ms   "
          f"ratio {app / minimal:.2f}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
