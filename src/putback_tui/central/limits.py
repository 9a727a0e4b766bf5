"""The central store's own limits on what it accepts, beyond the bounds every model carries.

The models (``domain/bounds.py``) refuse what no site should ever see: a quantity over 10,000,
a time outside 2000-2200. A site narrows two of them here, against its own clock and policy:
the most units one entry may be about, and how far an entry's time may lie from the server's
clock. ``central serve`` reads them from its options or the environment (``PUTBACK_CENTRAL_*``)
and an entry outside them is answered 422 naming the field: nothing of its batch is applied.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from putback_tui.domain.bounds import MAX_QUANTITY
from putback_tui.domain.entries import Entry, EntryKind

MAX_QUANTITY_ENV = "PUTBACK_CENTRAL_MAX_QUANTITY"
MAX_AHEAD_ENV = "PUTBACK_CENTRAL_MAX_AHEAD_S"
MAX_AGE_ENV = "PUTBACK_CENTRAL_MAX_AGE_DAYS"

QUANTITY_KINDS = frozenset({EntryKind.PUT_BACK, EntryKind.REJECT, EntryKind.MOVE_OUT})
"""Kinds whose ``details.quantity`` is units an operator acted on (the others carry a total)."""

ErrorList = list[dict[str, Any]]


@dataclass(frozen=True)
class CentralLimits:
    """What this central store accepts.

    Attributes:
        max_quantity: the most units one put-back, rejection or move may be about (1 to 10,000).
        max_ahead: how far ahead of the server's clock an entry's or a status's time may be.
        max_age: how far behind it (a terminal offline for long sends old entries).
    """

    max_quantity: int = MAX_QUANTITY
    max_ahead: timedelta = timedelta(hours=24)
    max_age: timedelta = timedelta(days=366)

    def __post_init__(self) -> None:
        if not 1 <= self.max_quantity <= MAX_QUANTITY:
            raise ValueError(f"max_quantity must be from 1 to {MAX_QUANTITY:,}")
        if self.max_ahead < timedelta(0) or self.max_age < timedelta(0):
            raise ValueError("max_ahead and max_age cannot be negative")

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> CentralLimits:
        """The limits named by ``PUTBACK_CENTRAL_MAX_*`` in ``env``, defaults for the rest.

        Raises:
            ValueError: a value is not a number or out of range.
        """
        default = cls()
        return cls(
            max_quantity=int(env.get(MAX_QUANTITY_ENV, default.max_quantity)),
            max_ahead=timedelta(
                seconds=float(env.get(MAX_AHEAD_ENV, default.max_ahead.total_seconds()))
            ),
            max_age=timedelta(days=float(env.get(MAX_AGE_ENV, default.max_age.days))),
        )

    def environment(self) -> dict[str, str]:
        """These limits as the environment :meth:`from_environment` reads."""
        return {
            MAX_QUANTITY_ENV: str(self.max_quantity),
            MAX_AHEAD_ENV: str(self.max_ahead.total_seconds()),
            MAX_AGE_ENV: str(self.max_age.total_seconds() / 86400),
        }

    def window(self, now: datetime) -> tuple[datetime, datetime]:
        """The earliest and the latest time accepted at ``now`` (both accepted)."""
        return now - self.max_age, now + self.max_ahead

    def time_error(self, value: datetime, now: datetime) -> str | None:
        """Why ``value`` is outside the window around ``now`` (:meth:`window`), or None."""
        earliest, latest = self.window(now)
        if value > latest:
            return (
                f"more than {_span(self.max_ahead)} ahead of the central store's clock "
                f"({now:%Y-%m-%d %H:%M:%S} UTC): check the sender's clock"
            )
        if value < earliest:
            return f"more than {_span(self.max_age)} before the central store's clock"
        return None

    def entry_errors(self, entries: Sequence[Entry], now: datetime) -> ErrorList:
        """Validation errors (FastAPI's shape) for entries outside these limits, by field."""
        errors: ErrorList = []
        for i, entry in enumerate(entries):
            why = self.time_error(entry.created_at, now)
            if why is not None:
                errors.append(_error(("body", "entries", i, "created_at"), why,
                                     entry.created_at.isoformat()))
            quantity = entry.details.quantity
            if entry.kind in QUANTITY_KINDS and quantity is not None and not (
                1 <= quantity <= self.max_quantity
            ):
                errors.append(_error(
                    ("body", "entries", i, "details", "quantity"),
                    f"a {entry.kind.value} is about 1 to {self.max_quantity:,} units",
                    quantity,
                ))
        return errors


def _error(loc: tuple[str | int, ...], msg: str, value: Any) -> dict[str, Any]:
    return {"type": "value_error", "loc": loc, "msg": msg, "input": value}


def _span(span: timedelta) -> str:
    if span >= timedelta(days=2):
        return f"{span.total_seconds() / 86400:g} days"
    return f"{span.total_seconds() / 3600:g} hours"
