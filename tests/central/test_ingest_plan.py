"""The ingest plan judged over plain in-memory state: no database, no server."""

from __future__ import annotations

from datetime import UTC, datetime

from putback_tui.central.ingest import BatchState, Stock, plan_batch
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.derive import DEFAULT_LIMITS
from putback_tui.domain.entries import Entry, EntryDetails, EntryKind, new_entry_id
from putback_tui.domain.models import LineChange
from putback_tui.domain.permissions import DEFAULT_ROLES
from putback_tui.wire import Outcome

FACILITY = "STORE-01"


def _demo_state() -> BatchState:
    data = Dataset(DEMO_DIR)
    return BatchState(
        facility=FACILITY,
        stock=Stock(
            {(sku, loc): qoh for fac, sku, loc, qoh in data.stock() if fac == FACILITY},
            {sku: atp for fac, sku, atp in data.atp() if fac == FACILITY},
        ),
        orders={o.order_id: o for o in data.orders() if o.facility == FACILITY},
        reconciled={},
        first_response={},
        products={p.sku: p for p in data.products()},
        locations={loc.code: loc for loc in data.locations()},
        operators={o.badge: o for o in data.operators()},
        role_map=DEFAULT_ROLES,
    )


def _put_back(seq: int) -> Entry:
    return Entry(
        kind=EntryKind.PUT_BACK,
        entry_id=new_entry_id(),
        seq=seq,
        terminal="T-1",
        facility=FACILITY,
        operator="SV-0001",
        created_at=datetime.now(UTC),
        order_id="D-1002",
        details=EntryDetails(sku="TSHIRT-BLK-M", quantity=1, location="A-01-01"),
        line_changes=(LineChange(order_id="D-1002", line_no=1, put_back=1),),
    )


def test_a_put_back_is_judged_and_applied_in_memory() -> None:
    state = _demo_state()
    before = state.stock.qoh("TSHIRT-BLK-M", "A-01-01")
    entry = _put_back(1)
    plan = plan_batch(
        "T-1", [entry], [entry.model_dump_json()], last_seq=0, existing={}, state=state,
        limits=DEFAULT_LIMITS,
    )
    assert [r.outcome for r in plan.results] == [Outcome.APPLIED]
    assert [r.entry.entry_id for r in plan.recorded] == [entry.entry_id]
    assert plan.last_seq == 1
    assert state.stock.qoh("TSHIRT-BLK-M", "A-01-01") == before + 1
    assert state.orders["D-1002"].line(1).put_back == 1
    assert ("D-1002", 1) in state.changed_lines


def test_an_entry_recorded_before_is_a_duplicate_and_changes_nothing() -> None:
    state = _demo_state()
    before = state.stock.qoh("TSHIRT-BLK-M", "A-01-01")
    entry = _put_back(1)
    plan = plan_batch(
        "T-1", [entry], [entry.model_dump_json()], last_seq=1,
        existing={entry.entry_id: ("T-1", "applied", None)}, state=state, limits=DEFAULT_LIMITS,
    )
    assert [r.outcome for r in plan.results] == [Outcome.DUPLICATE]
    assert plan.recorded == []
    assert state.stock.qoh("TSHIRT-BLK-M", "A-01-01") == before
