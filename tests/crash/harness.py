"""Crash harness: a terminal and a central store killed with SIGKILL at random moments, again and
again, with every promise of "nothing lost" checked after every round.

One round: start the terminal process (:mod:`tests.crash.terminal`: random station actions, the
real sync worker pushing to the central store); after a random delay kill it, or the central
store's process, or both, with SIGKILL (sometimes during start-up). Then check:

1. every action the terminal confirmed (reported after the station call returned) is in the
   local ledger; entries nobody reported are allowed only as the tail of that run, made by the
   one call that was in flight when the kill landed;
2. the local projections (stock and line progress) equal the rebuild from the local ledger;
3. no negative stock and no put-back above picked, locally and centrally;
4. whenever the central store is up (it stays down for a few rounds after some kills: an
   outage with a growing backlog), the backlog is drained with the real sync worker and the
   central store holds each of the terminal's entries exactly once, in the terminal's order;
   central stock equals its starting stock plus every applied entry, rebuilt here
   independently; and the terminal's stock equals the central store's.

``python -m tests.crash.harness --kills 1000`` (or ``scripts/crash``) runs as many rounds as
asked and prints the tally; ``tests/crash/test_crash.py`` runs a short version in the suite.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import queue
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import SecretStr

from putback_tui.central.imports import import_path
from putback_tui.central.server import free_port
from putback_tui.central.storage import CentralStore, open_store
from putback_tui.config import SyncSettings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.entries import Entry
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.ledger.load import load_dataset
from putback_tui.sync.worker import SyncWorker
from putback_tui.wire import ClientKind

ROOT = Path(__file__).resolve().parents[2]
FACILITY = "STORE-01"
TERMINAL = "PACK-01"

Qoh = dict[tuple[str, str], int]
Atp = dict[str, int]


class CheckFailed(AssertionError):
    """A promise was broken; the message says which and how."""


def _env() -> dict[str, str]:
    # The children import this worktree's code, whatever the interpreter has installed.
    path = os.pathsep.join([str(ROOT / "src"), str(ROOT)])
    return {**os.environ, "PYTHONPATH": path}


class Zygote:
    """Starts processes by forking a warm :mod:`tests.crash.zygote`; kills them by PID."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.crash.zygote"], cwd=ROOT, env=_env(),
            stdin=subprocess.PIPE, stdout=subprocess.PIPE,
        )
        self.pids: queue.Queue[int] = queue.Queue()
        self.exits: dict[int, int] = {}
        self._ready = threading.Event()
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        if not self._ready.wait(60):
            raise CheckFailed("the zygote did not start")

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for raw in self.proc.stdout:
            kind, *rest = raw.decode().split()
            if kind == "ZYGOTE":
                self._ready.set()
            elif kind == "PID":
                self.pids.put(int(rest[0]))
            elif kind == "EXIT":
                self.exits[int(rest[0])] = int(rest[1])

    def spawn(self, role: str, argv: list[str], log: Path) -> int:
        assert self.proc.stdin is not None
        request = {"role": role, "argv": argv, "log": str(log)}
        self.proc.stdin.write((json.dumps(request) + "\n").encode())
        self.proc.stdin.flush()
        return self.pids.get(timeout=30)

    def alive(self, pid: int) -> bool:
        return pid not in self.exits

    def kill(self, pid: int) -> int:
        """SIGKILL ``pid`` and wait until it is gone; returns its exit status."""
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while pid not in self.exits:
            if time.monotonic() > deadline:
                raise CheckFailed(f"process {pid} did not die")
            time.sleep(0.001)
        return self.exits.pop(pid)

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.kill()
        self.proc.wait()


class CentralProcess:
    """``putback central serve`` in its own process, so it can be killed like a real one."""

    def __init__(self, zygote: Zygote, db_url: str, port: int, log: Path) -> None:
        self.zygote = zygote
        self.db_url = db_url
        self.port = port
        self.log = log
        self.pid: int | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def running(self) -> bool:
        return self.pid is not None and self.zygote.alive(self.pid)

    def start(self, timeout_s: float = 30.0) -> None:
        self.pid = self.zygote.spawn(
            "central", ["central", "serve", "--db", self.db_url, "--port", str(self.port)],
            self.log,
        )
        deadline = time.monotonic() + timeout_s
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                if not self.running or time.monotonic() > deadline:
                    raise CheckFailed(f"the central store did not start; see {self.log}") from None
                time.sleep(0.01)

    def kill(self) -> None:
        if self.pid is not None:
            self.zygote.kill(self.pid)
        self.pid = None


@dataclass
class Report:
    """What the terminal process reported in one run."""

    confirmed: dict[str, int] = field(default_factory=dict)
    """entry_id -> number of the call that returned it."""
    in_flight: tuple[int, str] | None = None
    """The call that had started but not returned when the kill landed."""
    calls: int = 0
    finished: int = 0
    """Calls that ended before the kill (confirmed, refused or a ledger error)."""
    refused: int = 0
    ledger_errors: int = 0
    ready: bool = False

    @classmethod
    def read(cls, path: Path) -> Report:
        report = cls()
        if not path.exists():
            return report
        data = path.read_bytes()
        # Each line was one os.write: a kill cannot cut one in half, but be strict anyway.
        if data and not data.endswith(b"\n"):
            raise CheckFailed(f"{path}: a report line was cut: {data[-80:]!r}")
        for line in data.decode().splitlines():
            kind, _, rest = line.partition(" ")
            if kind == "READY":
                report.ready = True
            elif kind == "B":
                n, _, action = rest.partition(" ")
                report.in_flight = (int(n), action)
                report.calls += 1
            elif kind == "D":
                n, *ids = rest.split()
                for entry_id in ids:
                    report.confirmed[entry_id] = int(n)
                report.in_flight = None
                report.finished += 1
            elif kind == "R":
                report.refused += 1
                report.in_flight = None
                report.finished += 1
            elif kind == "L":
                report.ledger_errors += 1
                report.in_flight = None
                report.finished += 1
            else:
                raise CheckFailed(f"{path}: unexpected report line {line!r}")
        return report


@dataclass
class Tally:
    """Counts over a whole run of the harness."""

    rounds: int = 0
    kills: Counter[str] = field(default_factory=Counter)
    calls_asked: int = 0
    """Calls the terminal had to start before its kill (rounds that kill after calls)."""
    calls: int = 0
    finished_calls: int = 0
    confirmed: int = 0
    refused_calls: int = 0
    ledger_errors: int = 0
    """Calls that failed with a ledger error (locked, disk full): nothing saved, operator told."""
    unreported_tail: int = 0
    """Entries committed by the call in flight at the kill (durable, never reported)."""
    entries: int = 0
    drains: int = 0
    largest_backlog: int = 0
    outage_rounds: int = 0
    central_refused: int = 0
    refused_releases: int = 0
    """Of those, releases of units the central store had released itself at import (until it
    answers them as already released: issue 13)."""
    lost: int = 0
    duplicated: int = 0
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "rounds": self.rounds,
            "kills": sum(self.kills.values()),
            "kills_by_target": dict(self.kills),
            "calls_asked": self.calls_asked,
            "calls": self.calls,
            "finished_calls": self.finished_calls,
            "confirmed_entries": self.confirmed,
            "refused_calls": self.refused_calls,
            "ledger_error_calls": self.ledger_errors,
            "unreported_tail_entries": self.unreported_tail,
            "ledger_entries": self.entries,
            "drains_checked": self.drains,
            "largest_backlog": self.largest_backlog,
            "rounds_with_central_down": self.outage_rounds,
            "central_refused": self.central_refused,
            "lost": self.lost,
            "duplicated": self.duplicated,
            "seconds": round(self.seconds, 1),
        }

    def text(self) -> str:
        d = self.as_dict()
        width = max(len(k) for k in d)
        return "\n".join(f"{k:<{width}}  {v}" for k, v in d.items())


class Harness:
    """Owns the files, the processes and the checks of one crash run."""

    def __init__(
        self,
        workdir: Path,
        *,
        data: Path = DEMO_DIR,
        engine: str = "sqlite",
        seed: int = 1,
        max_delay_s: float = 0.6,
        max_calls: int | None = None,
        full_check_every: int = 1,
        log: Any = None,
    ) -> None:
        self.workdir = workdir
        self.data = data
        self.engine = engine
        self.rng = random.Random(seed)
        self.seed = seed
        self.max_delay_s = max_delay_s
        self.max_calls = max_calls
        self.full_check_every = full_check_every
        self.log = log or (lambda _msg: None)
        self.tally = Tally()
        self.db_path = workdir / "terminal" / "putback.sqlite3"
        self._pg: Any = None
        self.central: CentralProcess
        self.store: CentralStore
        self.token = ""
        self.all_confirmed: set[str] = set()
        self.allowed_unreported: set[str] = set()
        self.down_rounds = 0
        # Central stock rebuilt from its starting stock and every applied entry, incrementally.
        self.central_qoh: Qoh = {}
        self.central_atp: Atp = {}
        self.touched_qoh: set[tuple[str, str]] = set()
        self.touched_atp: set[str] = set()
        self.events_cursor = 0

    # -- set-up ------------------------------------------------------------------------------

    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        if self.engine == "postgres":
            from tests.support.throwaway_pg import ThrowawayPostgres

            self._pg = ThrowawayPostgres(durable=True).start()
            db_url = self._pg.create_database()
        else:
            db_url = str(self.workdir / "central.sqlite3")
        self.store = open_store(db_url)
        started = time.monotonic()
        import_path(self.store, self.data)
        self.token = self.store.add_client(TERMINAL, ClientKind.TERMINAL, FACILITY)
        self.central_qoh, self.central_atp = self.store.stock(FACILITY)
        # The import's own releases are in those figures already: the replay starts after them.
        while True:
            page = self.store.events(self.events_cursor, 1000, FACILITY)
            self.events_cursor = page.next_cursor
            if not page.has_more:
                break
        cached = self.data.parent / f"{self.data.name}.ledger" / "data" / "putback.sqlite3"
        if self.data != DEMO_DIR and cached.exists():
            # The ledger scripts/bench-ledger loaded from this data set once (minutes saved).
            self.db_path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(cached, self.db_path)
            ledger = Ledger(self.db_path)
            if ledger.entries(limit=1):
                raise CheckFailed(f"{cached} has entries: not a freshly loaded ledger")
        else:
            ledger = Ledger(self.db_path)
            load_dataset(ledger, Dataset(self.data), FACILITY)
        if len(self.central_atp) > 10_000:
            # Both sides loaded the same data set: start the terminal's changes feed where the
            # central store is now, as a terminal set up from the central store's snapshot would,
            # rather than pull a million unchanged rows on the first round.
            with self.store.engine.read() as tx:
                rev = tx.revision()
            ledger.set_meta(book.PULL_CURSOR, str(rev))
        ledger.close()
        self.log(f"set up {self.data.name} in {time.monotonic() - started:.1f} s")
        self.zygote = Zygote()
        self.central = CentralProcess(self.zygote, db_url, free_port(),
                                      self.workdir / "central.log")
        self.central.start()

    def close(self) -> None:
        if getattr(self, "central", None) is not None:
            self.central.kill()
        if getattr(self, "zygote", None) is not None:
            self.zygote.close()
        if getattr(self, "store", None) is not None:
            self.store.close()
        if self._pg is not None:
            self._pg.stop()

    # -- one round ---------------------------------------------------------------------------

    def round(self) -> None:
        self.tally.rounds += 1
        n = self.tally.rounds
        with _open(self.db_path) as led:
            before = {e.entry_id for e in led.entries()}
        report_path = self.workdir / f"report-{n}.log"
        report_path.unlink(missing_ok=True)
        central_up = self.central.running
        if not central_up:
            self.tally.outage_rounds += 1
        pid = self.zygote.spawn(
            "terminal",
            ["--db", str(self.db_path), "--report", str(report_path), "--url", self.central.url,
             "--token", self.token, "--seed", str(self.seed * 1_000_003 + n)],
            self.workdir / "terminal.log",
        )
        early = self.rng.random() < 0.1
        if not early:
            deadline = time.monotonic() + 60
            while b"READY" not in _peek(report_path):
                if not self.zygote.alive(pid):
                    raise CheckFailed(f"the terminal exited before it was ready; see "
                                      f"{self.workdir / 'terminal.log'}")
                if time.monotonic() > deadline:
                    raise CheckFailed("the terminal did not get ready in 60 s")
                time.sleep(0.005)
        if self.max_calls is not None and not early:
            # Kill after a number of calls, not a time: the same work on a slow machine as on a
            # fast one. The kill lands while that call (or a later one) is in flight.
            wanted = self.rng.randint(1, self.max_calls)
            self.tally.calls_asked += wanted
            self._wait_for_calls(pid, report_path, wanted)
        else:
            time.sleep(self.rng.uniform(0, self.max_delay_s if not early else 0.4))
        target = self.rng.choices(["terminal", "central", "both"], [6, 2, 2])[0]
        if not central_up:
            target = "terminal"
        if not self.zygote.alive(pid):
            raise CheckFailed(f"the terminal died by itself; see {self.workdir / 'terminal.log'}")
        if target in ("central", "both"):
            self.central.kill()
            self.down_rounds = self.rng.choice([0, 0, 1, 2, 3])
        status = self.zygote.kill(pid)
        if status != -signal.SIGKILL:
            raise CheckFailed(f"the terminal ended with {status} before the kill; see "
                              f"{self.workdir / 'terminal.log'}")
        if target == "central":
            # The terminal outlives the central store for a moment, then is killed too (one
            # process per round): what it confirmed meanwhile was offline.
            self.tally.kills["central (terminal stopped after)"] += 1
        else:
            self.tally.kills[target + (" during start-up" if early else "")] += 1
        report = Report.read(report_path)
        self.check_local(before, report)
        report_path.unlink(missing_ok=True)
        if not self.central.running:
            if self.down_rounds > 0:
                self.down_rounds -= 1
                return
            self.central.start()
        self.drain_and_check_central()

    def _wait_for_calls(self, pid: int, report_path: Path, wanted: int) -> None:
        deadline = time.monotonic() + 120
        while (started := _started_calls(report_path)) < wanted:
            if not self.zygote.alive(pid):
                raise CheckFailed(f"the terminal died by itself; see "
                                  f"{self.workdir / 'terminal.log'}")
            if time.monotonic() > deadline:
                raise CheckFailed(f"the terminal started {started} of {wanted} calls in 120 s")
            time.sleep(0.002)

    # -- checks ------------------------------------------------------------------------------

    def check_local(self, before: set[str], report: Report) -> None:
        t = self.tally
        t.calls += report.calls
        t.finished_calls += report.finished
        t.refused_calls += report.refused
        t.ledger_errors += report.ledger_errors
        with _open(self.db_path) as led:
            entries = led.entries()
            by_id = {e.entry_id: e for e in entries}
            ids = set(by_id)
            self.all_confirmed |= set(report.confirmed)
            t.confirmed += len(report.confirmed)
            lost = self.all_confirmed - ids
            if lost:
                t.lost += len(lost)
                raise CheckFailed(f"confirmed entries missing from the ledger: {sorted(lost)}")
            new = ids - before
            if not before <= ids:
                raise CheckFailed(f"entries disappeared: {sorted(before - ids)}")
            unreported = new - set(report.confirmed)
            if unreported:
                if report.in_flight is None:
                    raise CheckFailed(f"entries nobody confirmed, with no call in flight: "
                                      f"{sorted(unreported)}")
                newest_confirmed = max(
                    (by_id[i].seq for i in report.confirmed), default=0
                )
                early = [i for i in unreported if by_id[i].seq < newest_confirmed]
                if early:
                    raise CheckFailed(f"unconfirmed entries before a confirmed one: {early}")
                if report.in_flight[1] != "bulk_reject" and len(unreported) > 1:
                    raise CheckFailed(f"one call ({report.in_flight[1]}) left "
                                      f"{len(unreported)} entries: {sorted(unreported)}")
                t.unreported_tail += len(unreported)
                self.allowed_unreported |= unreported
            stray = ids - self.all_confirmed - self.allowed_unreported
            if stray:
                raise CheckFailed(f"entries nobody made: {sorted(stray)}")
            t.entries = len(entries)
            seqs = [e.seq for e in entries]
            if seqs != list(range(1, len(seqs) + 1)):
                raise CheckFailed("the ledger's sequence numbers have a gap")
            self._check_projections(led, entries)
            self._check_limits(led.db.conn, "local")

    def _check_projections(self, led: Ledger, entries: list[Entry]) -> None:
        full = self.tally.rounds % self.full_check_every == 0
        with led.read() as tx:
            if full:
                qoh_rows, atp_rows = tx.stock_rows()
                qoh = {(s, loc): v for s, loc, v in qoh_rows}
                atp = dict(atp_rows)
                rq, ra = book.rebuilt_stock(tx)
                if (qoh, atp) != (rq, ra):
                    raise CheckFailed(_diff("local stock vs its rebuild", (qoh, atp), (rq, ra)))
            else:
                keys, skus = _touched(entries)
                rq, ra = _rebuild_touched(tx, entries, keys, skus)
                for sku, loc in keys:
                    if tx.qoh(sku, loc) != rq.get((sku, loc), 0):
                        raise CheckFailed(f"local QOH of {sku} at {loc}: {tx.qoh(sku, loc)}, "
                                          f"rebuilt {rq.get((sku, loc), 0)}")
                for sku in skus:
                    if tx.atp(sku) != ra.get(sku, 0):
                        raise CheckFailed(f"local ATP of {sku}: {tx.atp(sku)}, rebuilt "
                                          f"{ra.get(sku, 0)}")
            progress = {
                (r[0], r[1]): (r[2], r[3], r[4], r[5])
                for r in tx.conn.execute(
                    "SELECT order_id, line_no, released, rejected, put_back, withdrawn "
                    "FROM line_progress"
                )
            }
            rebuilt = book.rebuilt_progress(tx)
            if progress != rebuilt:
                raise CheckFailed(_diff("local line progress vs its rebuild", progress, rebuilt))

    @staticmethod
    def _check_limits(conn: Any, where: str) -> None:
        def one(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        _limits(one, where, local=True)

    def drain_and_check_central(self) -> None:
        t = self.tally
        with _open(self.db_path) as led, led.read() as tx:
            waiting = book.counts(tx).waiting
        t.largest_backlog = max(t.largest_backlog, waiting)
        worker = SyncWorker(
            self.db_path,
            SyncSettings(url=self.central.url, token=SecretStr(self.token), batch_size=500),
        )
        try:
            deadline = time.monotonic() + 120
            while True:
                state = worker.run_once()
                if state.last_error is None and state.waiting == 0:
                    break
                if time.monotonic() > deadline:
                    raise CheckFailed(f"the backlog did not drain: {state}")
                time.sleep(0.05)
        finally:
            worker.stop()
        t.drains += 1
        recorded = self.store.recorded(TERMINAL)
        with _open(self.db_path) as led:
            entries = led.entries()
            ids = [e.entry_id for e in entries]
            central_ids = [r[0] for r in recorded]
            if len(central_ids) != len(set(central_ids)):
                t.duplicated += len(central_ids) - len(set(central_ids))
                raise CheckFailed("the central store holds an entry twice")
            if central_ids != ids:
                missing = set(ids) - set(central_ids)
                t.lost += len(missing)
                raise CheckFailed(f"central entries differ from the ledger: missing "
                                  f"{sorted(missing)[:5]}, extra "
                                  f"{sorted(set(central_ids) - set(ids))[:5]}")
            t.central_refused = sum(1 for r in recorded if r[1] == "refused")
            t.refused_releases = sum(
                1 for r in recorded if r[1] == "refused" and "released" in (r[2] or "")
            )
            local_refused = {r.entry.entry_id for r in led.refused_entries()}
            if local_refused != {r[0] for r in recorded if r[1] == "refused"}:
                raise CheckFailed("the terminal's refused entries differ from the central store's")
            self._rebuild_central()
            self._compare_central(led)
        with self.store.engine.read() as ctx:
            _limits(lambda sql: int(ctx.all(sql)[0][0]), "central", local=False)

    def _rebuild_central(self) -> None:
        while True:
            page = self.store.events(self.events_cursor, 1000, FACILITY)
            for event in page.events:
                for c in event.entry.changes:
                    if c.location is not None and c.qoh:
                        key = (c.sku, c.location)
                        self.central_qoh[key] = max(0, self.central_qoh.get(key, 0) + c.qoh)
                        self.touched_qoh.add(key)
                    if c.atp:
                        self.central_atp[c.sku] = max(0, self.central_atp.get(c.sku, 0) + c.atp)
                        self.touched_atp.add(c.sku)
            self.events_cursor = page.next_cursor
            if not page.has_more:
                return

    def _compare_central(self, led: Ledger) -> None:
        qoh, atp = _central_stock(self.store, self.touched_qoh, self.touched_atp)
        for key in self.touched_qoh:
            if qoh.get(key, 0) != self.central_qoh.get(key, 0):
                raise CheckFailed(f"central QOH of {key}: {qoh.get(key, 0)}, rebuilt from its "
                                  f"applied entries {self.central_qoh.get(key, 0)}")
        for sku in self.touched_atp:
            if atp.get(sku, 0) != self.central_atp.get(sku, 0):
                raise CheckFailed(f"central ATP of {sku}: {atp.get(sku, 0)}, rebuilt "
                                  f"{self.central_atp.get(sku, 0)}")
        # The backlog is drained and pulled: the terminal's stock is the central store's.
        with led.read() as tx:
            for sku, loc in self.touched_qoh:
                if tx.qoh(sku, loc) != qoh.get((sku, loc), 0):
                    raise CheckFailed(f"terminal QOH of {sku} at {loc}: {tx.qoh(sku, loc)}, "
                                      f"central {qoh.get((sku, loc), 0)}")
            for sku in self.touched_atp:
                if tx.atp(sku) != atp.get(sku, 0):
                    raise CheckFailed(f"terminal ATP of {sku}: {tx.atp(sku)}, central "
                                      f"{atp.get(sku, 0)}")

    def final_check(self) -> None:
        """The whole of central stock, rebuilt from scratch, once at the end."""
        if not self.central.running:
            self.central.start()
        self.drain_and_check_central()
        qoh, atp = self.store.stock(FACILITY)
        if (qoh, atp) != (self.central_qoh, self.central_atp):
            raise CheckFailed(_diff("central stock vs its rebuild", (qoh, atp),
                                    (self.central_qoh, self.central_atp)))
        self.full_check_every = 1
        with _open(self.db_path) as led:
            self._check_projections(led, led.entries())

    def run(self, kills: int) -> Tally:
        started = time.monotonic()
        try:
            while sum(self.tally.kills.values()) < kills:
                self.round()
                if self.tally.rounds % 50 == 0:
                    self.log(f"{self.tally.rounds} rounds, {self.tally.entries} entries, "
                             f"{time.monotonic() - started:.0f} s")
            self.final_check()
        finally:
            self.tally.seconds = time.monotonic() - started
        return self.tally


def _limits(one: Any, where: str, *, local: bool) -> None:
    qoh_neg = one("SELECT COUNT(*) FROM stock_qoh WHERE qoh < 0")
    atp_neg = one("SELECT COUNT(*) FROM stock_atp WHERE atp < 0")
    if qoh_neg or atp_neg:
        raise CheckFailed(f"{where}: negative stock ({qoh_neg} QOH rows, {atp_neg} ATP rows)")
    if local:
        sql = (
            "SELECT COUNT(*) FROM order_lines l JOIN line_progress p USING (order_id, line_no) "
            "WHERE p.put_back > l.picked OR p.put_back < 0 "
            "OR p.released + p.rejected > l.quantity - l.picked"
        )
    else:
        sql = (
            "SELECT COUNT(*) FROM order_lines WHERE put_back > picked OR put_back < 0 "
            "OR released + rejected > quantity - picked"
        )
    over = one(sql)
    if over:
        raise CheckFailed(f"{where}: {over} lines with more put back than picked (or released "
                          "beyond the unpicked quantity)")


def _central_stock(
    store: CentralStore, keys: set[tuple[str, str]], skus: set[str]
) -> tuple[Qoh, Atp]:
    wanted = sorted({k[0] for k in keys} | skus)
    qoh: Qoh = {}
    atp: Atp = {}
    with store.engine.read() as tx:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            marks = ",".join("?" * len(chunk))
            for r in tx.all(f"SELECT sku, location, qoh FROM stock_qoh WHERE facility = ? "
                            f"AND sku IN ({marks})", (FACILITY, *chunk)):
                qoh[(r[0], r[1])] = int(r[2])
            for r in tx.all(f"SELECT sku, atp FROM stock_atp WHERE facility = ? "
                            f"AND sku IN ({marks})", (FACILITY, *chunk)):
                atp[r[0]] = int(r[1])
    return qoh, atp


def _rebuild_touched(
    tx: Any, entries: list[Entry], keys: set[tuple[str, str]], skus: set[str]
) -> tuple[Qoh, Atp]:
    """The ledger's rule (baseline + entries after baseline_seq, stopping at zero), for the
    given keys only: an independent rebuild that does not read a million untouched rows.
    """
    qoh: Qoh = {}
    for sku, loc in keys:
        row = tx.conn.execute(
            "SELECT qoh FROM baseline_qoh WHERE sku = ? AND location = ?", (sku, loc)
        ).fetchone()
        qoh[(sku, loc)] = int(row[0]) if row else 0
    atp: Atp = {}
    for sku in skus:
        row = tx.conn.execute("SELECT atp FROM baseline_atp WHERE sku = ?", (sku,)).fetchone()
        atp[sku] = int(row[0]) if row else 0
    base_seq = int(tx.get_meta(book.BASELINE_SEQ) or 0)
    for e in entries:
        if e.seq <= base_seq:
            continue
        for c in e.changes:
            if c.location is not None:
                qoh[(c.sku, c.location)] = max(0, qoh[(c.sku, c.location)] + c.qoh)
            else:
                atp[c.sku] = max(0, atp[c.sku] + c.atp)
    return qoh, atp


def _touched(entries: list[Entry]) -> tuple[set[tuple[str, str]], set[str]]:
    keys: set[tuple[str, str]] = set()
    skus: set[str] = set()
    for e in entries:
        for c in e.changes:
            if c.location is not None:
                keys.add((c.sku, c.location))
            skus.add(c.sku)
    return keys, skus


def _diff(what: str, got: Any, want: Any) -> str:
    def flat(x: Any) -> dict[Any, Any]:
        if isinstance(x, tuple):
            out: dict[Any, Any] = {}
            for i, part in enumerate(x):
                out.update({(i, k): v for k, v in part.items()})
            return out
        return dict(x)

    g, w = flat(got), flat(want)
    bad = [(k, g.get(k), w.get(k)) for k in sorted(g.keys() | w.keys(), key=repr)
           if g.get(k) != w.get(k)]
    return f"{what}: {len(bad)} differences, first {bad[:5]}"


class _open:
    """A ledger opened for one check and closed after (the terminal process is dead)."""

    def __init__(self, path: Path) -> None:
        self.ledger = Ledger(path, create=False)

    def __enter__(self) -> Ledger:
        return self.ledger

    def __exit__(self, *exc: object) -> None:
        self.ledger.close()


def _started_calls(path: Path) -> int:
    """How many calls the terminal's report says it started."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return 0
    return data.count(b"\nB ") + data.startswith(b"B ")


def _peek(path: Path) -> bytes:
    try:
        return path.read_bytes()[:64]
    except FileNotFoundError:
        return b""


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="scripts/crash", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--kills", type=int, default=1000, help="SIGKILLs to deliver")
    parser.add_argument("--data", default="demo",
                        help="demo, large (.data/large, made by scripts/gen-data) or a directory")
    parser.add_argument("--engine", choices=["sqlite", "postgres"], default="sqlite",
                        help="the central store's database")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-delay", type=float, default=0.6,
                        help="longest wait before a kill, in seconds")
    parser.add_argument("--max-calls", type=int, default=None,
                        help="kill after 1..N calls of the terminal instead of after a random "
                             "wait (the same work on any machine)")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the tally as JSON here")
    args = parser.parse_args()
    data = {"demo": DEMO_DIR, "large": ROOT / ".data" / "large"}.get(args.data, Path(args.data))
    if not (data / "products.csv").exists():
        parser.error(f"no data set at {data} (scripts/gen-data writes .data/large)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="putback-crash-"))
    full_every = 1 if data == DEMO_DIR else 25
    harness = Harness(workdir, data=data, engine=args.engine, seed=args.seed,
                      max_delay_s=args.max_delay, max_calls=args.max_calls,
                      full_check_every=full_every,
                      log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"crash run: {args.kills} kills, data {args.data}, central on {args.engine}, "
          f"seed {args.seed}, files in {workdir}", flush=True)
    ok = False
    # A plain `kill` of the harness still stops its central store and zygote (finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        harness.setup()
        harness.run(args.kills)
        ok = True
    except CheckFailed as exc:
        print(f"FAILED after {harness.tally.rounds} rounds: {exc}", flush=True)
    finally:
        harness.close()
        print(harness.tally.text(), flush=True)
        if args.json:
            args.json.write_text(json.dumps({**harness.tally.as_dict(), "data": args.data,
                                             "engine": args.engine, "seed": args.seed,
                                             "passed": ok}, indent=2))
        if ok and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("PASSED: nothing lost, nothing applied twice" if ok else "FAILED", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
