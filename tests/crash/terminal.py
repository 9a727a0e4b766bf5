"""A packing terminal run to be killed: random station actions with the sync worker running.

Started by the crash harness as ``python -m tests.crash.terminal``. It opens the terminal's
ledger, signs a supervisor in, starts the real :class:`SyncWorker` thread, and then acts at
random until it is killed. Every call is reported on the report file, one line each, written
with a single ``os.write`` (a whole line or nothing, whatever the moment of the kill):

* ``B n`` before call ``n`` starts;
* ``D n id...`` after it **returned** (the station confirmed it): the entry IDs it made;
* ``R n`` after it was refused with nothing recorded (a domain refusal);
* ``L n`` after a ledger error (locked, disk full): nothing recorded either.

So a report line lands on the file only after the station's commit: a confirmed entry can be
missing from the report (killed between the commit and the write) but never the other way
round. The harness checks exactly that.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
from pathlib import Path

from pydantic import SecretStr

from putback_tui.config import Settings, SyncSettings, TerminalSettings
from putback_tui.domain.entries import Entry
from putback_tui.domain.errors import PermissionDenied, Refused
from putback_tui.domain.models import LocationKind, OrderStatus, RejectReason
from putback_tui.ledger import Ledger, LedgerError
from putback_tui.station import OrderView, Station
from putback_tui.sync.worker import SyncWorker


class Terminal:
    """Random actions on one station; each call reported to the harness."""

    def __init__(
        self, station: Station, ledger: Ledger, report_fd: int, rng: random.Random
    ) -> None:
        self.station = station
        self.ledger = ledger
        self.fd = report_fd
        self.rng = rng
        self.n = 0
        with ledger.read() as tx:
            facility = station.facility
            self.orders = [
                r[0]
                for r in tx.conn.execute(
                    "SELECT order_id FROM orders WHERE facility = ? ORDER BY random() LIMIT 300",
                    (facility,),
                )
            ]
            self.storage = [
                r[0]
                for r in tx.conn.execute(
                    "SELECT code FROM locations WHERE facility = ? AND kind = ? "
                    "ORDER BY random() LIMIT 50",
                    (facility, LocationKind.STORAGE.value),
                )
            ]
            self.exception = tx.exception_locations(facility)
            self.few_orders = tx.conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] < 1000

    def _say(self, line: str) -> None:
        os.write(self.fd, (line + "\n").encode())

    def call(self, action: str, fn, *args, **kwargs) -> object:  # type: ignore[no-untyped-def]
        """Run one station call and report it before and after."""
        self.n += 1
        n = self.n
        self._say(f"B {n} {action}")
        try:
            result = fn(*args, **kwargs)
        except PermissionDenied:
            # The refusal itself was recorded (docs/rules.md section 5) before the call raised: the
            # station is the only writer of entries, so it is the newest one.
            with self.ledger.read() as tx:
                (entry_id,) = tx.conn.execute(
                    "SELECT entry_id FROM entries ORDER BY seq DESC LIMIT 1"
                ).fetchone()
            self._say(f"D {n} {entry_id}")
            return None
        except Refused:
            self._say(f"R {n}")
            return None
        except LedgerError:
            # Nothing was saved (e.g. the sync worker held the write lock too long): counted
            # apart, since the operator would have had to scan again.
            self._say(f"L {n}")
            return None
        ids: list[str] = []
        if isinstance(result, Entry):
            ids = [result.entry_id]
        elif isinstance(result, list):
            ids = [e.entry_id for e in result]
        elif isinstance(result, OrderView) and result.released is not None:
            ids = [result.released.entry_id]
        self._say(f"D {n} {' '.join(ids)}".rstrip())
        return result

    def step(self) -> None:
        """One random action."""
        rng, st = self.rng, self.station
        order_id = rng.choice(self.orders)
        roll = rng.random()
        if roll < 0.25:
            self.call("open", st.open_order, order_id)
        elif roll < 0.55:
            self._put_back(order_id)
        elif roll < 0.65:
            self.call("undo", st.undo_last_put_back, order_id)
        elif roll < 0.73:
            order = self.ledger.order(order_id)
            if order is not None and order.lines:
                line = rng.choice(order.lines)
                reason = rng.choice(list(RejectReason))
                self.call("reject", st.reject, order_id, line.line_no, reason, rng.randint(1, 2))
        elif roll < 0.77:
            self.call("cancel", st.cancel, order_id)
        elif roll < 0.81:
            self.call("force_cancel", st.force_cancel, order_id)
        elif roll < 0.9:
            self._move_out()
        elif roll < 0.95:
            # An operator tries a supervisor's action: refused, and the refusal recorded.
            st.sign_in("OP-0001")
            try:
                self.call("cancel_as_operator", st.cancel, order_id)
            finally:
                st.sign_in("SV-0001")
        elif self.few_orders and roll < 0.96:
            status = rng.choice([OrderStatus.OPEN, OrderStatus.IN_PROGRESS])
            self.call("bulk_reject", st.bulk_reject, status)
        else:
            self.call("open", st.open_order, order_id)

    def _put_back(self, order_id: str) -> None:
        order = self.ledger.order(order_id)
        if order is None:
            return
        lines = [line for line in order.lines if line.to_put_back] or list(order.lines)
        if not lines:
            return
        line = self.rng.choice(lines)
        where = self.rng.random()
        if where < 0.5 and line.pick_location:
            location = line.pick_location
        elif where < 0.75 and self.exception:
            location = self.rng.choice(self.exception)
        else:
            location = self.rng.choice(self.storage)
        quantity = self.rng.randint(1, max(line.to_put_back, 1) + (self.rng.random() < 0.1))
        with self.ledger.read() as tx:
            product = tx.product(line.sku)
        lot = (line.lot or "LOT-X") if product is not None and product.lot_tracked else None
        self.call("put_back", self.station.put_back, order_id, line.line_no, line.sku, location,
                  quantity, lot=lot)

    def _move_out(self) -> None:
        if not self.exception:
            return
        source = self.rng.choice(self.exception)
        with self.ledger.read() as tx:
            rows = tx.conn.execute(
                "SELECT sku, qoh FROM stock_qoh WHERE location = ? AND qoh > 0 LIMIT 20", (source,)
            ).fetchall()
        if not rows:
            return
        sku, qoh = self.rng.choice(rows)
        self.call("move_out", self.station.move_out, sku, source, self.rng.choice(self.storage),
                  self.rng.randint(1, qoh))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--report", type=Path, required=True)
    parser.add_argument("--terminal", default="PACK-01")
    parser.add_argument("--facility", default="STORE-01")
    parser.add_argument("--url", required=True)
    parser.add_argument("--token", required=True)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    fd = os.open(args.report, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    settings = Settings(terminal=TerminalSettings(id=args.terminal, facility=args.facility))
    ledger = Ledger(args.db, create=False)
    station = Station(ledger, settings)
    station.sign_in("SV-0001")
    worker = SyncWorker(
        args.db,
        SyncSettings(url=args.url, token=SecretStr(args.token), batch_size=rng.choice([1, 7, 50]),
                     interval_s=0.02),
        backoff_base_s=0.05,
        backoff_max_s=0.3,
        rng=rng,
    )
    worker.start()
    terminal = Terminal(station, ledger, fd, rng)
    os.write(fd, b"READY\n")
    while True:
        terminal.step()
        worker.nudge()


if __name__ == "__main__":
    sys.exit(main())
