"""A packing terminal whose every file is on the power-loss filesystem, run until the power goes.

Started by :mod:`tests.powerfs.harness` as role ``powerterm`` of the crash harness's zygote. Like
:mod:`tests.crash.terminal` (whose :class:`Terminal` does the random station actions and the
reporting), but as a real terminal would start: its configuration file (URL and token written
by ``putback connect``), its ledger and its log all under ``--home``; the sync worker runs only
once the terminal is connected.
"""

from __future__ import annotations

import argparse
import logging
import os
import random
from pathlib import Path

from putback_tui import logs
from putback_tui.config import load_settings, resolve_paths
from putback_tui.ledger import Ledger
from putback_tui.station import Station
from putback_tui.sync.worker import SyncWorker
from tests.crash.terminal import Terminal


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--home", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fd = os.open(args.report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    paths = resolve_paths(home=args.home)
    settings = load_settings(paths.config_file)
    token = settings.sync.token.get_secret_value() if settings.sync.token else ""
    logs.configure(paths.log_dir, secrets=[token])
    log = logging.getLogger("putback.powercut")
    ledger = Ledger(paths.db_path, create=False)
    station = Station(ledger, settings)
    station.sign_in("SV-0001")
    worker = None
    if settings.sync.url and token:
        worker = SyncWorker(
            paths.db_path,
            settings.sync.model_copy(update={"batch_size": rng.choice([1, 7, 50]),
                                             "interval_s": 0.02}),
            backoff_base_s=0.05, backoff_max_s=0.3, rng=rng,
        )
        worker.start()
    terminal = Terminal(station, ledger, fd, rng)
    os.write(fd, b"READY\n")
    while True:
        terminal.step()
        log.info("step", extra={"calls": terminal.n})
        if worker is not None:
            worker.nudge()
