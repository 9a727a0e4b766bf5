"""StockDelta reads a figure only when stopping at zero can matter, and nets out the same.

The reference below is the eager StockDelta it replaced (every figure read before its first
change); random sequences of additions, subtractions and settings over random non-negative
stock must give exactly the same changes, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping

from hypothesis import given
from hypothesis import strategies as st

from putback_tui.domain.models import StockChange
from putback_tui.domain.rules import StockDelta, put_back, release
from tests.domain.conftest import MemoryStock, build_demo


class EagerDelta:
    """The StockDelta before reads were skipped: every figure read at its first change."""

    def __init__(self, stock: MemoryStock) -> None:
        self._stock = stock
        self._qoh: dict[tuple[str, str], tuple[int, int]] = {}
        self._atp: dict[str, tuple[int, int]] = {}

    def add_qoh(self, sku: str, location: str, delta: int) -> None:
        key = (sku, location)
        start, now = self._qoh.get(key) or (self._stock.qoh(sku, location),) * 2
        self._qoh[key] = (start, max(now + delta, 0))

    def set_qoh(self, sku: str, location: str, value: int) -> None:
        key = (sku, location)
        start, _ = self._qoh.get(key) or (self._stock.qoh(sku, location),) * 2
        self._qoh[key] = (start, max(value, 0))

    def add_atp(self, sku: str, delta: int) -> None:
        start, now = self._atp.get(sku) or (self._stock.atp(sku),) * 2
        self._atp[sku] = (start, max(now + delta, 0))

    def set_atp(self, sku: str, value: int) -> None:
        start, _ = self._atp.get(sku) or (self._stock.atp(sku),) * 2
        self._atp[sku] = (start, max(value, 0))

    def changes(self) -> tuple[StockChange, ...]:
        out = [
            StockChange(sku=sku, location=loc, qoh=end - start)
            for (sku, loc), (start, end) in self._qoh.items()
            if end != start
        ]
        out += [
            StockChange(sku=sku, atp=end - start)
            for sku, (start, end) in self._atp.items()
            if end != start
        ]
        return tuple(out)


class CountingStock(MemoryStock):
    """A MemoryStock that counts the figures read from it."""

    reads = 0

    def qoh(self, sku: str, location: str) -> int:
        self.reads += 1
        return super().qoh(sku, location)

    def atp(self, sku: str) -> int:
        self.reads += 1
        return super().atp(sku)

    def qoh_by_location(self, sku: str) -> Mapping[str, int]:
        self.reads += 1
        return super().qoh_by_location(sku)


SKUS = st.sampled_from(["A", "B"])
LOCS = st.sampled_from(["L1", "L2"])
OPS = st.one_of(
    st.tuples(st.just("add_qoh"), SKUS, LOCS, st.integers(-5, 5)),
    st.tuples(st.just("set_qoh"), SKUS, LOCS, st.integers(0, 5)),
    st.tuples(st.just("add_atp"), SKUS, st.integers(-5, 5)),
    st.tuples(st.just("set_atp"), SKUS, st.integers(0, 5)),
)


@given(
    qoh=st.dictionaries(st.tuples(SKUS, LOCS), st.integers(0, 6)),
    atp=st.dictionaries(SKUS, st.integers(0, 6)),
    ops=st.lists(OPS, max_size=8),
)
def test_the_same_changes_as_reading_every_figure_first(
    qoh: dict[tuple[str, str], int], atp: dict[str, int], ops: list[tuple[object, ...]]
) -> None:
    lazy, eager = StockDelta(MemoryStock(dict(qoh), dict(atp))), EagerDelta(
        MemoryStock(dict(qoh), dict(atp))
    )
    for name, *args in ops:
        getattr(lazy, str(name))(*args)
        getattr(eager, str(name))(*args)
    assert lazy.changes() == eager.changes()


def test_a_put_back_and_a_release_read_no_stock() -> None:
    demo = build_demo()
    stock = CountingStock(demo.qoh, demo.atp)
    order = demo.orders["D-1003"]
    draft = release(order, stock)
    assert draft is not None
    assert draft.changes == (StockChange(sku="MUG-WHT", atp=1), StockChange(sku="CAP-RED", atp=1))
    drafted = put_back(
        order, 1, demo.products["MUG-WHT"], demo.locations["A-01-02"], 2, stock
    )
    assert drafted.changes == (
        StockChange(sku="MUG-WHT", location="A-01-02", qoh=2),
        StockChange(sku="MUG-WHT", atp=2),
    )
    assert stock.reads == 0
