from putback_tui.domain.wording import lines, plural, units


def test_one_is_singular_every_other_count_plural() -> None:
    assert [units(n) for n in (0, 1, 2)] == ["0 units", "1 unit", "2 units"]
    assert lines(1) == "1 line"
    assert plural(3, "box", "boxes") == "3 boxes"
