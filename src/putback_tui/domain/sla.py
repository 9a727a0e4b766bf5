"""SLA clocks and the worklist's score, as pure functions (SPEC sections 1.6 and 6).

The terminal's worklist and report (:mod:`putback_tui.worklist`, :mod:`putback_tui.sla`) and
the central store's backlog (:mod:`putback_tui.central.backlog`) read their inputs from
different databases and call these same functions, so an order is overdue, due soon or on time,
and ranks, by one rule wherever it is shown.

Each exception kind has two clocks that start when the order became an exception: time to
first action (the first operator entry on the order; an automatic release is nobody's action)
and time to cleared (its last unit reconciled). A clock stops when what it waits for happens;
the first-action clock also stops when the order is cleared without anyone (nothing picked,
released automatically). An order is *overdue* once a running clock has run out, *due soon*
once a running clock has used ``due_soon_share`` of its time, else *on time*.
"""

from __future__ import annotations

import functools
import math
import statistics
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from putback_tui.domain.models import EXCEPTION_STATUSES
from putback_tui.domain.wording import units as _units

EXCEPTION_KINDS = tuple(s.value for s in sorted(EXCEPTION_STATUSES, key=lambda s: s.value))
"""cancelled, deleted, failed, rejected."""


K = TypeVar("K")

class _Settings(BaseModel):
    # As config.Section (which the domain may not import): immutable, unknown keys an error.
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class SlaClock(_Settings):
    """The service level for one kind of exception."""

    first_action_min: int = Field(default=30, ge=1, le=100_000)
    """Minutes from becoming an exception to the first operator entry on the order."""
    cleared_min: int = Field(default=240, ge=1, le=100_000)
    """Minutes from becoming an exception to its last unit reconciled."""


class SlaSettings(_Settings):
    """Service levels per exception kind (``[sla.cancelled]`` and so on)."""

    cancelled: SlaClock = SlaClock()
    deleted: SlaClock = SlaClock()
    failed: SlaClock = SlaClock()
    rejected: SlaClock = SlaClock()
    line_cancelled: SlaClock = SlaClock()
    """A live order whose line was cancelled (F6) with picked units on it: the clocks run
    from the edit to the withdrawn units put back (the edit itself is the first action)."""
    line_reduced: SlaClock = SlaClock()
    """A live order whose line was reduced (F7) below what was picked: as ``line_cancelled``."""
    due_soon_share: float = Field(default=0.8, gt=0, lt=1)
    """Share of a clock's time after which an order is "due soon"."""

    def clock(self, kind: str) -> SlaClock:
        """The clock of a worklist kind: an exception status, or line_cancelled / line_reduced."""
        value = getattr(self, kind, None)
        return value if isinstance(value, SlaClock) else SlaClock()


class PrioritySettings(_Settings):
    """The worklist's score: the sum of these terms, each shown in words in its "why"."""

    overdue_per_min: float = Field(default=2.0, ge=0)
    """Points per minute an order is past its SLA."""
    due_soon: float = Field(default=30.0, ge=0)
    """Points for an order that is due soon."""
    per_unit: float = Field(default=1.0, ge=0)
    """Points per unit waiting to be put back."""
    per_ghost_unit: float = Field(default=5.0, ge=0)
    """Points per waiting unit of a product whose ATP here is 0 (blocking sales now)."""
    predicted_breach: float = Field(default=40.0, ge=0)
    """Points when recent history says the order will not be cleared in time."""
    history_days: int = Field(default=14, ge=1, le=365)
    """Days of cleared orders the prediction learns from."""
    history_min_orders: int = Field(default=5, ge=1, le=10_000)
    """Fewest cleared orders of a kind before a prediction is made."""


class SlaState(StrEnum):
    """Where an order stands against its clocks."""

    ON_TIME = "on_time"
    DUE_SOON = "due_soon"
    OVERDUE = "overdue"


@dataclass(frozen=True)
class Clock:
    """An order's SLA state at a moment, with the deadline that decides it."""

    state: SlaState
    due_at: datetime
    """The running deadline that decides the state (the earliest, among equals)."""
    minutes: int
    """Whole minutes past ``due_at`` (overdue) or left until it (otherwise)."""

    @property
    def text(self) -> str:
        """The state in words: "overdue 12 min", "due in 8 min", "on time"."""
        if self.state is SlaState.OVERDUE:
            return f"overdue {duration(self.minutes)}"
        if self.state is SlaState.DUE_SOON:
            return f"due in {duration(self.minutes)}"
        return "on time"


def duration(minutes: float) -> str:
    """Minutes in words for a narrow column: "8 min", "2 h 05", "3 d 4 h"."""
    m = max(int(minutes), 0)
    if m < 120:
        return f"{m} min"
    if m < 48 * 60:
        return f"{m // 60} h {m % 60:02d}"
    return f"{m // 1440} d {m % 1440 // 60} h"


def minutes_between(start: datetime, end: datetime) -> float:
    """Minutes from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).total_seconds() / 60


def clock(
    settings: SlaSettings,
    kind: str,
    since: datetime,
    now: datetime,
    *,
    first_response: datetime | None = None,
    cleared: datetime | None = None,
) -> Clock:
    """The SLA state of an order of ``kind`` that became an exception at ``since``.

    A cleared order's clocks have stopped: it is on time, due at its cleared deadline.
    """
    sla = settings.clock(kind)
    first_span, cleared_span, first_soon, cleared_soon = _spans(
        sla.first_action_min, sla.cleared_min, settings.due_soon_share
    )
    # (deadline, when it is due soon), for each clock still running.
    running: list[tuple[datetime, datetime]] = []
    if first_response is None and cleared is None:
        due = since + first_span
        running.append((due, due - first_soon))
    if cleared is None:
        due = since + cleared_span
        running.append((due, due - cleared_soon))
    if not running:
        return Clock(SlaState.ON_TIME, since + cleared_span, 0)
    overdue = [due for due, _ in running if now > due]
    if overdue:
        due = min(overdue)
        return Clock(SlaState.OVERDUE, due, math.floor(minutes_between(due, now)))
    soon = [due for due, from_ in running if now >= from_]
    due = min(soon) if soon else min(due for due, _ in running)
    left = math.ceil(minutes_between(now, due))
    return Clock(SlaState.DUE_SOON if soon else SlaState.ON_TIME, due, left)


@functools.lru_cache(maxsize=64)
def _spans(
    first_min: int, cleared_min: int, share: float
) -> tuple[timedelta, timedelta, timedelta, timedelta]:
    """Both clocks' spans, and how long before each deadline an order is due soon."""
    first, cleared = timedelta(minutes=first_min), timedelta(minutes=cleared_min)
    return first, cleared, first * (1 - share), cleared * (1 - share)


def count_states(
    settings: SlaSettings,
    orders: Iterable[tuple[str, datetime, datetime | None]],
    now: datetime,
) -> tuple[int, int]:
    """How many of ``orders`` (kind, since, first response) are overdue, and due soon.

    The same answer as :func:`clock` order by order (see :func:`count_states_by`).
    """
    return count_states_by(settings, {None: orders}, now)[None]


def count_states_by(
    settings: SlaSettings,
    orders: Mapping[K, Iterable[tuple[str, datetime, datetime | None]]],
    now: datetime,
) -> dict[K, tuple[int, int]]:
    """For each group of ``orders`` (a facility's, say): how many are overdue, and due soon.

    The same answer as :func:`clock` order by order, with :func:`clock` asked only O(log n)
    times per kind for all the groups together: for one kind, and a first response given or
    not, an order's state only grows more urgent with its age (both deadlines are ``since``
    plus a fixed span), so the orders of every group, sorted by ``since``, are overdue up to
    one point, due soon up to a later one, and on time after it. Those two points are found
    once, over every group's orders; each group then counts its orders on either side of them.
    The network's backlog counts thousands of orders over a hundred facilities this way.
    """
    by_kind: dict[tuple[str, bool], dict[K, list[datetime]]] = {}
    firsts: dict[tuple[str, bool], datetime | None] = {}
    for group, members in orders.items():
        for kind, since, first in members:
            key = (kind, first is not None)
            by_kind.setdefault(key, {}).setdefault(group, []).append(since)
            firsts.setdefault(key, first)
    counts = {group: [0, 0] for group in orders}
    for key, groups in by_kind.items():
        every = sorted(since for sinces in groups.values() for since in sinces)
        first = firsts[key]

        def state(since: datetime, kind: str = key[0], first: datetime | None = first) -> int:
            found = clock(settings, kind, since, now, first_response=first).state
            return _URGENCY[found]

        # Oldest first: urgency falls from 2 (overdue) through 1 (due soon) to 0 (on time).
        # The last overdue and the last due-soon ``since`` of all the groups (None: none).
        late = _first_below(every, state, 2)
        soon = _first_below(every, state, 1)
        last_late = every[late - 1] if late else None
        last_soon = every[soon - 1] if soon else None
        for group, sinces in groups.items():
            n_late = sum(1 for s in sinces if last_late is not None and s <= last_late)
            n_soon = sum(1 for s in sinces if last_soon is not None and s <= last_soon)
            counts[group][0] += n_late
            counts[group][1] += n_soon - n_late
    return {group: (c[0], c[1]) for group, c in counts.items()}


_URGENCY = {SlaState.OVERDUE: 2, SlaState.DUE_SOON: 1, SlaState.ON_TIME: 0}


def _first_below(
    sinces: Sequence[datetime], urgency: Callable[[datetime], int], level: int
) -> int:
    """The index of the first (oldest-first) ``since`` whose urgency is below ``level``."""
    lo, hi = 0, len(sinces)
    while lo < hi:
        mid = (lo + hi) // 2
        if urgency(sinces[mid]) >= level:
            lo = mid + 1
        else:
            hi = mid
    return lo


_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(2200, 1, 1, tzinfo=UTC)
_TICK = timedelta(microseconds=1)


def state_bounds(
    settings: SlaSettings, kind: str, now: datetime, *, first_response: bool
) -> tuple[datetime | None, datetime | None]:
    """The latest ``since`` at which an order of ``kind`` is overdue, and due soon or overdue.

    At ``now``, to the microsecond; None: at no time from 2000 to 2200. An order's state only
    grows more urgent with its age (see :func:`count_states_by`), so an order of ``kind`` is
    overdue exactly when its ``since`` is at or before the first bound, and due soon when after
    it but at or before the second: whoever holds many orders (the database, for the network's
    backlog) counts them against two instants per kind, and :func:`clock` is asked a few times
    per bound, not once per order. ``first_response``: whether the orders had their first
    response (its time does not matter to the state).

    Each bound is where the clocks' deadlines put it, confirmed by asking :func:`clock` about
    it and the microsecond after; should that ever not hold, it is searched for with
    :func:`clock` alone.
    """
    first = now if first_response else None

    def urgency(since: datetime) -> int:
        return _URGENCY[clock(settings, kind, since, now, first_response=first).state]

    sla = settings.clock(kind)
    first_span, cleared_span, first_soon, cleared_soon = _spans(
        sla.first_action_min, sla.cleared_min, settings.due_soon_share
    )
    running = [(cleared_span, cleared_soon)]
    if not first_response:
        running.append((first_span, first_soon))
    # Overdue: now past a deadline (since + span); due soon: now at or past deadline - soon.
    guesses = (
        now - min(span for span, _ in running) - _TICK,
        max(now - span + soon for span, soon in running),
    )
    bounds: list[datetime | None] = []
    for level, guess in zip((2, 1), guesses, strict=True):
        if _EARLIEST <= guess < _LATEST and urgency(guess) >= level > urgency(guess + _TICK):
            bounds.append(guess)
        else:
            bounds.append(_last_at(urgency, level))
    return bounds[0], bounds[1]


def _last_at(urgency: Callable[[datetime], int], level: int) -> datetime | None:
    """The latest ``since`` from 2000 to 2200 whose urgency is ``level`` or more (None: none)."""
    lo, hi = 0, (_LATEST - _EARLIEST) // _TICK
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if urgency(_EARLIEST + mid * _TICK) >= level:
            lo = mid
        else:
            hi = mid - 1
    found = _EARLIEST + lo * _TICK
    return found if urgency(found) >= level else None


def breached(
    settings: SlaSettings,
    kind: str,
    since: datetime,
    now: datetime,
    *,
    first_response: datetime | None,
    cleared: datetime | None,
) -> bool:
    """True when either clock ran out before what it waited for (or before ``now``)."""
    sla = settings.clock(kind)
    first_at = min((t for t in (first_response, cleared) if t is not None), default=now)
    if minutes_between(since, first_at) > sla.first_action_min:
        return True
    return minutes_between(since, cleared or now) > sla.cleared_min


def median_p90(values: Sequence[float]) -> tuple[float | None, float | None]:
    """Median and 90th percentile of minutes, rounded to 0.1; None, None for none.

    The 90th percentile is the value at index round(0.9 (n - 1)) of the sorted list.
    """
    if not values:
        return None, None
    ordered = sorted(values)
    p90 = ordered[min(round(0.9 * (len(ordered) - 1)), len(ordered) - 1)]
    return round(statistics.median(ordered), 1), round(p90, 1)


@dataclass(frozen=True)
class Score:
    """A waiting order's SLA clock and rank, with the terms that make the rank."""

    clock: Clock
    score: float
    why: list[str]
    """The terms that scored, largest first, each in words with its points."""
    why_short: list[str]
    """The same terms in a few words each, points first."""


def _points(value: float) -> str:
    return f"+{value:g}" if value == int(value) else f"+{value:.1f}"


def score_order(
    sla: SlaSettings,
    priority: PrioritySettings,
    *,
    kind: str,
    since: datetime,
    now: datetime,
    first_response: datetime | None,
    units: Mapping[str, int],
    atp: Mapping[str, int],
    typical: float | None,
) -> Score:
    """The score of a waiting order: the sum of the ``[priority]`` terms that apply.

    Args:
        sla: the SLA clocks.
        priority: the terms' weights.
        kind: cancelled, deleted, failed or rejected.
        since: when the order became an exception.
        now: the moment the clock is read at.
        first_response: the first operator entry on the order since then, if any.
        units: units waiting to be put back, by SKU.
        atp: the facility's ATP of each of those SKUs (missing: 0).
        typical: the usual minutes from first action to cleared of this kind here (None: too
            few cleared orders to tell).
    """
    c = clock(sla, kind, since, now, first_response=first_response)
    terms: list[tuple[float, str, str]] = []
    if c.state is SlaState.OVERDUE:
        terms.append((priority.overdue_per_min * c.minutes, c.text, "overdue"))
    elif c.state is SlaState.DUE_SOON:
        terms.append((priority.due_soon, c.text, "due soon"))
    total = sum(units.values())
    terms.append(
        (priority.per_unit * total, f"{_units(total)} to put back", f"for {_units(total)}")
    )
    ghost_skus = [sku for sku in sorted(units) if atp.get(sku, 0) == 0]
    if ghost_skus:
        ghost = sum(units[sku] for sku in ghost_skus)
        terms.append(
            (
                priority.per_ghost_unit * ghost,
                f"{_units(ghost)} of {', '.join(ghost_skus)}, ATP 0 here",
                f"ATP 0: {', '.join(ghost_skus)}",
            )
        )
    if typical is not None and c.state is not SlaState.OVERDUE:
        cleared_due = since + timedelta(minutes=sla.clock(kind).cleared_min)
        left = minutes_between(now, cleared_due)
        needed = typical - (minutes_between(first_response, now) if first_response else 0)
        if needed > left:
            terms.append(
                (
                    priority.predicted_breach,
                    f"usually takes {duration(typical)} here, {duration(left)} left",
                    f"usually {duration(typical)}",
                )
            )
    scored = sorted((t for t in terms if t[0] > 0), key=lambda t: -t[0])
    return Score(
        clock=c,
        score=round(sum(p for p, _, _ in scored), 1),
        why=[f"{text} ({_points(p)})" for p, text, _ in scored],
        why_short=[f"{_points(p)} {short}" for p, _, short in scored],
    )
