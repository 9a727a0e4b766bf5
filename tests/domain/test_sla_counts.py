"""count_states and state_bounds answer what clock() says order by order, for any mix of orders
and settings.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from putback_tui.domain.sla import (
    _URGENCY,
    EXCEPTION_KINDS,
    SlaClock,
    SlaSettings,
    SlaState,
    _last_at,
    clock,
    count_states,
    count_states_by,
    state_bounds,
)

NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)

orders = st.lists(
    st.tuples(
        st.sampled_from(EXCEPTION_KINDS),
        st.integers(min_value=0, max_value=2000).map(lambda m: NOW - timedelta(minutes=m)),
        st.one_of(
            st.none(),
            st.integers(min_value=0, max_value=600).map(lambda m: NOW - timedelta(minutes=m)),
        ),
    ),
    max_size=60,
)
clocks = st.builds(
    SlaClock,
    first_action_min=st.integers(min_value=1, max_value=300),
    cleared_min=st.integers(min_value=1, max_value=1500),
)
sla_settings = st.builds(
    SlaSettings,
    cancelled=clocks,
    failed=clocks,
    due_soon_share=st.floats(min_value=0.05, max_value=0.95),
)


@given(orders=orders, sla=sla_settings)
@settings(max_examples=300, deadline=None)
def test_counts_are_clock_order_by_order(
    orders: list[tuple[str, datetime, datetime | None]], sla: SlaSettings
) -> None:
    states = [clock(sla, kind, since, NOW, first_response=first).state
              for kind, since, first in orders]
    assert count_states(sla, orders, NOW) == (
        states.count(SlaState.OVERDUE),
        states.count(SlaState.DUE_SOON),
    )


@given(groups=st.lists(orders, max_size=6), sla=sla_settings)
@settings(max_examples=200, deadline=None)
def test_counts_by_group_are_clock_order_by_order(
    groups: list[list[tuple[str, datetime, datetime | None]]], sla: SlaSettings
) -> None:
    """The network's backlog counts every facility at once: each facility's counts are still
    what clock() says of its own orders.
    """
    expected = {}
    for i, members in enumerate(groups):
        states = [clock(sla, kind, since, NOW, first_response=first).state
                  for kind, since, first in members]
        expected[i] = (states.count(SlaState.OVERDUE), states.count(SlaState.DUE_SOON))
    assert count_states_by(sla, dict(enumerate(groups)), NOW) == expected


TICK = timedelta(microseconds=1)


@given(
    sla=sla_settings,
    kind=st.sampled_from(EXCEPTION_KINDS),
    answered=st.booleans(),
    now=st.integers(min_value=-10**12, max_value=10**12).map(lambda us: NOW + us * TICK),
    ages=st.lists(st.integers(min_value=-10**10, max_value=10**11), max_size=30),
)
@settings(max_examples=300, deadline=None)
def test_state_bounds_split_orders_as_clock_does(
    sla: SlaSettings, kind: str, answered: bool, now: datetime, ages: list[int]
) -> None:
    """An order is overdue exactly when its since is at or before the first bound, due soon when
    after it and at or before the second, to the microsecond, with or without a first response.
    """
    late, soon = state_bounds(sla, kind, now, first_response=answered)
    assert late is not None
    assert soon is not None
    first = now if answered else None
    # Either side of each bound, and random ages (microseconds before now).
    sinces = [late, late + TICK, soon, soon + TICK, *(now - age * TICK for age in ages)]
    for since in sinces:
        state = clock(sla, kind, since, now, first_response=first).state
        expected = (SlaState.OVERDUE if since <= late
                    else SlaState.DUE_SOON if since <= soon else SlaState.ON_TIME)
        assert state is expected, (since, late, soon)


def test_the_search_by_clock_alone_finds_the_same_bounds() -> None:
    """The fallback, should the deadlines ever not place a bound, agrees with them."""
    sla = SlaSettings(cancelled=SlaClock(first_action_min=7, cleared_min=50), due_soon_share=0.3)
    for answered in (False, True):
        first = NOW if answered else None

        def urgency(since: datetime, first: datetime | None = first) -> int:
            return _URGENCY[clock(sla, "cancelled", since, NOW, first_response=first).state]

        assert state_bounds(sla, "cancelled", NOW, first_response=answered) == (
            _last_at(urgency, 2), _last_at(urgency, 1)
        )
