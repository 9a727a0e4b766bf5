"""Random honest work on one or two terminals: the central store derives what they recorded.

The central store believes no number a terminal sends; it derives each entry's effects with the
same rules. So for an honest terminal whose stock nobody else moved, what it derives must be
exactly what the terminal recorded (and nothing honest is refused); and with two terminals on
the same stock, central stock is always its starting stock plus every applied entry's derived
effects, each figure stopping at zero.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import event, given, settings
from hypothesis import strategies as st

from putback_tui.central.imports import import_path
from putback_tui.central.storage import CentralStore, Client, open_store
from putback_tui.config import Settings, TerminalSettings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.derive import apply_stock_changes
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import OrderStatus, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.station import Station
from putback_tui.wire import ClientKind, Outcome, ResultCode

ORDERS = ["D-1001", "D-1002", "D-1003", "D-1004", "D-1005", "D-1007", "D-1008"]
ACTIONS = ["open", "put_back", "undo", "reject", "cancel", "force_cancel", "bulk_reject",
           "move_out", "cancel_line", "reduce_line"]


def _terminal(root: Path, name: str) -> Station:
    ledger = Ledger(root / name / "putback.sqlite3")
    # As `putback init` does: the data set's exceptions are released at load (the central store
    # released them at its import too: the terminal's releases are answered "already released").
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01", release_as=name)
    station = Station(ledger, Settings(terminal=TerminalSettings(id=name, facility="STORE-01")))
    station.sign_in("SV-0001")
    return station


def _act(station: Station, data: st.DataObject) -> str | None:
    """One action chosen to be plausible given the terminal's own state; its kind if taken."""
    action = data.draw(st.sampled_from(ACTIONS))
    order_id = data.draw(st.sampled_from(ORDERS))
    ledger = station.ledger
    try:
        if action == "open":
            station.open_order(order_id)
        elif action == "put_back":
            order = ledger.order(order_id)
            assert order is not None
            waiting = [ln for ln in order.lines if order.owed(ln)]
            if not waiting:
                return None
            line = data.draw(st.sampled_from(waiting))
            codes = ["A-01-01", "A-01-02", "A-02-01", "A-02-02", "A-03-01", "B-01-01", "EX-01"]
            where = data.draw(st.sampled_from([line.pick_location or codes[0], *codes]))
            qty = data.draw(st.integers(1, order.owed(line)))
            station.put_back(order_id, line.line_no, line.sku, where, qty, lot=line.lot)
        elif action == "undo":
            station.undo_last_put_back(order_id)
        elif action == "reject":
            order = ledger.order(order_id)
            assert order is not None
            open_lines = [ln for ln in order.lines if ln.unpicked_open]
            if not open_lines:
                return None
            line = data.draw(st.sampled_from(open_lines))
            reason = data.draw(st.sampled_from(list(RejectReason)))
            station.reject(order_id, line.line_no, reason,
                           data.draw(st.integers(1, line.unpicked_open)))
        elif action == "cancel":
            station.cancel(order_id)
        elif action == "force_cancel":
            station.force_cancel(order_id)
        elif action == "bulk_reject":
            station.bulk_reject(data.draw(st.sampled_from([OrderStatus.OPEN,
                                                           OrderStatus.IN_PROGRESS])))
        elif action == "move_out":
            held = [(sku, n) for sku, loc, n in ledger.stock()[0] if loc == "EX-01" and n > 0]
            if not held:
                return None
            sku, n = data.draw(st.sampled_from(held))
            station.move_out(sku, "EX-01", data.draw(st.sampled_from(["A-01-01", "A-02-01"])),
                             data.draw(st.integers(1, n)))
        elif action in ("cancel_line", "reduce_line"):
            order_id = data.draw(st.sampled_from(["D-1005", "D-1008"]))  # the live ones
            order = ledger.order(order_id)
            assert order is not None
            line = data.draw(st.sampled_from(order.lines))
            reason = data.draw(st.sampled_from(["CUSTOMER REQUEST", "PRICE ERROR"]))
            if action == "cancel_line":
                station.cancel_line(order_id, line.line_no, reason)
            else:
                new = data.draw(st.integers(0, max(line.ordered - 1, 0)))
                station.reduce_line(order_id, line.line_no, new, reason)
    except Refused:
        return None
    return action


def _central(root: Path, *names: str) -> CentralStore:
    store = open_store(str(root / "central.sqlite3"))
    import_path(store, DEMO_DIR)
    for name in names:
        store.add_client(name, ClientKind.TERMINAL, "STORE-01")
    return store


def _push(store: CentralStore, station: Station, sent: int) -> tuple[int, list]:
    client = Client(name=station.terminal, kind=ClientKind.TERMINAL, facility="STORE-01")
    entries = station.ledger.entries()[sent:]
    return len(station.ledger.entries()), store.ingest(client, entries) if entries else []


@settings(max_examples=60, deadline=None)
@given(data=st.data())
def test_one_honest_terminal_is_derived_exactly_as_it_recorded(data: st.DataObject) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = _central(root, "PACK-01")
        station = _terminal(root, "PACK-01")
        sent = 0
        try:
            for _ in range(data.draw(st.integers(1, 25))):
                kind = _act(station, data)
                if kind:
                    event(f"accepted: {kind}")
                if data.draw(st.booleans()):
                    sent, results = _push(store, station, sent)
                    for r in results:
                        assert r.outcome is Outcome.APPLIED, r
                        assert r.code in (ResultCode.APPLIED, ResultCode.ALREADY_RELEASED), r
            sent, results = _push(store, station, sent)
            assert all(
                r.code in (ResultCode.APPLIED, ResultCode.ALREADY_RELEASED) for r in results
            ), results
            # Nobody else moved stock: central stock is the terminal's, figure for figure.
            qoh, atp = station.ledger.stock()
            cq, ca = store.stock("STORE-01")
            assert {(s, loc): n for s, loc, n in qoh if n or (s, loc) in cq} == {
                k: v for k, v in cq.items() if v or k in {(s, loc) for s, loc, _ in qoh}
            }
            assert {s: n for s, n in atp} == ca
            for order_id in ORDERS:
                mine, theirs = station.ledger.order(order_id), store.order(order_id)
                assert mine is not None
                assert theirs is not None
                assert mine.status == theirs.status
                assert [
                    (ln.released, ln.rejected, ln.put_back, ln.withdrawn) for ln in mine.lines
                ] == [(ln.released, ln.rejected, ln.put_back, ln.withdrawn) for ln in theirs.lines]
        finally:
            station.ledger.close()
            store.close()


@settings(max_examples=40, deadline=None)
@given(data=st.data())
def test_two_terminals_central_stock_is_start_plus_every_applied_effect(
    data: st.DataObject,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        store = _central(root, "PACK-01", "PACK-02")
        start_qoh, start_atp = store.stock("STORE-01")
        start_position = store.events(0, 5000).next_cursor  # after the import's own releases
        stations = [_terminal(root, "PACK-01"), _terminal(root, "PACK-02")]
        sent = [0, 0]
        try:
            for _ in range(data.draw(st.integers(1, 30))):
                i = data.draw(st.integers(0, 1))
                _act(stations[i], data)
                if data.draw(st.booleans()):
                    sent[i], results = _push(store, stations[i], sent[i])
                    for r in results:
                        event(f"answer: {r.code}")
                        # Refusals are the rules' own (another terminal got there first).
                        assert r.code is not ResultCode.SEQ_MISSING, r
            for i in (0, 1):
                sent[i], _ = _push(store, stations[i], sent[i])
            qoh, atp = dict(start_qoh), dict(start_atp)
            for applied in store.events(start_position, 5000).events:
                apply_stock_changes(qoh, atp, applied.entry.changes)
            cq, ca = store.stock("STORE-01")
            assert {k: v for k, v in qoh.items() if v or k in cq} == cq
            assert {k: v for k, v in atp.items() if v or k in ca} == ca
            assert all(v >= 0 for v in (*cq.values(), *ca.values()))
        finally:
            for s in stations:
                s.ledger.close()
            store.close()
