"""A hostile or broken terminal with a valid token: the central store believes none of its numbers.

Every case is one that was tried against the central store as an attacker would (issue "The
central store checks every entry"). Each forged entry must leave central stock, order status and
line progress unchanged, or changed exactly as the rules derive; and an honest terminal's next
batch must still be applied. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from putback_tui.central.storage import Client
from putback_tui.domain.derive import Limits
from putback_tui.domain.entries import Entry, EntryDetails, EntryKind, new_entry_id
from putback_tui.domain.models import (
    LineChange,
    Operator,
    OrderStatus,
    RejectReason,
    StockChange,
)
from putback_tui.wire import Outcome, ResultCode
from tests.central_support import Central, MakeTerminal


def _client(central: Central, name: str = "PACK-01") -> Client:
    client = central.store.authenticate(central.tokens[name])
    assert client is not None
    return client


class Forger:
    """Makes entries of one terminal, numbered in order, saying whatever it likes."""

    def __init__(self, central: Central, terminal: str = "PACK-01", facility: str = "STORE-01"):
        self.central = central
        self.terminal = terminal
        self.facility = facility
        self.seq = central.store.last_seq(terminal)

    def entry(self, kind: EntryKind, **fields: Any) -> Entry:
        self.seq += 1
        values: dict[str, Any] = {
            "kind": kind,
            "entry_id": new_entry_id(),
            "seq": self.seq,
            "terminal": self.terminal,
            "facility": self.facility,
            "operator": "SV-0001",
            "created_at": datetime.now(UTC),
        }
        values.update(fields)
        return Entry(**values)

    def send(self, *entries: Entry):
        return self.central.store.ingest(_client(self.central, self.terminal), list(entries))


def _snapshot(central: Central) -> tuple[Any, ...]:
    """Central stock, and every demo order's status and line progress."""
    orders = []
    for n in range(1001, 1009):
        order = central.store.order(f"D-{n}")
        assert order is not None
        orders.append(
            (
                order.status,
                tuple((ln.released, ln.rejected, ln.put_back, ln.withdrawn) for ln in order.lines),
            )
        )
    return central.store.stock("STORE-01"), tuple(orders)


def _honest_batch_still_applies(central: Central, make_terminal: MakeTerminal) -> None:
    """An honest terminal's next batch is applied (its put-back moves exactly one unit)."""
    honest = make_terminal("PACK-02")
    honest.station.open_order("D-1004")
    honest.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    before, _ = central.store.stock("STORE-01")
    results = central.store.ingest(_client(central, "PACK-02"), honest.ledger.entries())
    assert [r.outcome for r in results] == [Outcome.APPLIED]
    qoh, _ = central.store.stock("STORE-01")
    assert qoh[("BOTTLE-1L", "B-01-01")] == before[("BOTTLE-1L", "B-01-01")] + 1


def test_a_refusal_from_an_unknown_operator_carrying_a_million_units_changes_nothing(
    central: Central, make_terminal: MakeTerminal
) -> None:
    before = _snapshot(central)
    f = Forger(central)
    [result] = f.send(
        f.entry(
            EntryKind.REFUSAL,
            operator="NOBODY",
            changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=1_000_000),
                     StockChange(sku="TSHIRT-BLK-M", atp=1_000_000)),
        )
    )
    assert result.outcome is Outcome.REFUSED
    assert result.reason == "Operator NOBODY is not known at STORE-01."
    assert _snapshot(central) == before
    _honest_batch_still_applies(central, make_terminal)


def test_a_refusal_of_a_known_operator_is_recorded_without_its_forged_changes(
    central: Central,
) -> None:
    before = _snapshot(central)
    f = Forger(central)
    [result] = f.send(
        f.entry(
            EntryKind.REFUSAL,
            changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=1_000_000),),
            details=EntryDetails(permission="cancel_order", message="cancel order: no"),
        )
    )
    assert result.outcome is Outcome.APPLIED
    assert result.code is ResultCode.APPLIED_AS_DERIVED
    assert result.changes == ()
    assert _snapshot(central) == before
    event = central.store.events(0, 100).events[-1]
    assert event.entry.entry_id == result.entry_id
    assert event.entry.changes == ()  # the feed carries what was applied


def test_a_put_back_carrying_500_units_puts_back_one(central: Central) -> None:
    f = Forger(central)
    qoh0, atp0 = central.store.stock("STORE-01")
    [result] = f.send(
        f.entry(
            EntryKind.PUT_BACK,
            order_id="D-1002",
            details=EntryDetails(sku="TSHIRT-BLK-M", quantity=1, location="A-01-01"),
            changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=500),
                     StockChange(sku="TSHIRT-BLK-M", atp=500)),
            line_changes=(LineChange(order_id="D-1002", line_no=1, put_back=1),),
        )
    )
    assert result.outcome is Outcome.APPLIED
    assert result.code is ResultCode.APPLIED_AS_DERIVED
    assert result.changes == (StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=1),
                              StockChange(sku="TSHIRT-BLK-M", atp=1))
    qoh, atp = central.store.stock("STORE-01")
    assert qoh[("TSHIRT-BLK-M", "A-01-01")] == qoh0[("TSHIRT-BLK-M", "A-01-01")] + 1
    assert atp["TSHIRT-BLK-M"] == atp0["TSHIRT-BLK-M"] + 1


def test_a_reject_carrying_minus_a_billion_changes_stock_as_its_reason_says(
    central: Central,
) -> None:
    f = Forger(central)
    qoh0, atp0 = central.store.stock("STORE-01")
    [result] = f.send(
        f.entry(
            EntryKind.REJECT,
            order_id="D-1005",
            details=EntryDetails(sku="TSHIRT-BLK-M", quantity=1, reason=RejectReason.DAMAGE),
            changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=-10**9),),
            line_changes=(LineChange(order_id="D-1005", line_no=1, rejected=1),),
        )
    )
    assert result.outcome is Outcome.APPLIED
    # DAMAGE: release 1 then take 1 from ATP; QOH unchanged (docs/rules: section 9).
    assert central.store.stock("STORE-01") == (qoh0, atp0)
    order = central.store.order("D-1005")
    assert order is not None
    assert order.lines[0].rejected == 1


def test_changes_for_a_made_up_sku_and_location_are_never_stored(central: Central) -> None:
    f = Forger(central)
    before = _snapshot(central)
    f.send(
        f.entry(
            EntryKind.MOVE_OUT,
            details=EntryDetails(sku="'; DROP TABLE x;--", quantity=1, from_location="EX-01",
                                 location="NOWHERE"),
            changes=(StockChange(sku="'; DROP TABLE x;--", location="NOWHERE", qoh=5),),
        )
    )
    assert _snapshot(central) == before
    qoh, _atp = central.store.stock("STORE-01")
    assert not any(sku.startswith("'") for sku, _ in qoh)


def test_an_undo_cannot_reopen_a_cancelled_order(central: Central) -> None:
    f = Forger(central)
    before = _snapshot(central)
    [result] = f.send(
        f.entry(
            EntryKind.UNDO,
            order_id="D-1001",
            details=EntryDetails(undoes=new_entry_id(), order_status=OrderStatus.OPEN),
            line_changes=(LineChange(order_id="D-1001", line_no=1, released=-2),),
            changes=(StockChange(sku="TSHIRT-BLK-M", atp=-2),),
        )
    )
    assert result.outcome is Outcome.REFUSED
    assert "nothing to undo" in (result.reason or "")
    assert _snapshot(central) == before


def test_no_entry_kind_changes_a_shipped_order_s_status(central: Central) -> None:
    f = Forger(central)
    before = _snapshot(central)
    results = f.send(
        f.entry(EntryKind.REFUSAL, order_id="D-1006",
                details=EntryDetails(order_status=OrderStatus.DELETED)),
        f.entry(EntryKind.FORCE_CANCEL, order_id="D-1006",
                details=EntryDetails(order_status=OrderStatus.CANCELLED)),
        f.entry(EntryKind.RELEASE, order_id="D-1006",
                details=EntryDetails(order_status=OrderStatus.DELETED)),
    )
    assert [r.outcome for r in results][1:] == [Outcome.REFUSED, Outcome.REFUSED]
    assert all("handle it as a return" in (r.reason or "") for r in results[1:])
    assert _snapshot(central) == before


def test_another_facility_s_order_reads_exactly_as_a_made_up_one(central: Central) -> None:
    far = Forger(central, "FAR-01", "STORE-99")
    before = _snapshot(central)
    results = far.send(
        far.entry(EntryKind.REFUSAL, order_id="D-1002", operator="SV-0001"),
        far.entry(EntryKind.REFUSAL, order_id="D-9999", operator="SV-0001"),
        far.entry(EntryKind.FORCE_CANCEL, order_id="D-1005"),
    )
    assert [r.outcome for r in results] == [Outcome.REFUSED] * 3
    assert results[0].reason == "Order D-1002 is not known here."
    assert results[1].reason == "Order D-9999 is not known here."
    assert results[2].reason == "Order D-1005 is not known here."
    assert _snapshot(central) == before
    order = central.store.order("D-1002")
    assert order is not None
    assert order.lines[0].put_back == 0


def _first_actions(central: Central) -> dict[str, str | None]:
    with central.store.engine.read() as tx:
        return {r[0]: r[1] for r in tx.all("SELECT order_id, first_action_at FROM orders")}


def test_an_entry_on_another_facility_s_order_sets_no_first_response_there(
    central: Central,
) -> None:
    """The backlog's first response (SLA) of an order is its own facility's operators' alone."""
    before = _first_actions(central)
    assert before["D-1002"] is None
    far = Forger(central, "FAR-01", "STORE-99")
    results = far.send(far.entry(EntryKind.REFUSAL, order_id="D-1002", operator="SV-0001"))
    assert [r.outcome for r in results] == [Outcome.REFUSED]
    assert _first_actions(central) == before


def test_another_facility_s_location_reads_as_unknown(
    central: Central, make_terminal: MakeTerminal
) -> None:
    central.store.import_data(
        locations=[],  # STORE-99 has none: every STORE-01 location is foreign to FAR-01
    )
    far = Forger(central, "FAR-01", "STORE-99")
    [result] = far.send(
        far.entry(EntryKind.MOVE_OUT,
                  details=EntryDetails(sku="MUG-WHT", quantity=1, from_location="EX-01",
                                       location="A-01-02"))
    )
    assert result.reason == "Location EX-01 is not known here."


def test_an_operator_without_the_permission_is_refused_with_it_named(central: Central) -> None:
    f = Forger(central)
    before = _snapshot(central)
    [result] = f.send(f.entry(EntryKind.CANCEL, order_id="D-1005", operator="OP-0001"))
    assert result.outcome is Outcome.REFUSED
    assert "permission 'cancel_order' is missing" in (result.reason or "")
    assert _snapshot(central) == before


def test_an_inactive_operator_or_one_of_another_facility_is_refused(central: Central) -> None:
    central.store.import_data(
        operators=[
            Operator(badge="OP-0009", name="Gone", role="supervisor", active=False),
            Operator(badge="OP-0010", name="Elsewhere", role="supervisor", facility="STORE-99"),
        ]
    )
    f = Forger(central)
    results = f.send(
        f.entry(EntryKind.FORCE_CANCEL, order_id="D-1005", operator="OP-0009"),
        f.entry(EntryKind.FORCE_CANCEL, order_id="D-1005", operator="OP-0010"),
    )
    assert [r.reason for r in results] == [
        "Operator OP-0009 is not known at STORE-01.",
        "Operator OP-0010 is not known at STORE-01.",
    ]


def test_an_entry_that_would_cross_the_stock_cap_is_refused(central: Central) -> None:
    central.store.limits = Limits(max_stock=10)
    f = Forger(central)
    before = _snapshot(central)
    [result] = f.send(
        f.entry(EntryKind.PUT_BACK, order_id="D-1002",
                details=EntryDetails(sku="TSHIRT-BLK-M", quantity=1, location="A-01-01"),
                line_changes=(LineChange(order_id="D-1002", line_no=1, put_back=1),))
    )
    assert result.outcome is Outcome.REFUSED
    assert result.reason == "QOH of TSHIRT-BLK-M at A-01-01 would become 11, above the cap of 10."
    assert _snapshot(central) == before


def test_a_quantity_beyond_what_there_is_is_refused_by_the_rule(central: Central) -> None:
    f = Forger(central)
    before = _snapshot(central)
    results = f.send(
        f.entry(EntryKind.MOVE_OUT,
                details=EntryDetails(sku="MUG-WHT", quantity=9_999, from_location="EX-01",
                                     location="A-01-02")),
        f.entry(EntryKind.PUT_BACK, order_id="D-1002",
                details=EntryDetails(sku="TSHIRT-BLK-M", quantity=9_999, location="A-01-01"),
                line_changes=(LineChange(order_id="D-1002", line_no=1, put_back=9_999),)),
    )
    assert [r.outcome for r in results] == [Outcome.REFUSED, Outcome.REFUSED]
    assert _snapshot(central) == before


def test_an_undo_of_another_terminal_s_put_back_is_refused(
    central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal("PACK-01")
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    central.store.ingest(_client(central), t.ledger.entries())
    put_back = t.ledger.entries()[-1]
    before = _snapshot(central)
    other = Forger(central, "PACK-02")
    [result] = other.send(
        other.entry(EntryKind.UNDO, order_id="D-1002",
                    details=EntryDetails(undoes=put_back.entry_id))
    )
    assert result.outcome is Outcome.REFUSED
    assert _snapshot(central) == before


def test_an_undo_is_the_opposite_of_what_was_applied_not_of_what_was_claimed(
    central: Central,
) -> None:
    f = Forger(central)
    qoh0, atp0 = central.store.stock("STORE-01")
    put_back = f.entry(
        EntryKind.PUT_BACK, order_id="D-1002",
        details=EntryDetails(sku="TSHIRT-BLK-M", quantity=1, location="A-01-01"),
        changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=500),),
        line_changes=(LineChange(order_id="D-1002", line_no=1, put_back=1),),
    )
    f.send(put_back)
    undo = f.entry(
        EntryKind.UNDO, order_id="D-1002",
        details=EntryDetails(undoes=put_back.entry_id),
        changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=-500),),
    )
    [result] = f.send(undo)
    assert result.outcome is Outcome.APPLIED
    assert central.store.stock("STORE-01") == (qoh0, atp0)
    # and only once
    [again] = f.send(f.entry(EntryKind.UNDO, order_id="D-1002",
                             details=EntryDetails(undoes=put_back.entry_id)))
    assert again.outcome is Outcome.REFUSED
    assert "undone already" in (again.reason or "")


def test_a_resolve_counts_no_more_than_the_refused_entry_was_about(central: Central) -> None:
    f = Forger(central)
    # A put-back of 1 from a line with nothing left to put back: refused.
    central.store.ingest(
        _client(central),
        [
            refused := f.entry(
                EntryKind.PUT_BACK, order_id="D-1005",
                details=EntryDetails(sku="TSHIRT-BLK-M", quantity=1, location="A-01-01"),
                changes=(StockChange(sku="TSHIRT-BLK-M", location="A-01-01", qoh=1000),),
                line_changes=(LineChange(order_id="D-1005", line_no=1, put_back=1),),
            )
        ],
    )
    qoh0, atp0 = central.store.stock("STORE-01")
    [result] = f.send(
        f.entry(EntryKind.RESOLVE, order_id="D-1005",
                details=EntryDetails(resolves=refused.entry_id, location="EX-01"),
                changes=(StockChange(sku="TSHIRT-BLK-M", location="EX-01", qoh=1000),))
    )
    assert result.outcome is Outcome.APPLIED
    qoh, atp = central.store.stock("STORE-01")
    assert qoh[("TSHIRT-BLK-M", "EX-01")] == qoh0.get(("TSHIRT-BLK-M", "EX-01"), 0) + 1
    assert atp == atp0


def test_a_replayed_foreign_entry_id_and_a_reused_seq_are_answered_as_not_recorded(
    central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal("PACK-01")
    t.station.open_order("D-1001")
    [release] = t.ledger.entries()
    central.store.ingest(_client(central), [release])
    recorded = central.store.recorded()
    other = Forger(central, "PACK-02")
    [taken] = other.send(other.entry(EntryKind.REFUSAL, entry_id=release.entry_id))
    assert (taken.outcome, taken.recorded_as, taken.code) == (
        Outcome.REFUSED, None, ResultCode.ENTRY_ID_TAKEN
    )
    assert "already taken by another entry" in (taken.reason or "")
    f = Forger(central)
    [reused] = f.send(f.entry(EntryKind.REFUSAL, seq=1))
    assert (reused.outcome, reused.recorded_as, reused.code) == (
        Outcome.REFUSED, None, ResultCode.SEQ_REUSED
    )
    assert central.store.recorded() == recorded


@pytest.mark.parametrize("kind", [EntryKind.RELEASE, EntryKind.BULK_REJECT, EntryKind.CANCEL])
def test_line_changes_an_entry_names_are_not_believed(central: Central, kind: EntryKind) -> None:
    f = Forger(central)
    f.send(
        f.entry(kind, order_id="D-1001",
                line_changes=(LineChange(order_id="D-1002", line_no=1, put_back=1),
                              LineChange(order_id="D-1001", line_no=1, released=100),))
    )
    d1002 = central.store.order("D-1002")
    d1001 = central.store.order("D-1001")
    assert d1002 is not None
    assert d1001 is not None
    assert d1002.lines[0].put_back == 0
    assert all(ln.released <= ln.quantity - ln.picked for ln in d1001.lines)


# --- line edits (order modification) ---------------------------------------------------------


def test_a_cancel_line_carrying_forged_figures_releases_what_the_line_holds(
    central: Central, make_terminal: MakeTerminal
) -> None:
    f = Forger(central)
    _, atp0 = central.store.stock("STORE-01")
    start = central.store.events(0, 1000).next_cursor  # after the import's own releases
    [result] = f.send(
        f.entry(
            EntryKind.CANCEL_LINE,
            order_id="D-1008",
            details=EntryDetails(line_no=1, sku="MUG-WHT", reason_code="CUSTOMER REQUEST"),
            changes=(StockChange(sku="MUG-WHT", atp=1_000),
                     StockChange(sku="MUG-WHT", location="A-01-02", qoh=1_000)),
            line_changes=(LineChange(order_id="D-1008", line_no=1, released=2, withdrawn=9),),
        )
    )
    assert result.outcome is Outcome.APPLIED
    assert result.code is ResultCode.APPLIED_AS_DERIVED
    assert result.changes == (StockChange(sku="MUG-WHT", atp=1),)
    assert result.line_changes == (
        LineChange(order_id="D-1008", line_no=1, released=1, withdrawn=1),
    )
    _, atp = central.store.stock("STORE-01")
    assert atp["MUG-WHT"] == atp0["MUG-WHT"] + 1
    order = central.store.order("D-1008")
    assert order is not None
    assert order.status is OrderStatus.IN_PROGRESS
    assert order.line(1).ordered == 0
    assert order.units_owed == 1
    [event] = central.store.events(start, 10).events
    assert (event.entry.kind, event.entry.details.line_no, event.entry.details.from_quantity,
            event.entry.details.quantity, event.entry.details.reason_code) == (
        EntryKind.CANCEL_LINE, 1, 2, 0, "CUSTOMER REQUEST"
    )
    _honest_batch_still_applies(central, make_terminal)


@pytest.mark.parametrize(
    ("details", "order_id", "reason"),
    [
        pytest.param(
            EntryDetails(line_no=1, quantity=3, reason_code="PRICE ERROR"), "D-1005",
            "Raising line 1 from 2 to 3 needs a new reservation: change it in the OMS.",
            id="raising",
        ),
        pytest.param(
            EntryDetails(line_no=1, reason_code="PRICE ERROR"), "D-1005",
            "A reduce line entry must name a quantity.",
            id="no quantity",
        ),
        pytest.param(
            EntryDetails(quantity=1, reason_code="PRICE ERROR"), "D-1005",
            "A line edit entry must name its line.",
            id="no line",
        ),
        pytest.param(
            EntryDetails(line_no=7, quantity=1, reason_code="PRICE ERROR"), "D-1005",
            "Order D-1005 has no line 7.",
            id="unknown line",
        ),
        pytest.param(
            EntryDetails(line_no=1, sku="MUG-WHT", quantity=1, reason_code="PRICE ERROR"),
            "D-1005",
            "MUG-WHT is not on line 1 of order D-1005 (TSHIRT-BLK-M).",
            id="another product",
        ),
        pytest.param(
            EntryDetails(line_no=1, quantity=1), "D-1005",
            "A line edit names a reason code of 1 to 64 characters.",
            id="no reason",
        ),
        pytest.param(
            EntryDetails(line_no=1, quantity=0, reason_code="PRICE ERROR"), "D-1001",
            "Order D-1001 is cancelled: its lines are not reduced, it is handled by release and "
            "put-back.",
            id="exception order",
        ),
        pytest.param(
            EntryDetails(line_no=1, quantity=0, reason_code="PRICE ERROR"), "D-1006",
            "Order D-1006 has shipped: handle it as a return.",
            id="shipped",
        ),
    ],
)
def test_a_forged_reduce_line_is_refused_and_changes_nothing(
    central: Central, details: EntryDetails, order_id: str, reason: str
) -> None:
    before = _snapshot(central)
    f = Forger(central)
    [result] = f.send(
        f.entry(
            EntryKind.REDUCE_LINE,
            order_id=order_id,
            details=details,
            changes=(StockChange(sku="TSHIRT-BLK-M", atp=50),),
            line_changes=(LineChange(order_id=order_id, line_no=1, released=50),),
        )
    )
    assert result.outcome is Outcome.REFUSED
    assert result.reason == reason
    assert _snapshot(central) == before


def test_a_line_edit_by_an_operator_without_edit_lines_is_refused(central: Central) -> None:
    before = _snapshot(central)
    f = Forger(central)
    [result] = f.send(
        f.entry(
            EntryKind.CANCEL_LINE,
            order_id="D-1008",
            operator="OP-0001",
            details=EntryDetails(line_no=2, reason_code="CUSTOMER REQUEST"),
        )
    )
    assert result.outcome is Outcome.REFUSED
    assert result.reason is not None
    assert "permission 'edit_lines' is missing" in result.reason
    assert _snapshot(central) == before


def test_a_put_back_on_a_live_order_is_limited_to_the_withdrawn_units(central: Central) -> None:
    f = Forger(central)
    [reduced, over, once, again] = f.send(
        f.entry(
            EntryKind.REDUCE_LINE,
            order_id="D-1008",
            details=EntryDetails(line_no=1, quantity=1, reason_code="PRICE ERROR"),
        ),
        # 2 mugs, 1 picked, reduced to 1: the unpicked one is released, nothing is withdrawn.
        f.entry(
            EntryKind.PUT_BACK,
            order_id="D-1008",
            details=EntryDetails(sku="MUG-WHT", quantity=1, location="A-01-02"),
            line_changes=(LineChange(order_id="D-1008", line_no=1, put_back=1),),
        ),
        f.entry(
            EntryKind.CANCEL_LINE,
            order_id="D-1008",
            details=EntryDetails(line_no=1, reason_code="PRICE ERROR"),
        ),
        f.entry(
            EntryKind.PUT_BACK,
            order_id="D-1008",
            details=EntryDetails(sku="MUG-WHT", quantity=2, location="A-01-02"),
            line_changes=(LineChange(order_id="D-1008", line_no=1, put_back=2),),
        ),
    )
    assert reduced.outcome is Outcome.APPLIED
    assert over.outcome is Outcome.REFUSED
    assert over.reason == (
        "Order D-1008 is in progress: only exception orders are put back."
    )
    assert once.outcome is Outcome.APPLIED
    assert again.outcome is Outcome.REFUSED
    assert again.reason == "Only 1 unit of MUG-WHT is left to put back on order D-1008, not 2."
