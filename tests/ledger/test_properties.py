"""Random sequences of station actions on a real ledger: the invariants of SPEC section 9 hold."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from putback_tui.config import Settings
from putback_tui.dataset import DEMO_DIR, Dataset, load_dataset
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import OrderStatus, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.ledger.sync import rebuilt_progress
from putback_tui.station import Station

ORDERS = ["D-1001", "D-1002", "D-1003", "D-1004", "D-1005", "D-1007", "D-1008"]
LOCATIONS = ["A-01-01", "A-01-02", "A-02-01", "A-02-02", "A-03-01", "B-01-01", "EX-01", "PACK-01"]
SKUS = ["TSHIRT-BLK-M", "MUG-WHT", "SOCKS-3PK", "CAP-RED", "BOTTLE-1L", "FIRSTAID-KIT"]

actions = st.one_of(
    st.tuples(st.just("open"), st.sampled_from(ORDERS)),
    st.tuples(
        st.just("put_back"),
        st.sampled_from(ORDERS),
        st.integers(1, 2),
        st.sampled_from(SKUS),
        st.sampled_from(LOCATIONS),
        st.integers(0, 3),
        st.sampled_from([None, "AB-123", "XX"]),
    ),
    st.tuples(st.just("undo"), st.sampled_from(ORDERS)),
    st.tuples(st.just("reject"), st.sampled_from(list(RejectReason)), st.integers(1, 3)),
    st.tuples(st.just("force_cancel"), st.sampled_from(ORDERS)),
    st.tuples(st.just("bulk_reject"), st.sampled_from([OrderStatus.OPEN, OrderStatus.IN_PROGRESS])),
    st.tuples(
        st.just("move_out"),
        st.sampled_from(SKUS),
        st.sampled_from(LOCATIONS),
        st.integers(1, 3),
    ),
    st.tuples(st.just("cancel_line"), st.sampled_from(ORDERS), st.integers(1, 2)),
    st.tuples(
        st.just("reduce_line"), st.sampled_from(["D-1005", "D-1008"]), st.integers(1, 2),
        st.integers(-1, 3),
    ),
)


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
        station.reject("D-1005", 1, action[1], int(action[2]))  # type: ignore[arg-type]
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
    with ledger.read() as tx:
        projected = {
            (r[0], r[1]): (r[2], r[3], r[4], r[5])
            for r in tx.conn.execute(
                "SELECT order_id, line_no, released, rejected, put_back, withdrawn "
                "FROM line_progress"
            )
        }
        assert projected == rebuilt_progress(tx)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(actions, min_size=1, max_size=25))
def test_random_action_sequences_keep_every_invariant(sequence: list[tuple[object, ...]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        ledger = Ledger(Path(tmp) / "putback.sqlite3")
        load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
        station = Station(ledger, Settings())
        station.sign_in("SV-0001")
        for action in sequence:
            entries_before = ledger.entries()
            stock_before = ledger.stock()
            try:
                _apply(station, action)
            except Refused:
                # A refusal changes nothing.
                assert ledger.entries() == entries_before
                assert ledger.stock() == stock_before
            _check_invariants(ledger)
        ledger.close()


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
