"""Which screen follows which: the one module that knows the working screens by name.

A screen file holds its screen and imports no other screen (an import-linter contract says so):
to move on, a screen asks the App's :class:`Navigator` (``self.putback.navigator``). The flow::

    sign in ──badge──▶ order ──open──▶ put back (choose the item) ──▶ location and units
                         │  ╰──open──▶ live order ──(force cancel, line edit)──▶ put back
                         ╰──F2 (any screen)──▶ supervisor ──▶ exception area, refused, report

Every working screen is built once and reused (:meth:`PutbackApp.reusable`); an order scan on
any screen unwinds the stack to the order screen, which opens the order.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from putback_tui.domain.models import Order, Product
from putback_tui.station import OrderView
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.screens.exception_area import ExceptionAreaScreen
from putback_tui.tui.screens.live_order import LiveOrderScreen
from putback_tui.tui.screens.location import LocationScreen
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from putback_tui.tui.screens.refused import RefusedEntriesScreen
from putback_tui.tui.screens.report import ReportScreen
from putback_tui.tui.screens.sign_in import SignInScreen
from putback_tui.tui.screens.supervisor import open_supervisor_menu
from putback_tui.worklist import Worklist

if TYPE_CHECKING:
    from putback_tui.station import RefusedItem
    from putback_tui.tui.app import PutbackApp


class Navigator:
    """The App's screen flow: builds (or reuses) the next screen, loads it, brings it forward."""

    def __init__(self, app: PutbackApp) -> None:
        self.app = app

    # -- signing in ----------------------------------------------------------------------------

    async def start(self) -> None:
        """Signed out: the sign-in screen."""
        await self.app.push_screen(SignInScreen())

    async def sign_in(self, screen: ScanScreen, badge: str) -> None:
        """Sign ``badge`` in and bring up the order screen (from the sign-in or order screen)."""
        app = self.app
        operator = await app.attempt(
            partial(app.station.sign_in, badge), group="lookup", write=False
        )
        if operator is None:
            return
        app.set_status(operator=f"{operator.name} ({operator.badge})")
        app.done(f"Signed in: {operator.name} ({operator.badge}). Scan an order.")
        if not isinstance(screen, OrderScreen):
            await app.push_screen(OrderScreen())

    # -- the order screen and what it opens ----------------------------------------------------

    def order_screen(self) -> OrderScreen:
        """The order screen (there is always one while signed in)."""
        for candidate in reversed(self.app.screen_stack):
            if isinstance(candidate, OrderScreen):
                return candidate
        raise LookupError("no order screen: nobody is signed in")

    def on_order_screen(self) -> bool:
        """True when the order screen is in front."""
        return isinstance(self.app.screen, OrderScreen)

    def show_worklist(self, worklist: Worklist) -> None:
        """The order screen shows the waiting orders as last read (the cursor stays put)."""
        for screen in self.app.screen_stack:
            if isinstance(screen, OrderScreen):
                screen.show_worklist(worklist)

    async def open_order(self, order_id: str) -> None:
        """Open an order from any screen: the stack unwinds to the order screen, which opens it."""
        await self.order_screen().open(order_id)

    def exception_order_in_hand(self) -> Order | None:
        """The exception order on a put-back screen in the stack, if any (the one claimed)."""
        for screen in self.app.screen_stack:
            if isinstance(screen, PutBackScreen):
                try:
                    order = screen.view.order
                except LookupError:
                    continue
                if order.status.is_exception:
                    return order
        return None

    def live_order(self, view: OrderView) -> LiveOrderScreen:
        """The live order screen, loaded with ``view`` (not yet in front)."""
        live = self.app.reusable(LiveOrderScreen)
        live.load(view)
        return live

    def put_back(self, view: OrderView) -> PutBackScreen:
        """The put-back screen (choose the item), loaded with ``view`` (not yet in front)."""
        items = self.app.reusable(PutBackScreen)
        items.load(view)
        return items

    async def to_put_back(self, view: OrderView) -> None:
        """Start the put-back of ``view``'s order right away, over the order screen."""
        home = self.order_screen()
        home.clear_summary()
        await self.app.bring_forward(home, self.put_back(view))

    async def to_location(
        self, items: PutBackScreen, line_no: int, product: Product | None
    ) -> None:
        """The location step for one line of the order ``items`` shows."""
        step = self.app.reusable(LocationScreen)
        step.load(items, line_no, product)
        await self.app.bring_forward(items, step)

    async def back_to_order_screen(self, view: OrderView | None, headline: str) -> None:
        """Back to the order screen, showing ``view``'s order as it now stands (if read)."""
        home = self.order_screen()
        if view is not None:
            home.show_summary(view, headline)
        await self.app.bring_forward(home)

    # -- the supervisor menu and its screens ---------------------------------------------------

    async def open_supervisor_menu(self) -> None:
        """F2: the supervisor menu over the working screen."""
        await open_supervisor_menu(self.app)

    async def to_exception_area(self) -> None:
        """The exception area, its stock read afresh."""
        app = self.app
        area = app.reusable(ExceptionAreaScreen)
        area.reset()
        await area.refresh_stock()
        app.info("Exception area: scan an exception location to move units out.")
        await app.push_screen(area)

    async def to_refused_entries(self, items: list[RefusedItem]) -> None:
        """The refused entries, showing ``items``."""
        refused = self.app.reusable(RefusedEntriesScreen)
        refused.set_items(items)
        await self.app.push_screen(refused)

    async def to_report(self) -> None:
        """The exception patterns report, started once in front."""
        app = self.app
        report = app.reusable(ReportScreen)
        app.info("Exception patterns: building the report…")
        await app.push_screen(report)
        report.start()
