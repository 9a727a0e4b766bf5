"""Power-cut harness: a terminal and its central store on a disk that loses what was not synced.

Everything a packing station keeps lives on the power-loss filesystem (:mod:`tests.powerfs.fs`):
the terminal's configuration, ledger and log (``home/``), its backups, and the central store's
SQLite file. One round: start the central store, then either let the terminal act at random with
its sync worker running (:mod:`tests.powerfs.terminal`), or run one of ``putback connect``,
``putback backup`` or ``putback backup`` + ``putback restore`` as an operator would; cut the
power at a random moment (sometimes while the command runs, sometimes just after it said it
succeeded): every process dies, what was not synced is lost (``clean``), or a random prefix of
it is kept with the next write torn (``torn``); then mount again (the reboot) and check:

1. every entry the terminal confirmed is in its ledger (and nothing else but the one call in
   flight), the ledger's projections equal its rebuild; ledger and central database pass
   ``PRAGMA integrity_check`` and open with no help;
2. a ``connect`` that said it succeeded left the configuration with its URL and token;
3. a ``backup`` that said it succeeded left a complete copy that opens, with every entry;
4. a ``restore`` left a ledger in place (the old or the new one: the checks of 1 hold), and
   one that said it succeeded left the restored one;
5. after a drain with the real sync worker, the central store holds each entry exactly once,
   in order, and its stock equals its rebuild and the terminal's (the crash harness's checks).

``scripts/powercut --cuts 500`` runs the long version; ``tests/powerfs/test_powercut.py`` a short
one in the suite.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from putback_tui import logs
from putback_tui.central.imports import import_path
from putback_tui.central.server import free_port
from putback_tui.central.storage import open_store
from putback_tui.config import (
    Settings,
    TerminalSettings,
    load_settings,
    resolve_paths,
    save_settings,
)
from putback_tui.dataset import Dataset
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.wire import ClientKind
from tests.crash.harness import (
    FACILITY,
    TERMINAL,
    CentralProcess,
    CheckFailed,
    Harness,
    Report,
    Zygote,
    _open,
)
from tests.powerfs.mount import PowerLossMount

RESTORE_MARK = "powercut.restored_from_round"


@dataclass
class PowerTally:
    """What the power-cut run did and found, beyond the crash harness's own counts."""

    cuts: Counter[str] = field(default_factory=Counter)
    connects_ok: int = 0
    backups_ok: int = 0
    restores_ok: int = 0
    commands_cut: int = 0
    """Commands the power cut while they ran (no promise made; old or new state checked)."""
    backups_checked: int = 0
    configs_checked: int = 0
    files_intact: int = 0
    """Files opened and checked after a cut (ledger, central database, backups, config)."""
    unsynced_writes_lost: int = 0
    torn_writes: int = 0


class PowerCutHarness(Harness):
    """The crash harness's checks, with power cuts instead of kills."""

    def __init__(self, workdir: Path, *, seed: int = 1, max_delay_s: float = 1.0,
                 log: Any = None) -> None:
        super().__init__(workdir / "scratch", seed=seed, max_delay_s=max_delay_s, log=log)
        self.mount = PowerLossMount(workdir / "disk", workdir / "mnt")
        self.mnt = workdir / "mnt"
        self.home = self.mnt / "home"
        self.paths = resolve_paths(home=self.home)
        self.db_path = self.paths.db_path
        self.central_db = self.mnt / "central.sqlite3"
        self.power = PowerTally()
        self.connected_url: str | None = None
        self.backups: dict[Path, int | None] = {}
        self.restoring: tuple[str, str | None] | None = None

    # -- set-up ------------------------------------------------------------------------------

    def setup(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.mount.start()
        self.store = open_store(str(self.central_db))
        import_path(self.store, self.data)
        self.token = self.store.add_client(TERMINAL, ClientKind.TERMINAL, FACILITY)
        self.central_qoh, self.central_atp = self.store.stock(FACILITY)
        # The import's own releases are in those figures already: the replay starts after them.
        while True:
            page = self.store.events(self.events_cursor, 1000, FACILITY)
            self.events_cursor = page.next_cursor
            if not page.has_more:
                break
        self.store.close()
        save_settings(self.paths.config_file,
                      Settings(terminal=TerminalSettings(id=TERMINAL, facility=FACILITY)))
        ledger = Ledger(self.db_path)
        load_dataset(ledger, Dataset(self.data), FACILITY)
        ledger.close()
        (self.mnt / "backups").mkdir()
        self.mount.sync()  # the set-up is on the platter, as after an installer's sync
        self.zygote = Zygote()
        self.central = CentralProcess(self.zygote, str(self.central_db), free_port(),
                                      self.workdir / "central.log")

    def close(self) -> None:
        if getattr(self, "central", None) is not None:
            self.central.kill()
        if getattr(self, "zygote", None) is not None:
            self.zygote.close()
        self.mount.stop()

    # -- one round ---------------------------------------------------------------------------

    def _cli(self, *argv: str) -> int:
        return self.zygote.spawn("cli", ["--home", str(self.home), *argv],
                                 self.workdir / "commands.log")

    def _terminal(self, report_path: Path, n: int) -> int:
        return self.zygote.spawn(
            "powerterm",
            ["--home", str(self.home), "--report", str(report_path),
             "--seed", str(self.seed * 1_000_003 + n)],
            self.workdir / "terminal.log",
        )

    def _wait_ready(self, report_path: Path, pid: int) -> None:
        deadline = time.monotonic() + 60
        while not (report_path.exists() and report_path.read_bytes().startswith(b"READY")):
            if not self.zygote.alive(pid) or time.monotonic() > deadline:
                raise CheckFailed(f"the terminal did not start; see "
                                  f"{self.workdir / 'terminal.log'}")
            time.sleep(0.005)

    def _wait(self, pid: int, timeout_s: float) -> int | None:
        deadline = time.monotonic() + timeout_s
        while self.zygote.alive(pid):
            if time.monotonic() > deadline:
                return None
            time.sleep(0.005)
        return self.zygote.exits[pid]

    def round(self) -> None:
        self.tally.rounds += 1
        n = self.tally.rounds
        rng = self.rng
        with _open(self.db_path) as led:
            before = {e.entry_id for e in led.entries()}
        self.central.start()
        report_path = self.workdir / f"report-{n}.log"
        report_path.unlink(missing_ok=True)
        roll = rng.random()
        pids: list[int] = []
        promises: list[tuple[str, Any]] = []
        if n == 1 or roll < 0.08:
            what = "connect"
            # Alternate the URL's spelling, so an old configuration cannot pass for the new.
            url = self.central.url if n % 2 else f"http://localhost:{self.central.port}"
            pid = self._cli("connect", url, "--token", self.token)
            promises.append(("connect", url))
        elif roll < 0.16:
            what = "backup"
            dest = self.mnt / "backups" / f"b-{n}.sqlite3"
            pid = self._cli("backup", str(dest))
            promises.append(("backup", (dest, len(before))))
        elif roll < 0.22:
            what = "restore"
            dest = self.mnt / "backups" / f"r-{n}.sqlite3"
            first = self._cli("backup", str(dest))
            status = self._wait(first, 60)
            self.zygote.exits.pop(first, None)
            if status != 0:
                raise CheckFailed(f"the backup before a restore failed ({status}); see "
                                  f"{self.workdir / 'commands.log'}")
            self.power.backups_ok += 1
            self.backups[dest] = len(before)
            # Mark the copy, so the restored ledger can be told from the one it replaces.
            marked = Ledger(dest, create=False)
            marked.set_meta(RESTORE_MARK, str(n))
            marked.close()
            old_mark = _mark(self.db_path)
            pid = self._cli("restore", str(dest))
            promises.append(("restore", (str(n), old_mark)))
        else:
            what = "terminal"
            pid = self._terminal(report_path, n)
        pids.append(pid)
        with_terminal = what == "terminal"
        if what == "backup" and rng.random() < 0.5:
            # A backup taken while the terminal works (and syncs): its count is unknown, but
            # every entry in it was committed, so it must be in the ledger after the cut.
            with_terminal = True
            what = "backup+terminal"
            pids.append(self._terminal(report_path, n))
            promises = [("backup", (promises[0][1][0], None))]
        ok: list[tuple[str, Any]] = []
        if what == "terminal":
            if rng.random() < 0.7:
                self._wait_ready(report_path, pid)  # else the cut may land during start-up
            time.sleep(rng.uniform(0, self.max_delay_s))
            if not self.zygote.alive(pid):
                raise CheckFailed(f"the terminal died by itself; see "
                                  f"{self.workdir / 'terminal.log'}")
        elif rng.random() < 0.5:
            # The power goes the moment the command said it was done.
            status = self._wait(pid, 60)
            if status != 0:
                raise CheckFailed(f"{what} failed ({status}); see "
                                  f"{self.workdir / 'commands.log'}")
            ok = promises
        else:
            status = self._wait(pid, rng.uniform(0, 0.4))
            if status == 0:
                ok = promises
            elif status is None:
                self.power.commands_cut += 1
            else:
                raise CheckFailed(f"{what} failed ({status}); see "
                                  f"{self.workdir / 'commands.log'}")
        mode = rng.choice(["clean", "torn"])
        self.cut(mode, [p for p in pids if self.zygote.alive(p)])
        for p in pids:
            self.zygote.exits.pop(p, None)
        self.tally.kills[f"{what} ({mode})"] += 1
        for kind, value in ok:
            if kind == "connect":
                self.connected_url = value
                self.power.connects_ok += 1
            elif kind == "backup":
                self.backups[value[0]] = value[1]
                self.power.backups_ok += 1
            else:
                self.power.restores_ok += 1
        report = Report.read(report_path) if with_terminal else Report()
        self.restoring = promises[0][1] if what == "restore" and not ok else None
        self.check_files(ok)
        self.check_local(before, report)
        report_path.unlink(missing_ok=True)
        if self.connected_url is not None:
            self.store = open_store(str(self.central_db))
            try:
                self.central.start()
                self.drain_and_check_central()
            finally:
                self.central.kill()
                self.store.close()

    def cut(self, mode: str, pids: list[int]) -> None:
        """The power goes: every process dies at once, the disk keeps only what was synced."""
        for pid in pids:
            self.zygote.kill(pid)
        self.central.kill()
        lost = self.mount.cut(mode, seed=self.rng.randrange(1 << 30))
        self.power.cuts[mode] += 1
        self.power.unsynced_writes_lost += lost["writes_undone"]
        self.power.torn_writes += lost["writes_torn"]
        self.mount.start()

    # -- checks ------------------------------------------------------------------------------

    def check_files(self, ok: list[tuple[str, Any]]) -> None:
        if not self.db_path.exists():
            raise CheckFailed(f"no ledger at {self.db_path} after the cut (restore: neither the "
                              "old nor the new one)")
        _integrity(self.db_path)
        _integrity(self.central_db)
        self.power.files_intact += 2
        if self.connected_url is not None:
            settings = load_settings(self.paths.config_file)
            token = settings.sync.token.get_secret_value() if settings.sync.token else None
            if (settings.sync.url, token) != (self.connected_url, self.token):
                raise CheckFailed(f"connect said it succeeded ({self.connected_url}), but after "
                                  f"the cut the configuration has url {settings.sync.url!r}, "
                                  f"token {'set' if token else 'missing'}")
            self.power.configs_checked += 1
            self.power.files_intact += 1
        logs.tail(self.paths.log_dir)  # `putback logs` still reads the log
        for dest, entries in sorted(self.backups.items()):
            if not dest.exists():
                raise CheckFailed(f"backup said it wrote {dest}; after the cut it is gone")
            _integrity(dest)
            got = _entry_ids(dest)
            if entries is None:
                if not got <= _entry_ids(self.db_path):
                    raise CheckFailed(f"backup {dest} holds entries the ledger lost in the cut")
            elif len(got) != entries:
                raise CheckFailed(f"backup {dest}: {len(got)} entries after the cut, {entries} "
                                  "when it said it succeeded")
            self.power.backups_checked += 1
            self.power.files_intact += 1
        self.backups.clear()  # each backup checked once after the cut that followed it
        for kind, marks in ok:
            if kind == "restore" and _mark(self.db_path) != marks[0]:
                raise CheckFailed(f"restore said it succeeded; after the cut the ledger is not "
                                  f"the restored one (mark {_mark(self.db_path)!r}, want "
                                  f"{marks[0]!r})")
        if self.restoring is not None and _mark(self.db_path) not in self.restoring:
            raise CheckFailed(f"a restore cut mid-way left neither the old nor the new ledger "
                              f"(mark {_mark(self.db_path)!r}, want one of {self.restoring})")

    def run(self, kills: int) -> Any:
        started = time.monotonic()
        try:
            while sum(self.tally.kills.values()) < kills:
                self.round()
                if self.tally.rounds % 25 == 0:
                    self.log(f"{self.tally.rounds} cuts, {self.tally.entries} entries, "
                             f"{time.monotonic() - started:.0f} s")
            self.store = open_store(str(self.central_db))
            try:
                self.final_check()
            finally:
                self.central.kill()
                self.store.close()
        finally:
            self.tally.seconds = time.monotonic() - started
        return self.tally

    def summary(self) -> dict[str, Any]:
        t = self.tally.as_dict()
        p = self.power
        return {
            "cuts": sum(p.cuts.values()),
            "cuts_by_mode": dict(p.cuts),
            "cuts_by_round": t["kills_by_target"],
            "confirmed_entries": t["confirmed_entries"],
            "ledger_entries": t["ledger_entries"],
            "unreported_tail_entries": t["unreported_tail_entries"],
            "drains_checked": t["drains_checked"],
            "lost": t["lost"],
            "duplicated": t["duplicated"],
            "connects_ok_checked": p.connects_ok,
            "backups_ok_checked": p.backups_checked,
            "restores_ok_checked": p.restores_ok,
            "commands_cut_mid_way": p.commands_cut,
            "files_found_intact": p.files_intact,
            "unsynced_writes_lost": p.unsynced_writes_lost,
            "torn_writes": p.torn_writes,
            "seconds": t["seconds"],
        }


def _integrity(path: Path) -> None:
    # Opened as the app opens it (read-write: a WAL left by the cut is recovered on open).
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise CheckFailed(f"{path} does not open after the cut: {exc}") from exc
    finally:
        conn.close()
    if rows != [("ok",)]:
        raise CheckFailed(f"{path} fails integrity_check after the cut: {rows[:3]}")


def _entry_ids(path: Path) -> set[str]:
    led = Ledger(path, create=False)
    try:
        return {e.entry_id for e in led.entries()}
    finally:
        led.close()


def _mark(path: Path) -> str | None:
    led = Ledger(path, create=False)
    try:
        return led.get_meta(RESTORE_MARK)
    finally:
        led.close()


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="scripts/powercut", description=__doc__.split("\n\n")[0] if __doc__ else None
    )
    parser.add_argument("--cuts", type=int, default=500, help="power cuts to deliver")
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--max-delay", type=float, default=1.0,
                        help="longest a terminal runs before the cut, in seconds")
    parser.add_argument("--workdir", type=Path, help="keep the files here (default: a temp dir)")
    parser.add_argument("--json", type=Path, help="also write the tally as JSON here")
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="putback-powercut-"))
    harness = PowerCutHarness(workdir, seed=args.seed, max_delay_s=args.max_delay,
                              log=lambda msg: print(msg, file=sys.stderr, flush=True))
    print(f"power-cut run: {args.cuts} cuts, seed {args.seed}, files in {workdir}", flush=True)
    ok = False
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        harness.setup()
        harness.run(args.cuts)
        ok = True
    except CheckFailed as exc:
        print(f"FAILED after {harness.tally.rounds} cuts: {exc}", flush=True)
    finally:
        harness.close()
        summary = harness.summary()
        width = max(len(k) for k in summary)
        print("\n".join(f"{k:<{width}}  {v}" for k, v in summary.items()), flush=True)
        if args.json:
            args.json.write_text(json.dumps({**summary, "seed": args.seed, "passed": ok},
                                            indent=2))
        if ok and args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)
    print("PASSED: nothing confirmed was lost or applied twice, every file intact" if ok
          else "FAILED", flush=True)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
