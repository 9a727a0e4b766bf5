"""Pilot tests of the worklist on the order screen: offline, Enter, arrows, a pull's news."""

from __future__ import annotations

from datetime import timedelta

from pydantic import SecretStr
from textual.pilot import Pilot

from putback_tui.central.server import BackgroundServer
from putback_tui.config import Settings, SyncSettings
from putback_tui.domain.models import OrderStatus
from putback_tui.ledger import Ledger
from putback_tui.sync.worker import SyncWorker
from putback_tui.tui.app import PutbackApp, make_app
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from putback_tui.tui.state import Tone
from putback_tui.tui.widgets import LineTable
from tests.central_support import Central, MakeTerminal

from .conftest import FROZEN, SteppingClock, scan, screen_text, settle

DEMO_WAITING = ["D-1002", "D-1003", "D-1004", "D-1007"]
"""The demo's exception orders holding picked units, most urgent first at 14:05: all four are
past their 30-minute first-action clock, the oldest the most (2 points a minute)."""


class Bells:
    """Counts the bell."""

    def __init__(self, app: PutbackApp) -> None:
        self.count = 0
        app.bell = self.ring  # type: ignore[method-assign]

    def ring(self) -> None:
        self.count += 1


def worklist_keys(app: PutbackApp) -> list[str]:
    screen = app.screen
    assert isinstance(screen, OrderScreen)
    return [row.key for row in screen.query_one("#worklist", LineTable).rows]


async def signed_in(pilot: Pilot[int]) -> None:
    await settle(pilot)
    await scan(pilot, "OP-0001")
    assert isinstance(pilot.app.screen, OrderScreen)


async def test_offline_the_worklist_lists_the_waiting_orders_from_the_local_cache(
    demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """A central store that cannot be reached changes nothing: the list comes from the ledger."""
    settings = Settings(sync=SyncSettings(url="http://127.0.0.1:9", token=SecretStr("x")))
    app = make_app(demo_ledger, settings, clock=lambda: FROZEN, monotonic=clock)
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        assert worklist_keys(app) == DEMO_WAITING
        text = screen_text(app)
        assert "Waiting: 4 orders, 4 overdue." in text
        assert "D-1002  cancelled   4 h 35      3  overdue 4 h 05" in text
        assert "4 waiting, 4 overdue" in text  # the status bar


async def test_enter_with_nothing_typed_opens_the_top_row(
    app: PutbackApp, clock: SteppingClock
) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        clock.advance(1)  # the operator's own Enter, a moment after the badge scan
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PutBackScreen)
        assert app.result is not None
        assert app.result.text == "Order D-1002: 3 units to put back."


async def test_arrows_choose_another_row_and_coming_back_puts_the_top_one_under_the_cursor(
    app: PutbackApp, clock: SteppingClock
) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        clock.advance(1)
        await pilot.press("down", "down")
        await pilot.press("enter")
        await settle(pilot)
        assert isinstance(app.screen, PutBackScreen)
        assert app.result is not None
        assert app.result.text.startswith("Order D-1004:")
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OrderScreen)
        clock.advance(1)
        await pilot.press("enter")
        await settle(pilot)
        assert app.result is not None
        assert app.result.text.startswith("Order D-1002:")


async def test_a_cleared_order_leaves_the_list(app: PutbackApp) -> None:
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await scan(pilot, "96385074")  # BOTTLE-1L
        await scan(pilot, "LOC:B-01-01")
        await scan(pilot, "96385074")
        assert isinstance(app.screen, OrderScreen)
        await settle(pilot)
        assert worklist_keys(app) == ["D-1002", "D-1003", "D-1007"]
        assert "3 waiting, 3 overdue" in screen_text(app)


async def _wait_for(pilot: Pilot[int], check, rounds: int = 400) -> None:  # type: ignore[no-untyped-def]
    for _ in range(rounds):
        if check():
            return
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
    raise AssertionError("never happened")


async def test_a_new_exception_pulled_while_on_the_order_screen_is_listed_announced_and_rung(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    sync = t.sync_settings(server.url, central.tokens["PACK-01"])
    settings = t.settings.model_copy(update={"sync": sync})
    worker = SyncWorker(t.path, sync, release_as=(settings.terminal.id, settings.terminal.facility))
    app = make_app(
        t.ledger, settings, clock=lambda: FROZEN, monotonic=SteppingClock(), services=(worker,)
    )
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        worker.on_state = lambda s: app.sync_state_changed_from_thread(
            s.online, s.waiting, s.refused, s.last_success, s.last_error
        )
        await signed_in(pilot)
        await _wait_for(pilot, lambda: app.status.sync.online)
        assert worklist_keys(app) == DEMO_WAITING
        assert bells.count == 0
        # The OMS cancels D-1008 (one of its two mugs picked) five minutes ago.
        central.store.set_order_status(
            "D-1008", OrderStatus.CANCELLED, FROZEN - timedelta(minutes=5)
        )
        await _wait_for(pilot, lambda: "D-1008" in worklist_keys(app))
        await settle(pilot)
        assert app.result is not None
        assert (app.result.tone, app.result.text) == (
            Tone.NOTICE,
            "New exception: D-1008 cancelled, 1 unit to put back.",
        )
        assert bells.count == 1
        text = screen_text(app)
        assert "Waiting: 5 orders, 4 overdue." in text
        assert "D-1008  cancelled    5 min      1  on time" in text
        # The central store released the unpicked mug and socks: nothing left to release here.
        order = t.ledger.order("D-1008")
        assert order is not None
        assert [(ln.released, ln.to_put_back) for ln in order.lines] == [(1, 1), (1, 0)]
        assert not [e for e in t.ledger.entries() if e.order_id == "D-1008"]
        # Later rounds bring nothing new: no second notice, no second bell.
        app.done("Something else.")
        rounds = worker.state.last_success
        await _wait_for(pilot, lambda: worker.state.last_success != rounds)
        await settle(pilot)
        assert bells.count == 1
        assert app.result.text == "Something else."


async def test_the_bell_can_be_turned_off(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    sync = t.sync_settings(server.url, central.tokens["PACK-01"])
    settings = t.settings.model_copy(
        update={"sync": sync, "worklist": t.settings.worklist.model_copy(update={"bell": False})}
    )
    worker = SyncWorker(t.path, sync)
    app = make_app(
        t.ledger, settings, clock=lambda: FROZEN, monotonic=SteppingClock(), services=(worker,)
    )
    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        worker.on_state = lambda s: app.sync_state_changed_from_thread(
            s.online, s.waiting, s.refused, s.last_success, s.last_error
        )
        await signed_in(pilot)
        await _wait_for(pilot, lambda: app.status.sync.online)
        central.store.set_order_status("D-1008", OrderStatus.CANCELLED, FROZEN)
        await _wait_for(pilot, lambda: "D-1008" in worklist_keys(app))
        await settle(pilot)
        assert app.result is not None
        assert app.result.text.startswith("New exception: D-1008 cancelled")
        assert bells.count == 0


async def test_an_order_released_by_the_central_store_and_opened_offline_is_released_once(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    """The central store released D-1001 at import; this terminal, offline, opens it and
    releases it too. Once online: no refusal for a supervisor, and the units count once.
    """
    t = make_terminal()
    app = make_app(t.ledger, t.settings, clock=lambda: FROZEN, monotonic=SteppingClock())
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1001")
        assert app.result is not None
        assert app.result.text == "Order D-1001 done: 2 lines, 3 units returned to available stock."
    central_atp = central.store.stock("STORE-01")[1]["TSHIRT-BLK-M"]
    assert central_atp == 8  # 6 + 2, released by the central store at import
    worker = SyncWorker(t.path, t.sync_settings(server.url, central.tokens["PACK-01"]))
    state = worker.run_once()
    worker.stop()
    assert (state.online, state.waiting, state.refused) == (True, 0, 0)
    assert central.store.stock("STORE-01")[1]["TSHIRT-BLK-M"] == 8
    assert dict(t.ledger.stock("TSHIRT-BLK-M")[1])["TSHIRT-BLK-M"] == 8
    order = t.ledger.order("D-1001")
    assert order is not None
    assert [ln.released for ln in order.lines] == [2, 1]


async def test_a_new_exception_pulled_during_a_put_back_is_announced_back_on_the_order_screen(
    app: PutbackApp, demo_ledger: Ledger, clock: SteppingClock
) -> None:
    """The list is re-read while a put-back is in front (the status bar counts it), but the
    news and the bell wait for the order screen.
    """
    from putback_tui.domain.models import Order, OrderLine
    from putback_tui.ledger import sync as book

    bells = Bells(app)
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, PutBackScreen)
        with demo_ledger.write() as tx:  # a pull round brings D-2001, cancelled, 2 mugs picked
            book.apply_page(
                tx,
                cursor=1,
                next_cursor=2,
                has_more=False,
                applied_through_seq=0,
                orders=[
                    Order(
                        order_id="D-2001",
                        facility="STORE-01",
                        status=OrderStatus.CANCELLED,
                        status_changed_at=FROZEN - timedelta(minutes=3),
                        lines=(OrderLine(line_no=1, sku="MUG-WHT", quantity=2, picked=2),),
                    )
                ],
            )
        app.sync_state_changed_from_thread(True, 0, 0, FROZEN, None)
        await settle(pilot)
        assert app.result is not None
        assert not app.result.text.startswith("New exception")
        assert bells.count == 0
        clock.advance(1)
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OrderScreen)
        assert "D-2001" in worklist_keys(app)
        assert app.result.text == "New exception: D-2001 cancelled, 2 units to put back."
        assert bells.count == 1
