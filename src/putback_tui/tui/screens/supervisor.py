"""The supervisor menu (F2): bulk reject, the exception area, refused entries, the report.

The menu is open to everyone who is signed in, and lists every entry with the permission it
needs: an entry the operator's role lacks is refused when chosen, naming the missing
permission, and the refusal is recorded (docs/rules.md section 5).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text
from textual.app import ComposeResult
from textual.screen import ModalScreen
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from putback_tui.barcodes import OrderCode, Scan
from putback_tui.domain.models import OrderStatus, Permission
from putback_tui.domain.wording import orders as _orders
from putback_tui.domain.wording import plural
from putback_tui.domain.wording import units as _units
from putback_tui.tui.dialogs.confirm import ConfirmDialog
from putback_tui.tui.messages import OrdersBulkRejected
from putback_tui.tui.screens.base import ScanScreen
from putback_tui.tui.screens.live_actions import permitted, with_reason

if TYPE_CHECKING:
    from putback_tui.tui.app import PutbackApp

CHOICE = re.compile(r"[0-9]")
"""A typed menu choice: one digit."""


@dataclass(frozen=True)
class MenuItem:
    """One entry of the menu."""

    label: str
    permission: Permission
    run: Callable[[SupervisorScreen], Awaitable[None]]


async def _bulk_open(screen: SupervisorScreen) -> None:
    await bulk_reject(screen, OrderStatus.OPEN)


async def _bulk_in_progress(screen: SupervisorScreen) -> None:
    await bulk_reject(screen, OrderStatus.IN_PROGRESS)


async def _exception_area(screen: SupervisorScreen) -> None:
    app = screen.putback
    if not await permitted(app, Permission.MOVE_OUT, "open the exception area"):
        return
    await app.navigator.to_exception_area()


async def _refused_entries(screen: SupervisorScreen) -> None:
    app = screen.putback
    items = await app.attempt(app.station.refused_entries, group="lookup")
    if items is None:
        return
    open_ones = sum(1 for i in items if i.resolution is None)
    app.info(
        f"{len(items)} refused by the central store, {open_ones} to resolve."
        if items
        else "Nothing was refused by the central store."
    )
    await app.navigator.to_refused_entries(items)


async def _report(screen: SupervisorScreen) -> None:
    app = screen.putback
    if not await permitted(app, Permission.VIEW_REPORTS, "view reports"):
        return
    await app.navigator.to_report()


MENU = (
    MenuItem("Bulk reject all open orders", Permission.BULK_REJECT, _bulk_open),
    MenuItem("Bulk reject all in-progress orders", Permission.BULK_REJECT, _bulk_in_progress),
    MenuItem("Exception area: what sits there, move out", Permission.MOVE_OUT, _exception_area),
    MenuItem("Refused sync entries", Permission.RESOLVE_REFUSED, _refused_entries),
    MenuItem("Exception patterns report", Permission.VIEW_REPORTS, _report),
)
"""The menu, in the order shown; the number typed is the position."""


class SupervisorScreen(ScanScreen):
    """A numbered menu: type the number and Enter, or ↑ ↓ and Enter."""

    TITLE_TEXT = "supervisor"

    def __init__(self) -> None:
        super().__init__()
        self._menu = OptionList(id="menu")

    def compose_body(self) -> ComposeResult:
        """The menu."""
        yield self._menu

    def on_mount(self) -> None:
        """Fill the menu for whoever is signed in."""
        super().on_mount()
        self.set_prompt("Supervisor: type a number and Enter (or ↑ ↓ and Enter); Esc goes back")
        self.fill()

    def fill(self) -> None:
        """List every entry; those the operator's role lacks say which permission they need."""
        station = self.putback.station
        menu = self._menu
        highlighted = menu.highlighted or 0
        menu.clear_options()
        for i, item in enumerate(MENU, 1):
            label = Text.assemble((f"{i}  ", "bold"), item.label)
            if not station.may(item.permission):
                label.stylize("dim")
                label.append(f"   (needs {item.permission.value})", style="italic")
            menu.add_option(Option(label, id=str(i)))
        menu.highlighted = highlighted
        menu.focus()

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A typed number chooses; an order scan opens the order; the rest is refused."""
        typed = text.strip()
        if CHOICE.fullmatch(typed):
            number = int(typed)
            if 1 <= number <= len(MENU):
                await MENU[number - 1].run(self)
            else:
                self.putback.refuse(f"No entry {number}: type 1 to {len(MENU)}.", "wrong_step")
        elif isinstance(scan, OrderCode):
            await self.putback.navigator.open_order(scan.order_id)
        else:
            self.refuse_scan(scan, f"Type 1 to {len(MENU)} and Enter.")

    async def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """The operator's own Enter on the highlighted entry."""
        event.stop()
        await MENU[event.option_index].run(self)

    async def action_back(self) -> None:
        """Esc: back to where F2 was pressed; the result line says what that screen wants."""
        await self.app.pop_screen()
        below = self.app.screen
        prompt = below.prompt_now if isinstance(below, ScanScreen) else ""
        self.putback.info(f"Back from the supervisor menu. {prompt}." if prompt else "Back.")


async def open_supervisor_menu(app: PutbackApp) -> None:
    """F2: bring up the menu over the working screen (signed-in operators only)."""
    if app.station.operator is None:
        app.refuse("Sign in first: scan your badge.", "not_signed_in")
        return
    if isinstance(app.screen, ModalScreen | SupervisorScreen):
        return
    menu = app.reusable(SupervisorScreen)
    if menu.is_mounted:
        menu.fill()
    app.info("Supervisor menu.")
    await app.push_screen(menu)


async def bulk_reject(screen: ScanScreen, status: OrderStatus) -> None:
    """Bulk reject every live order of ``status``, after a confirmation with the counts."""
    app = screen.putback
    if not await permitted(app, Permission.BULK_REJECT, "bulk reject"):
        return
    label = status.value.replace("_", "-")
    preview = await app.attempt(
        partial(app.station.bulk_reject_preview, status), group="lookup", write=False
    )
    if preview is None:
        return
    orders, units = preview
    facility = app.station.facility
    if not orders:
        app.notice(f"No {label} orders at {facility}: nothing to bulk reject.")
        return
    body = Text.assemble(
        f"Every {label} order of {facility} is rejected: ",
        (f"{_orders(orders)}, {_units(units)} not yet picked", "bold"),
        ".\nTheir reservations are released (ATP + the unpicked units, QOH unchanged) and every "
        "line is marked for re-routing by the central store. Picked units wait for put-back: "
        "open each order to put them back.",
    )

    reason: str | None = None

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.info("Nothing was rejected.")
            return
        entries = await app.attempt(
            partial(app.station.bulk_reject, status, reason), group="reject"
        )
        if entries is None:
            return
        app.post_message(OrdersBulkRejected(entries))
        done = sum(c.rejected for e in entries for c in e.line_changes)
        app.done(
            f"Bulk rejected {plural(len(entries), f'{label} order')}: "
            f"{_units(done)} released, re-route requested from the central store."
        )

    async def confirm(code: str | None) -> None:
        nonlocal reason
        reason = code
        said = body if code is None else Text.assemble(body, f"\nReason: {code}.")
        await app.push_screen(
            ConfirmDialog(
                f"Bulk reject {plural(orders, f'{label} order')}?", said,
                f"Reject {_orders(orders)}",
                danger=True,
            ),
            callback=answered,
        )

    await with_reason(
        app, "bulk_reject", f"Bulk reject {plural(orders, f'{label} order')}: why?",
        Text(f"Bulk rejecting every {label} order of {facility}."), confirm,
    )
