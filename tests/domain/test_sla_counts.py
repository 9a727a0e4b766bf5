"""count_states answers what clock() says order by order, for any mix of orders and settings."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from putback_tui.domain.sla import (
    EXCEPTION_KINDS,
    SlaClock,
    SlaSettings,
    SlaState,
    clock,
    count_states,
    count_states_by,
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
