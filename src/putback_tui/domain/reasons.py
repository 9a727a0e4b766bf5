"""Reasons a site defines, per action, and the stock effect each reject reason names.

The four built-in reject reasons are the defaults, each with the effect SPEC section 9 gives it.
A site may list its own codes; a reject reason then names one of the four effects, and the
reject rule reads the effect, never the code. One list is in force: the central store's, once a
terminal has received it (see :mod:`putback_tui.ledger.sync`), else the terminal's configuration.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import Literal

from pydantic import field_validator, model_validator

from putback_tui.domain.errors import UnknownReason
from putback_tui.domain.models import Frozen, RejectReason


class ReasonEffect(StrEnum):
    """What a reject reason does to stock, after the units' reservation is released."""

    ZERO_STOCK = "zero_stock"
    """QOH of every location and ATP set to 0 (NOT IN STOCK)."""
    REMOVE_FROM_STOCK = "remove_from_stock"
    """QOH at the pick location and ATP minus the quantity (MISMATCH)."""
    UNSELLABLE = "unsellable"
    """ATP minus the quantity; QOH unchanged (DAMAGE, WORN DISPLAY)."""
    NO_VARIANCE = "no_variance"
    """Release only: ATP plus the quantity, QOH unchanged; no stock problem."""

    @property
    def words(self) -> str:
        """The effect as the dialog states it."""
        return EFFECT_WORDS[self]


EFFECT_WORDS = {
    ReasonEffect.ZERO_STOCK: "QOH of every location and ATP set to 0",
    ReasonEffect.REMOVE_FROM_STOCK: "QOH at the pick location and ATP minus the quantity",
    ReasonEffect.UNSELLABLE: "ATP minus the quantity; QOH unchanged",
    ReasonEffect.NO_VARIANCE: "nothing else: no stock problem, QOH unchanged",
}

BUILT_IN_EFFECTS = {
    RejectReason.NOT_IN_STOCK: ReasonEffect.ZERO_STOCK,
    RejectReason.MISMATCH: ReasonEffect.REMOVE_FROM_STOCK,
    RejectReason.DAMAGE: ReasonEffect.UNSELLABLE,
    RejectReason.WORN_DISPLAY: ReasonEffect.UNSELLABLE,
}
"""The built-in reject reasons and their effects (SPEC section 9)."""

DEFAULT_LINE_EDIT_REASONS = ("CUSTOMER REQUEST", "PRICE ERROR", "DUPLICATE ORDER")

OrderAction = Literal["cancel", "force_cancel", "bulk_reject"]
"""The whole-order actions a site may ask (or require) a reason for."""
ORDER_ACTIONS: tuple[OrderAction, ...] = ("cancel", "force_cancel", "bulk_reject")

REASON_CODE = re.compile(r"[A-Z0-9][A-Z0-9 ._/-]{0,63}")
"""A reason code: capitals, digits, spaces and ``._/-``, at most 64 characters."""


def reason_of(code: str) -> RejectReason | None:
    """The built-in reason with this code, if it is one."""
    try:
        return RejectReason(code)
    except ValueError:
        return None


class RejectReasonDef(Frozen):
    """One reject reason of a site: its code and the stock effect it names."""

    code: str
    effect: ReasonEffect

    @field_validator("code")
    @classmethod
    def _code(cls, code: str) -> str:
        return check_code(code)


def check_code(code: str) -> str:
    """``code`` if it is a well-formed reason code.

    Raises:
        ValueError: it is not (the message says what a code may hold).
    """
    if not REASON_CODE.fullmatch(code):
        raise ValueError(
            f"{code!r} is not a reason code: use capitals, digits, spaces and ._/- "
            "(at most 64 characters), e.g. 'CUSTOMER REQUEST'"
        )
    return code


class SiteReasons(Frozen):
    """The reasons a site offers, per action, in order (numbered 1, 2, ...)."""

    reject: tuple[RejectReasonDef, ...] = tuple(
        RejectReasonDef(code=r.value, effect=e) for r, e in BUILT_IN_EFFECTS.items()
    )
    cancel_line: tuple[str, ...] = DEFAULT_LINE_EDIT_REASONS
    reduce_line: tuple[str, ...] = DEFAULT_LINE_EDIT_REASONS
    cancel: tuple[str, ...] = ()
    """Reasons for cancelling an order (F4); none: no reason asked."""
    force_cancel: tuple[str, ...] = ()
    """Reasons for a force cancel (F5); none: no reason asked."""
    bulk_reject: tuple[str, ...] = ()
    """Reasons for a bulk reject; none: no reason asked."""
    mandatory: tuple[OrderAction, ...] = ()
    """Order actions that must name one of their reasons (``cancel``, ``force_cancel``,
    ``bulk_reject``): an entry without one is refused."""

    @field_validator("cancel_line", "reduce_line", "cancel", "force_cancel", "bulk_reject")
    @classmethod
    def _codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        for code in codes:
            check_code(code)
        return codes

    @model_validator(mode="after")
    def _lists(self) -> SiteReasons:
        for name, codes in (
            ("reject", [r.code for r in self.reject]),
            ("cancel_line", list(self.cancel_line)),
            ("reduce_line", list(self.reduce_line)),
        ):
            if not 1 <= len(codes) <= 9:
                raise ValueError(f"{name}: list 1 to 9 reasons, not {len(codes)}")
            if len(set(codes)) != len(codes):
                raise ValueError(f"{name}: a reason code is listed twice")
        for action in ORDER_ACTIONS:
            offered = self.order_codes(action)
            if len(offered) > 9 or len(set(offered)) != len(offered):
                raise ValueError(f"{action}: list at most 9 reasons, each once")
            if action in self.mandatory and not offered:
                raise ValueError(f"{action}: a mandatory reason needs a list of reasons")
        return self

    def order_codes(self, action: OrderAction) -> tuple[str, ...]:
        """The codes offered for a whole-order action (cancel, force cancel, bulk reject)."""
        return {
            "cancel": self.cancel, "force_cancel": self.force_cancel,
            "bulk_reject": self.bulk_reject,
        }[action]

    def check_order_reason(self, action: OrderAction, code: str | None) -> None:
        """Refuse a missing mandatory reason, or a code the site does not list for ``action``.

        Raises:
            UnknownReason: the reason is missing (mandatory) or not listed.
        """
        words = action.replace("_", " ")
        if code is None:
            if action in self.mandatory:
                raise UnknownReason(f"A reason is required for a {words} at this site.")
            return
        if code not in self.order_codes(action):
            raise UnknownReason(f"Reason {code} is not a reason for a {words} at this site.")

    def reject_effect(self, code: str) -> ReasonEffect:
        """The stock effect of reject reason ``code``.

        Raises:
            UnknownReason: the site has no reject reason with that code.
        """
        for reason in self.reject:
            if reason.code == code:
                return reason.effect
        raise UnknownReason(f"Reason {code} is not a reject reason at this site.")

    def line_edit_codes(self, cancel: bool) -> tuple[str, ...]:
        """The codes offered for cancelling a line (``cancel``) or reducing one."""
        return self.cancel_line if cancel else self.reduce_line

    def check_line_edit(self, code: str, *, cancel: bool) -> None:
        """Refuse a line-edit reason code the site does not list.

        Raises:
            UnknownReason: not listed for the action.
        """
        if code not in self.line_edit_codes(cancel):
            action = "cancelling a line" if cancel else "reducing a line"
            raise UnknownReason(f"Reason {code} is not a reason for {action} at this site.")


DEFAULT_REASONS = SiteReasons()
