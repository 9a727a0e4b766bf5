"""The question before opening an order another terminal is clearing: open it anyway, or not."""

from __future__ import annotations

from rich.text import Text

from putback_tui.tui.dialogs.confirm import ConfirmDialog
from putback_tui.wire import Claim


def claim_text(claim: Claim) -> str:
    """``being cleared at PACK-02 by OP-0002 since 10:31`` (local time)."""
    return (
        f"being cleared at {claim.terminal} by {claim.operator} "
        f"since {claim.since.astimezone():%H:%M}"
    )


def claim_cell(claim: Claim) -> str:
    """``at PACK-02 · OP-0002 · since 10:31``: the worklist's short form of :func:`claim_text`.

    Station first, then who, then since when: at 80 columns the worklist's last column shows
    about 22 characters, and the station is what an operator needs to walk over and ask.
    """
    return f"at {claim.terminal} · {claim.operator} · since {claim.since.astimezone():%H:%M}"


class ClaimedDialog(ConfirmDialog):
    """Order X is being cleared elsewhere: Enter opens it and takes the claim over, Esc goes back.

    Asked once per order: after a yes, this terminal holds the claim and opening the order again
    asks nothing.
    """

    def __init__(self, claim: Claim) -> None:
        """Build the question for ``claim`` (another terminal's)."""
        body = Text.assemble(
            (f"Order {claim.order_id}", "bold"),
            " is ",
            (claim_text(claim), "bold"),
            ".\n\nOpen it anyway: this terminal takes the claim over, and ",
            (claim.terminal, "bold"),
            " shows that it is being cleared here. Nothing is blocked either way: every "
            "put-back is checked by the central store.",
        )
        super().__init__(
            f"Order {claim.order_id} is being cleared at {claim.terminal}",
            body,
            "Open it and take over",
        )
        self.claim = claim
