"""The actions of a live order: reject, cancel, force cancel, edit a line (docs/rules.md 3, 4, 10).

Each checks the operator's permission first (a refusal names the missing permission and is
recorded), asks in a dialog, then calls the station; the screen shows the order as it now stands.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from functools import partial
from typing import TYPE_CHECKING

from rich.text import Text

from putback_tui.domain.errors import Refused
from putback_tui.domain.models import Permission, RejectReason
from putback_tui.domain.reasons import OrderAction, ReasonEffect
from putback_tui.domain.wording import agree, plural
from putback_tui.domain.wording import lines as _lines
from putback_tui.domain.wording import units as _units
from putback_tui.station import LedgerError, Outcome
from putback_tui.tui.dialogs.confirm import ConfirmDialog
from putback_tui.tui.dialogs.line_edit import LineEditChoice, LineEditDialog
from putback_tui.tui.dialogs.reason import ReasonDialog
from putback_tui.tui.dialogs.reject import RejectChoice, RejectDialog
from putback_tui.tui.messages import ItemRejected, LineEdited, OrderCancelled

if TYPE_CHECKING:
    from putback_tui.tui.app import PutbackApp
    from putback_tui.tui.screens.live_order import LiveOrderScreen


async def with_reason(
    app: PutbackApp,
    action: OrderAction,
    title: str,
    head: Text,
    then: Callable[[str | None], Awaitable[None]],
) -> None:
    """Ask for the site's reason for ``action`` (when it lists any), then go on with ``then``.

    No list for the action: ``then(None)`` at once. Esc on the reason: nothing is done.
    """
    codes = app.station.site_reasons.order_codes(action)
    if not codes:
        await then(None)
        return

    async def chosen(code: str | None) -> None:
        if code is None:
            app.info("Nothing was done.")
            return
        app.info(f"Reason: {code}.")
        await then(code)

    await app.push_screen(ReasonDialog(title, head, codes), callback=chosen)


async def permitted(
    app: PutbackApp, permission: Permission, action: str, order_id: str | None = None
) -> bool:
    """True when the signed-in operator may ``action``; otherwise the refusal is on screen.

    The station records the refusal in the ledger, so the check is a write.
    """
    try:
        await app.call_station(
            partial(app.station.require, permission, action, order_id), group="permission"
        )
    except Refused as refused:
        app.refuse(str(refused), refused.code)
        return False
    except LedgerError as failed:
        app.refuse(str(failed), "ledger_error")
        return False
    return True


async def reject_item(screen: LiveOrderScreen) -> None:
    """Reject units of the highlighted line: reason, quantity, confirm."""
    app = screen.putback
    view = screen.view
    if view is None:
        return
    order_id = view.order.order_id
    if not await permitted(app, Permission.REJECT_ITEM, "reject item", order_id):
        return
    line = screen.highlighted_line()
    if not line.unpicked_open:
        app.refuse(
            f"Line {line.line_no} ({line.sku}) has nothing unpicked left to reject.",
            "over_quantity",
        )
        return

    async def answered(choice: RejectChoice | None) -> None:
        if choice is None:
            app.info("Nothing was rejected.")
            return
        call = partial(app.station.reject, order_id, choice.line_no, choice.reason, choice.quantity)
        entry = await app.attempt(call, group="reject")
        if entry is None:
            return
        app.post_message(ItemRejected(entry))
        await screen.reload()
        app.done(
            f"Rejected {_units(choice.quantity)} of {line.sku} ({choice.reason}) from order "
            f"{order_id}: they leave this facility's queue; re-route requested from the central "
            "store."
        )
        if app.station.site_reasons.reject_effect(str(choice.reason)) is ReasonEffect.ZERO_STOCK:
            await offer_other_orders(screen, line.sku, choice.reason, order_id)

    app.info(f"Rejecting from {line.sku}: choose the reason.")
    dialog = RejectDialog(
        order_id, line, view.products.get(line.sku), app.station.site_reasons.reject
    )
    await app.push_screen(dialog, callback=answered)


async def offer_other_orders(
    screen: LiveOrderScreen, sku: str, reason: RejectReason | str, order_id: str
) -> None:
    """After a NOT IN STOCK reject: offer to reject ``sku`` on the other live orders too.

    One confirmation states how many orders and units; nothing happens without it.
    """
    app = screen.putback
    others = await app.attempt(
        partial(app.station.other_open_lines, sku, order_id), group="lookup", write=False
    )
    if not others:
        return
    orders = len({o for o, _, _ in others})
    units = sum(n for _, _, n in others)
    body = Text.assemble(
        f"{sku} is not in stock here, and ",
        (plural(orders, "other open order"), "bold"),
        " still reserve ",
        (_units(units), "bold"),
        f" of it ({', '.join(sorted({o for o, _, _ in others}))}).\n"
        f"Reject them too, for {reason}: they leave this facility's queue and a re-route is "
        "requested from the central store.",
    )

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.info(f"The other orders with {sku} were left as they are.")
            return
        entries = await app.attempt(
            partial(app.station.reject_on_other_orders, sku, reason, order_id), group="reject"
        )
        if entries is None:
            return
        for entry in entries:
            app.post_message(ItemRejected(entry))
        done = sum(e.details.quantity or 0 for e in entries)
        app.done(
            f"Rejected {_units(done)} of {sku} ({reason}) on "
            f"{plural(len(entries), 'other order line')} too: re-route requested."
        )

    await app.push_screen(
        ConfirmDialog(
            f"Reject {sku} on {plural(orders, 'other order')}?",
            body,
            "Reject on them too",
            danger=True,
        ),
        callback=answered,
    )


async def cancel_order(screen: LiveOrderScreen) -> None:
    """Cancel: refused with the reason when anything is picked or labelled."""
    app = screen.putback
    view = screen.view
    if view is None:
        return
    order = view.order
    if not await permitted(app, Permission.CANCEL_ORDER, "cancel order", order.order_id):
        return
    try:
        app.station.check_cancel(order)
    except Refused as refused:
        app.refuse(str(refused), refused.code)
        return
    units = sum(line.unpicked_open for line in order.lines)
    lines = sum(1 for line in order.lines if line.unpicked_open)
    body = Text.assemble(
        "Every reservation of the order is released: ",
        (f"{_lines(lines)}, {_units(units)}", "bold"),
        " back to available stock (ATP). Nothing was picked, so nothing needs a put-back.",
    )

    reason: str | None = None

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.info(f"Order {order.order_id} was not cancelled.")
            return
        entry = await app.attempt(
            partial(app.station.cancel, order.order_id, reason), group="cancel"
        )
        if entry is None:
            return
        app.post_message(OrderCancelled(entry))
        released = sum(c.released for c in entry.line_changes)
        await _finish(screen, order.order_id, f"Order {order.order_id} is cancelled.")
        app.done(
            f"Order {order.order_id} cancelled: {_units(released)} returned to available stock."
        )

    async def confirm(code: str | None) -> None:
        nonlocal reason
        reason = code
        said = body if code is None else Text.assemble(body, f"\nReason: {code}.")
        await app.push_screen(
            ConfirmDialog(f"Cancel order {order.order_id}?", said, "Cancel the order"),
            callback=answered,
        )

    await with_reason(
        app, "cancel", f"Cancel order {order.order_id}: why?",
        Text(f"Cancelling order {order.order_id}."), confirm,
    )


async def force_cancel(screen: LiveOrderScreen) -> None:
    """Force cancel: unpicked released at once; the put-back of the picked starts right away."""
    app = screen.putback
    view = screen.view
    if view is None:
        return
    order = view.order
    if not await permitted(app, Permission.FORCE_CANCEL, "force cancel", order.order_id):
        return
    unpicked = sum(line.unpicked_open for line in order.lines)
    picked = sum(line.to_put_back for line in order.lines)
    body = Text.assemble(
        (_units(unpicked), "bold"),
        f" not yet picked {agree(unpicked, 'goes', 'go')} back to available stock at once.\n",
        (_units(picked), "bold"),
        " already picked must be put back: the put-back starts right away."
        if picked
        else " picked: nothing to put back.",
    )

    reason: str | None = None

    async def answered(yes: bool | None) -> None:
        if not yes:
            app.info(f"Order {order.order_id} was not cancelled.")
            return
        result = await app.attempt(
            partial(app.station.force_cancel, order.order_id, reason), group="cancel"
        )
        if result is None:
            return
        if result.released is not None:
            app.post_message(OrderCancelled(result.released))
        if result.outcome is Outcome.PUT_BACK:
            await app.navigator.to_put_back(result)
        else:
            await _finish(screen, order.order_id, f"Order {order.order_id} is cancelled.")
        app.done(result.message)

    async def confirm(code: str | None) -> None:
        nonlocal reason
        reason = code
        said = body if code is None else Text.assemble(body, f"\nReason: {code}.")
        await app.push_screen(
            ConfirmDialog(
                f"Force cancel order {order.order_id}?", said, "Force cancel", danger=True
            ),
            callback=answered,
        )

    await with_reason(
        app, "force_cancel", f"Force cancel order {order.order_id}: why?",
        Text(f"Force cancelling order {order.order_id}."), confirm,
    )


async def edit_line(screen: LiveOrderScreen, *, reduce: bool) -> None:
    """Cancel the highlighted line (F6) or reduce its quantity (F7): reason, quantity, confirm.

    Refused before the dialog when the operator lacks ``edit_lines`` (recorded) or the order or
    line does not allow it; after it, withdrawn picked units go straight to put-back.
    """
    app = screen.putback
    view = screen.view
    if view is None:
        return
    order = view.order
    action = "reduce line" if reduce else "cancel line"
    if not await permitted(app, Permission.EDIT_LINES, action, order.order_id):
        return
    line = screen.highlighted_line()
    try:
        app.station.check_line_edit(order, line.line_no, "reduced" if reduce else "cancelled")
    except Refused as refused:
        app.refuse(str(refused), refused.code)
        return
    reasons = list(app.station.site_reasons.line_edit_codes(cancel=not reduce))

    async def answered(choice: LineEditChoice | None) -> None:
        if choice is None:
            app.info(f"Line {line.line_no} of order {order.order_id} was not changed.")
            return
        if reduce:
            call = partial(
                app.station.reduce_line,
                order.order_id,
                choice.line_no,
                choice.new_quantity,
                choice.reason_code,
            )
        else:
            call = partial(
                app.station.cancel_line, order.order_id, choice.line_no, choice.reason_code
            )
        result = await app.attempt(call, group="edit-line")
        if result is None:
            return
        if result.released is not None:
            app.post_message(LineEdited(result.released))
        if result.outcome is Outcome.LIVE and result.order.units_owed:
            await app.navigator.to_put_back(result)
        else:
            screen.load(result, cursor=screen.highlighted_row)
        app.done(result.message)

    app.info(f"{'Reducing' if reduce else 'Cancelling'} line {line.line_no}: choose the reason.")
    dialog = LineEditDialog(
        order.order_id, line, view.products.get(line.sku), reasons, reduce=reduce
    )
    await app.push_screen(dialog, callback=answered)


async def _finish(screen: LiveOrderScreen, order_id: str, headline: str) -> None:
    """Back to the order screen, showing the order as it now stands."""
    app = screen.putback
    view = await app.attempt(partial(app.station.view, order_id), group="lookup", write=False)
    await app.navigator.back_to_order_screen(view, headline)
