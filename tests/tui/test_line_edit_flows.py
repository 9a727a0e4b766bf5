"""Pilot flows of order modification on the demo data (F6 cancel line, F7 reduce quantity).

Stock is checked afterwards in the ledger; typed answers go through the App's key buffer like
scans, and the operator's own Enter comes a second after the last key.
"""

from __future__ import annotations

import pytest

from putback_tui.config import ReasonSettings, Settings
from putback_tui.domain.entries import EntryKind
from putback_tui.domain.errors import UnknownReason
from putback_tui.domain.models import Order, OrderLine, OrderStatus
from putback_tui.domain.reasons import ReasonEffect, RejectReasonDef
from putback_tui.ledger import Ledger
from putback_tui.tui.app import PutbackApp, make_app
from putback_tui.tui.dialogs.confirm import ConfirmDialog
from putback_tui.tui.dialogs.line_edit import LineEditDialog
from putback_tui.tui.dialogs.reason import ReasonDialog
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.location import LocationScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from putback_tui.tui.state import Tone

from .conftest import FROZEN, SteppingClock, scan, screen_text, stock_of
from .test_supervisor_flows import (
    assert_refused_for_want_of,
    flat,
    key,
    own_enter,
    refusals,
    result,
    sign_in,
)

MUG = "5901234123457"


async def test_reduce_d1005_t_shirts_from_2_to_1(app: PutbackApp, demo_ledger: Ledger):
    before = stock_of(demo_ledger, "TSHIRT-BLK-M")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1005")
        assert isinstance(app.screen, LiveOrderScreen)
        await key(pilot, "f7")
        assert isinstance(app.screen, LineEditDialog)
        text = screen_text(app)
        assert "1  CUSTOMER REQUEST" in text
        assert "3  DUPLICATE ORDER" in text
        await scan(pilot, "2")  # PRICE ERROR
        assert app.screen.step == "quantity"
        await scan(pilot, "3")
        assert result(app) == (
            Tone.REFUSED,
            "Line 1 orders 2: raising it (or keeping it) needs a new reservation: change it in "
            "the OMS.",
        )
        await scan(pilot, "1")
        assert app.screen.step == "confirm"
        said = flat(app)
        assert "Reduce line 1 from 2 to 1 for PRICE ERROR." in said
        assert (
            "1 unit not yet picked goes back to available stock (ATP + 1); QOH unchanged." in said
        )
        await own_enter(pilot)
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app) == (
            Tone.DONE,
            "Order D-1005: line 1 (TSHIRT-BLK-M) reduced from 2 to 1 (PRICE ERROR); 1 unit "
            "returned to available stock.",
        )
        assert "1 of 2" in screen_text(app)  # the Ordered column
    [entry] = [e for e in demo_ledger.entries() if e.kind is EntryKind.REDUCE_LINE]
    assert (entry.details.line_no, entry.details.from_quantity, entry.details.quantity,
            entry.details.reason_code) == (1, 2, 1, "PRICE ERROR")
    qoh, atp = before
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == (qoh, atp + 1)
    order = demo_ledger.order("D-1005")
    assert order is not None
    assert order.status is OrderStatus.OPEN
    assert order.line(1).ordered == 1


async def test_cancel_d1008_socks_then_mug_and_put_the_mug_back(
    app: PutbackApp, demo_ledger: Ledger
):
    socks0 = stock_of(demo_ledger, "SOCKS-3PK")
    mug0 = stock_of(demo_ledger, "MUG-WHT")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1008")
        assert isinstance(app.screen, LiveOrderScreen)
        await key(pilot, "down")  # line 2, the socks
        await key(pilot, "f6")
        assert isinstance(app.screen, LineEditDialog)
        await scan(pilot, "1")  # CUSTOMER REQUEST: straight to the confirmation
        assert app.screen.step == "confirm"
        said = flat(app)
        assert "Cancel line 2 for CUSTOMER REQUEST." in said
        assert "1 unit not yet picked goes back to available stock (ATP + 1)" in said
        await own_enter(pilot)
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app)[1] == (
            "Order D-1008: line 2 (SOCKS-3PK) cancelled (CUSTOMER REQUEST); 1 unit returned to "
            "available stock."
        )
        await key(pilot, "up")  # line 1, the mugs: 2 ordered, 1 picked
        await key(pilot, "f6")
        await scan(pilot, "3")  # DUPLICATE ORDER
        said = flat(app)
        assert "1 unit not yet picked goes back to available stock (ATP + 1)" in said
        assert "1 unit already picked must be put back: the put-back starts right away." in said
        await own_enter(pilot)
        assert isinstance(app.screen, PutBackScreen)
        assert result(app)[1] == (
            "Order D-1008: line 1 (MUG-WHT) cancelled (DUPLICATE ORDER); 1 unit returned to "
            "available stock, 1 unit to put back."
        )
        await scan(pilot, MUG)
        assert isinstance(app.screen, LocationScreen)
        await scan(pilot, "LOC:A-01-02")
        await scan(pilot, MUG)
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app) == (
            Tone.DONE,
            "Put back 1 unit of MUG-WHT to A-01-02: 1 of 1 done. Nothing more to put back. "
            "Order D-1008 stays live.",
        )
    assert stock_of(demo_ledger, "SOCKS-3PK") == (socks0[0], socks0[1] + 1)
    mug_qoh, mug_atp = mug0
    assert stock_of(demo_ledger, "MUG-WHT") == (
        {**mug_qoh, "A-01-02": mug_qoh["A-01-02"] + 1}, mug_atp + 2
    )
    kinds = [e.kind for e in demo_ledger.entries()]
    assert kinds == [EntryKind.CANCEL_LINE, EntryKind.CANCEL_LINE, EntryKind.PUT_BACK]


async def test_an_operator_without_edit_lines_is_refused_and_it_is_recorded(
    app: PutbackApp, demo_ledger: Ledger
):
    before = stock_of(demo_ledger, "TSHIRT-BLK-M")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        for k in ("f6", "f7"):
            await key(pilot, k)
            assert isinstance(app.screen, LiveOrderScreen)
            assert_refused_for_want_of(app, "edit_lines")
    assert refusals(demo_ledger) == ["edit_lines", "edit_lines"]
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == before


async def test_a_site_s_own_reasons_are_offered_and_recorded(
    demo_ledger: Ledger, clock: SteppingClock
):
    settings = Settings(reasons=ReasonSettings(cancel_line=["OMS SPLIT", "FRAUD HOLD"]))
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f6")
        text = screen_text(app)
        assert "1  OMS SPLIT" in text
        assert "2  FRAUD HOLD" in text
        assert "CUSTOMER REQUEST" not in text
        await scan(pilot, "2")
        await own_enter(pilot)
    [entry] = [e for e in demo_ledger.entries() if e.kind is EntryKind.CANCEL_LINE]
    assert entry.details.reason_code == "FRAUD HOLD"


async def test_esc_backs_out_and_nothing_changes(app: PutbackApp, demo_ledger: Ledger):
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f7")
        await scan(pilot, "1")
        await scan(pilot, "0")
        assert app.screen.step == "confirm"
        await key(pilot, "escape")
        assert app.screen.step == "quantity"
        await key(pilot, "escape")
        assert app.screen.step == "reason"
        await key(pilot, "escape")
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app)[1] == "Line 1 of order D-1005 was not changed."
    assert [e.kind for e in demo_ledger.entries()] == []


async def test_a_site_defined_no_variance_reason_releases_only(
    demo_ledger: Ledger, clock: SteppingClock
):
    settings = Settings(
        reasons=ReasonSettings(
            reject=[
                RejectReasonDef(code="NOT IN STOCK", effect=ReasonEffect.ZERO_STOCK),
                RejectReasonDef(code="SHORT PICK", effect=ReasonEffect.NO_VARIANCE),
            ]
        )
    )
    qoh, atp = stock_of(demo_ledger, "TSHIRT-BLK-M")
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f3")
        text = screen_text(app)
        assert "2  SHORT PICK" in text
        assert "nothing else: no stock problem, QOH unchanged" in text
        assert "MISMATCH" not in text
        await scan(pilot, "2")
        await scan(pilot, "1")
        assert "Reject 1 unit of TSHIRT-BLK-M for SHORT PICK." in flat(app)
        await own_enter(pilot)
        assert result(app)[1].startswith("Rejected 1 unit of TSHIRT-BLK-M (SHORT PICK)")
    [entry] = [e for e in demo_ledger.entries() if e.kind is EntryKind.REJECT]
    assert entry.details.reason_code == "SHORT PICK"
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == (qoh, atp + 1)


def _two_more_mug_orders(ledger: Ledger) -> None:
    """Two more live orders reserving mugs: D-2001 (open, 2) and D-2002 (in progress, 1)."""
    with ledger.write() as tx:
        tx.upsert_orders([
            Order(order_id="D-2001", facility="STORE-01", status=OrderStatus.OPEN,
                  lines=(OrderLine(line_no=1, sku="MUG-WHT", quantity=2, picked=0),)),
            Order(order_id="D-2002", facility="STORE-01", status=OrderStatus.IN_PROGRESS,
                  lines=(OrderLine(line_no=1, sku="SOCKS-3PK", quantity=1, picked=1),
                         OrderLine(line_no=2, sku="MUG-WHT", quantity=1, picked=0))),
        ])


async def test_not_in_stock_offers_the_product_s_other_open_orders(
    app: PutbackApp, demo_ledger: Ledger
):
    _two_more_mug_orders(demo_ledger)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1008")
        await key(pilot, "f3")  # line 1, the mugs: 1 unpicked
        await scan(pilot, "1")  # NOT IN STOCK (one unit: straight to the confirmation)
        await own_enter(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        said = flat(app)
        assert "Reject MUG-WHT on 2 other orders?" in said
        assert "2 other open orders still reserve 3 units of it (D-2001, D-2002)" in said
        await own_enter(pilot)
        assert isinstance(app.screen, LiveOrderScreen)
        assert result(app) == (
            Tone.DONE,
            "Rejected 3 units of MUG-WHT (NOT IN STOCK) on 2 other order lines too: re-route "
            "requested.",
        )
    rejects = [e for e in demo_ledger.entries() if e.kind is EntryKind.REJECT]
    assert [(e.order_id, e.details.quantity) for e in rejects] == [
        ("D-1008", 1), ("D-2001", 2), ("D-2002", 1)
    ]
    qoh, atp = stock_of(demo_ledger, "MUG-WHT")
    assert atp == 0
    assert set(qoh.values()) == {0}
    for order_id in ("D-2001", "D-2002"):
        order = demo_ledger.order(order_id)
        assert order is not None
        assert all(ln.unpicked_open == 0 for ln in order.lines)


async def test_the_offer_can_be_declined(app: PutbackApp, demo_ledger: Ledger):
    _two_more_mug_orders(demo_ledger)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "OP-0001")
        await scan(pilot, "D-1008")
        await key(pilot, "f3")
        await scan(pilot, "1")
        await own_enter(pilot)
        assert isinstance(app.screen, ConfirmDialog)
        await key(pilot, "escape")
        assert result(app)[1] == "The other orders with MUG-WHT were left as they are."
    assert [e.order_id for e in demo_ledger.entries() if e.kind is EntryKind.REJECT] == ["D-1008"]


async def test_a_site_s_mandatory_cancel_reason_is_asked_and_recorded(
    demo_ledger: Ledger, clock: SteppingClock
):
    settings = Settings(
        reasons=ReasonSettings(cancel=["OUT OF AREA", "FRAUD"], mandatory=["cancel"])
    )
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=clock)
    qoh, atp = stock_of(demo_ledger, "TSHIRT-BLK-M")
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1005")
        await key(pilot, "f4")
        assert isinstance(app.screen, ReasonDialog)
        assert "2  FRAUD" in screen_text(app)
        await scan(pilot, "7")
        assert result(app)[0] is Tone.REFUSED
        await scan(pilot, "2")
        assert isinstance(app.screen, ConfirmDialog)
        assert "Reason: FRAUD." in flat(app)
        await own_enter(pilot)
        assert result(app)[1].startswith("Order D-1005 cancelled")
    [entry] = [e for e in demo_ledger.entries() if e.kind is EntryKind.CANCEL]
    assert entry.details.reason_code == "FRAUD"
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == (qoh, atp + 2)
    station = app.station
    with pytest.raises(UnknownReason, match="A reason is required for a cancel at this site"):
        station.cancel("D-1005")


async def test_esc_on_the_reason_cancels_nothing(demo_ledger: Ledger, clock: SteppingClock):
    settings = Settings(reasons=ReasonSettings(bulk_reject=["STORE CLOSED"]))
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await key(pilot, "f2")
        await scan(pilot, "1")  # bulk reject open orders
        assert isinstance(app.screen, ReasonDialog)
        await key(pilot, "escape")
        assert result(app)[1] == "Nothing was done."
    assert demo_ledger.entries() == []


async def test_a_wrong_answer_on_each_step_of_both_dialogs_says_what_the_step_wants(
    app: PutbackApp, demo_ledger: Ledger
):
    """The reject (F3) and reduce (F7) dialogs share their steps: a word, a number out of
    range, or a number on the confirm step is refused with what that step wants, and nothing
    is recorded.
    """
    async with app.run_test(size=(100, 30)) as pilot:
        await sign_in(pilot, "SV-0001")
        await scan(pilot, "D-1005")
        for opens, quantity_hint, confirm_hint in (
            ("f3", "Type a quantity (1 to 2) and Enter.",
             "Press Enter to reject, or Esc to go back."),
            ("f7", "Type the new quantity (0 to 1) and Enter.",
             "Press Enter to confirm, or Esc to go back."),
        ):
            await key(pilot, opens)
            reasons = len(app.screen.reasons)  # type: ignore[attr-defined]
            await scan(pilot, "many")
            assert result(app) == (
                Tone.REFUSED,
                f"Not an answer here. Type a reason's number (1 to {reasons}) and Enter.",
            )
            await scan(pilot, "99")
            assert result(app) == (Tone.REFUSED, f"No reason 99: type 1 to {reasons}.")
            await scan(pilot, "2")
            assert app.screen.step == "quantity"  # type: ignore[attr-defined]
            await scan(pilot, "one")
            assert result(app) == (Tone.REFUSED, f"Not an answer here. {quantity_hint}")
            await scan(pilot, "1")
            assert app.screen.step == "confirm"  # type: ignore[attr-defined]
            await scan(pilot, "1")
            assert result(app) == (Tone.REFUSED, f"Not an answer here. {confirm_hint}")
            for _ in range(3):
                await key(pilot, "escape")
            assert isinstance(app.screen, LiveOrderScreen)
    assert [e.kind for e in demo_ledger.entries() if e.kind is not EntryKind.RELEASE] == []
