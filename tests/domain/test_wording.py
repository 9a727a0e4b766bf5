from datetime import UTC, datetime, timedelta

from putback_tui.domain.wording import agree, entries, lines, orders, plural, units, waited


def test_one_is_singular_every_other_count_plural() -> None:
    assert [units(n) for n in (0, 1, 2)] == ["0 units", "1 unit", "2 units"]
    assert lines(1) == "1 line"
    assert plural(3, "box", "boxes") == "3 boxes"


def test_orders_and_how_long_units_waited() -> None:
    assert [orders(n) for n in (0, 1, 4)] == ["0 orders", "1 order", "4 orders"]
    now = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)
    assert waited(None, now) == "—"
    assert waited(now - timedelta(minutes=7), now) == "7 min"
    assert waited(now - timedelta(hours=2, minutes=5), now) == "2 h 05 min"
    assert waited(now - timedelta(days=1, hours=3), now) == "1 d 3 h"
    assert waited(now + timedelta(minutes=5), now) == "0 min"  # a clock ahead is not negative


def test_entries_and_the_verb_that_agrees_with_a_count() -> None:
    assert [entries(n) for n in (0, 1, 2)] == ["0 entries", "1 entry", "2 entries"]
    assert [f"{units(n)} {agree(n, 'is', 'are')}" for n in (1, 2)] == ["1 unit is", "2 units are"]
