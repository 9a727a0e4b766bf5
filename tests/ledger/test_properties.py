"""Random sequences of station actions on a real ledger: docs/rules.md section 9 holds."""

from __future__ import annotations

import sqlite3
import tempfile
from collections import Counter
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from putback_tui.config import Settings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.entries import EntryKind
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import Order, OrderLine, OrderStatus, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.ledger.sync import rebuilt_progress
from putback_tui.station import Station

ORDERS = ["D-1001", "D-1002", "D-1003", "D-1004", "D-1005", "D-1006", "D-1007", "D-1008"]
LIVE = ["D-1005", "D-1008"]
STORAGE = ["A-01-01", "A-01-02", "A-02-01", "A-02-02", "A-03-01", "B-01-01"]
LOCATIONS = [*STORAGE, "EX-01", "PACK-01"]
SKUS = ["TSHIRT-BLK-M", "MUG-WHT", "SOCKS-3PK", "CAP-RED", "BOTTLE-1L", "FIRSTAID-KIT"]
T = TypeVar("T")

ACCEPTED = {
    # action -> the entry kind it records when the station accepts it
    "open": EntryKind.RELEASE,
    "put_back": EntryKind.PUT_BACK,
    "undo": EntryKind.UNDO,
    "reject": EntryKind.REJECT,
    "cancel": EntryKind.CANCEL,
    "force_cancel": EntryKind.FORCE_CANCEL,
    "bulk_reject": EntryKind.BULK_REJECT,
    "move_out": EntryKind.MOVE_OUT,
    "cancel_line": EntryKind.CANCEL_LINE,
    "reduce_line": EntryKind.REDUCE_LINE,
}
"""Every action of the station that changes stock, and what it records when accepted."""


def _mostly(likely: list[T], others: list[T]) -> st.SearchStrategy[T]:
    """One of ``likely`` three times in four (when there are any), else one of ``others``."""
    return st.sampled_from(likely * (3 * len(others)) + others if likely else others)


def _draw_action(data: st.DataObject, ledger: Ledger) -> tuple[object, ...]:
    """One action, its arguments drawn mostly from what the ledger holds now, so that most
    actions can be accepted and the rest are refused for one reason at a time: a wrong product,
    lot or location kind, one unit too many, an order in the wrong state.
    """
    # Put-backs (and their undos) are most of a terminal's work; the rest are drawn less often,
    # rejects and moves out a little more (they need a live order left, or parked units).
    kind = data.draw(
        st.sampled_from([*sorted(ACCEPTED), *["put_back"] * 4, "undo", "reject", "move_out"]),
        label="action",
    )
    orders = {o: ledger.order(o) for o in ORDERS}
    if kind == "undo":
        done = [
            o for o, order in orders.items() if order and any(ln.put_back for ln in order.lines)
        ]
        return (kind, data.draw(_mostly(done, ORDERS)))
    if kind in ("cancel", "force_cancel"):
        live = [o for o, order in orders.items() if order and order.status.is_live]
        return (kind, data.draw(_mostly(live, ORDERS)))
    if kind == "open":
        to_release = [
            o for o, order in orders.items()
            if order and order.status.is_exception and any(ln.unpicked_open for ln in order.lines)
        ]
        return (kind, data.draw(_mostly(to_release, ORDERS)))
    if kind == "bulk_reject":
        return (kind, data.draw(st.sampled_from([OrderStatus.OPEN, OrderStatus.IN_PROGRESS])))
    if kind == "put_back":
        waiting = [
            o for o, order in orders.items() if order and any(ln.to_put_back for ln in order.lines)
        ]
        order = orders[data.draw(_mostly(waiting, ORDERS))]
        assert order is not None
        line = data.draw(_mostly([ln for ln in order.lines if ln.to_put_back], list(order.lines)))
        sku = data.draw(_mostly([line.sku], SKUS))
        where = data.draw(_mostly([line.pick_location or "A-01-01", "EX-01"], LOCATIONS))
        # Up to one more than is left: the limit itself is under test.
        left = line.to_put_back
        quantity = data.draw(_mostly(list(range(1, left + 1)), [0, left + 1]))
        lot = data.draw(_mostly([line.lot], [None, "XX"]))
        return (kind, order.order_id, line.line_no, sku, where, quantity, lot)
    if kind in ("cancel_line", "reduce_line"):
        editable = [
            o for o in LIVE if (order := orders[o]) and order.status.is_live
            and any(ln.held for ln in order.lines)
        ]
        order = orders[data.draw(_mostly(editable, ORDERS))]
        assert order is not None
        line = data.draw(_mostly([ln for ln in order.lines if ln.held], list(order.lines)))
        if kind == "cancel_line":
            return (kind, order.order_id, line.line_no)
        # A new quantity below what the line orders, else one refused (raising it, or negative).
        new = data.draw(_mostly(list(range(line.ordered)), [line.ordered + 1, -1]))
        return (kind, order.order_id, line.line_no, new)
    if kind == "reject":
        order = orders[data.draw(_mostly(LIVE, ORDERS))]
        assert order is not None
        line = data.draw(st.sampled_from(order.lines))
        reason = data.draw(st.sampled_from(list(RejectReason)))
        open_units = line.unpicked_open
        quantity = data.draw(_mostly(list(range(1, open_units + 1)), [open_units + 1]))
        return (kind, order.order_id, line.line_no, reason, quantity)
    with ledger.read() as tx:  # move_out: mostly something that sits in the exception area
        parked = [
            (r[0], int(r[1]))
            for r in tx.conn.execute(
                "SELECT sku, qoh FROM stock_qoh WHERE location = 'EX-01' AND qoh > 0"
            )
        ]
    sku, there = data.draw(_mostly(parked, [(s, 0) for s in SKUS]))
    target = data.draw(_mostly(STORAGE, LOCATIONS))
    quantity = data.draw(_mostly(list(range(1, there + 1)), [there + 1]))
    return (kind, sku, target, quantity)


def _apply(station: Station, action: tuple[object, ...]) -> None:
    kind = action[0]
    if kind == "open":
        station.open_order(str(action[1]))
    elif kind == "put_back":
        _, order_id, line_no, sku, loc, qty, lot = action
        station.put_back(str(order_id), int(line_no), str(sku), str(loc), int(qty), lot=lot)  # type: ignore[arg-type]
    elif kind == "undo":
        station.undo_last_put_back(str(action[1]))
    elif kind == "reject":
        _, order_id, line_no, reason, qty = action
        station.reject(str(order_id), int(line_no), reason, int(qty))  # type: ignore[arg-type]
    elif kind == "cancel":
        station.cancel(str(action[1]))
    elif kind == "force_cancel":
        station.force_cancel(str(action[1]))
    elif kind == "bulk_reject":
        station.bulk_reject(action[1])  # type: ignore[arg-type]
    elif kind == "move_out":
        station.move_out(str(action[1]), "EX-01", str(action[2]), int(action[3]))
    elif kind == "cancel_line":
        station.cancel_line(str(action[1]), int(action[2]), "CUSTOMER REQUEST")  # type: ignore[call-overload]
    elif kind == "reduce_line":
        station.reduce_line(str(action[1]), int(action[2]), int(action[3]), "PRICE ERROR")  # type: ignore[call-overload]


def _order_row_by_row(conn: sqlite3.Connection, order_id: str) -> Order | None:
    """The order as the ledger read it before it kept orders: two statements, model by model."""
    row = conn.execute(
        "SELECT o.order_id, o.facility, COALESCE(s.local_status, o.status), o.has_label, "
        "o.status_changed_at FROM orders o LEFT JOIN order_state s USING (order_id) "
        "WHERE o.order_id = ?",
        (order_id,),
    ).fetchone()
    if row is None:
        return None
    lines = tuple(
        OrderLine.from_row(r)
        for r in conn.execute(
            "SELECT l.line_no, l.sku, l.quantity, l.picked, l.pick_location, l.lot, "
            "COALESCE(p.released, 0), COALESCE(p.rejected, 0), COALESCE(p.put_back, 0), "
            "COALESCE(p.withdrawn, 0) "
            "FROM order_lines l LEFT JOIN line_progress p USING (order_id, line_no) "
            "WHERE l.order_id = ? ORDER BY l.line_no",
            (order_id,),
        )
    )
    return Order(
        order_id=row[0],
        facility=row[1],
        status=OrderStatus(row[2]),
        has_label=bool(row[3]),
        status_changed_at=datetime.fromisoformat(row[4]) if row[4] else None,
        lines=lines,
    )


def _check_invariants(ledger: Ledger) -> None:
    qoh, atp = ledger.stock()
    assert all(n >= 0 for _, _, n in qoh), qoh
    assert all(n >= 0 for _, n in atp), atp
    rebuilt_qoh, rebuilt_atp = ledger.rebuild_stock()
    assert {(s, loc): n for s, loc, n in qoh} == rebuilt_qoh
    assert dict(atp) == rebuilt_atp
    for order_id in ORDERS:
        order = ledger.order(order_id)
        assert order is not None
        for line in order.lines:
            assert 0 <= line.put_back <= line.picked, (order_id, line)
            assert line.released + line.rejected <= line.unpicked, (order_id, line)
            assert 0 <= line.withdrawn <= line.picked, (order_id, line)
            if order.status.is_live:
                # A live order is put back only for what a line edit withdrew.
                assert line.put_back <= line.withdrawn, (order_id, line)
                assert 0 <= line.ordered <= line.quantity, (order_id, line)
    # What the ledger keeps in memory between actions (orders, read as one JSON document)
    # equals the orders read row by row on a connection with no cache.
    with ledger.snapshot() as fresh:
        for order_id in ORDERS:
            assert ledger.order(order_id) == _order_row_by_row(fresh.conn, order_id), order_id
    with ledger.read() as tx:
        projected = {
            (r[0], r[1]): (r[2], r[3], r[4], r[5])
            for r in tx.conn.execute(
                "SELECT order_id, line_no, released, rejected, put_back, withdrawn "
                "FROM line_progress"
            )
        }
        assert projected == rebuilt_progress(tx)


def test_random_action_sequences_keep_every_invariant() -> None:
    """Random sequences of every station action keep SPEC section 9's invariants; across the
    run every action is accepted at least once (and refused, where it can be).
    """
    accepted: Counter[str] = Counter()
    refused: Counter[str] = Counter()

    # Derandomized: the run's examples are the same on every machine, so the coverage check
    # below (every action accepted at least once) cannot fail by the luck of one run's draws:
    # one random run (session 5) never drew a move-out after a put-back to the exception area.
    @settings(
        max_examples=100,
        deadline=None,
        derandomize=True,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(st.data())
    def run(data: st.DataObject) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            ledger = Ledger(Path(tmp) / "putback.sqlite3")
            load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
            station = Station(ledger, Settings())
            station.sign_in("SV-0001")
            # Every other step another connection commits something that is not an order's
            # (as the sync worker records its answers): the station then reads its orders'
            # progress again on top of their kept central facts, and the check below compares
            # those too with orders read row by row.
            other = sqlite3.connect(ledger.path, isolation_level=None)
            for step in range(data.draw(st.integers(1, 25), label="steps")):
                if step % 2:
                    other.execute(
                        "INSERT INTO meta (key, value) VALUES ('sync.test', ?) "
                        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                        (str(step),),
                    )
                action = _draw_action(data, ledger)
                kind = str(action[0])
                entries_before = ledger.entries()
                stock_before = ledger.stock()
                try:
                    _apply(station, action)
                except Refused:
                    # A refusal changes nothing.
                    assert ledger.entries() == entries_before
                    assert ledger.stock() == stock_before
                    refused[kind] += 1
                    event(f"refused: {kind}")
                else:
                    made = ledger.entries()[len(entries_before) :]
                    assert {e.kind for e in made} <= {ACCEPTED[kind]}, (action, made)
                    if made:
                        accepted[kind] += 1
                        event(f"accepted: {kind}")
                _check_invariants(ledger)
            other.close()
            ledger.close()

    run()
    never = sorted(set(ACCEPTED) - set(accepted))
    assert not never, f"never accepted in the whole run: {never} (accepted {dict(accepted)})"
    # Refusals too, of the actions with a limit to test (open refuses only a shipped order or
    # another facility's, bulk reject only a status that is not live: drawn rarely here).
    never_refused = sorted(set(ACCEPTED) - {"open", "bulk_reject"} - set(refused))
    assert not never_refused, f"never refused: {never_refused} (refused {dict(refused)})"


@settings(max_examples=30, deadline=None)
@given(
    st.sampled_from(
        [("D-1002", 1, "TSHIRT-BLK-M"), ("D-1002", 2, "SOCKS-3PK"), ("D-1004", 1, "BOTTLE-1L")]
    ),
    st.sampled_from(["A-01-01", "B-01-01", "EX-01"]),
)
def test_undo_of_a_put_back_restores_stock_exactly(
    line: tuple[str, int, str], location: str
) -> None:
    order_id, line_no, sku = line
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "putback.sqlite3")
        load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
        station = Station(ledger, Settings())
        station.sign_in("OP-0001")
        station.open_order(order_id)
        before = ledger.stock()
        station.put_back(order_id, line_no, sku, location)
        assert ledger.stock() != before
        station.undo_last_put_back(order_id)
        after_qoh, after_atp = ledger.stock()
        # A location row created by the put-back stays, at zero.
        assert [r for r in after_qoh if r[2] != 0] == [r for r in before[0] if r[2] != 0]
        assert after_atp == before[1]
        ledger.close()
