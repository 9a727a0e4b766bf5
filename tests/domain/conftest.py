"""The demo data set of the seeds as domain models, and an in-memory stock to run rules against."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

import pytest

from putback_tui.domain.entries import Entry, EntryDraft, new_entry_id
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    StockChange,
)

FACILITY = "STORE-01"
OTHER_FACILITY = "STORE-02"


class MemoryStock:
    """A StockView kept in dicts. ``apply`` adds a draft's changes exactly, with no clamping,
    so a rule that forgets to stop at zero shows up as a negative figure.
    """

    def __init__(self, qoh: Mapping[tuple[str, str], int], atp: Mapping[str, int]) -> None:
        self._qoh = dict(qoh)
        self._atp = dict(atp)

    # StockView
    def qoh(self, sku: str, location: str) -> int:
        return self._qoh.get((sku, location), 0)

    def atp(self, sku: str) -> int:
        return self._atp.get(sku, 0)

    def qoh_by_location(self, sku: str) -> Mapping[str, int]:
        return {loc: n for (s, loc), n in self._qoh.items() if s == sku}

    # Test helpers
    def apply_changes(self, changes: Iterable[StockChange]) -> None:
        for change in changes:
            if change.location is not None:
                key = (change.sku, change.location)
                self._qoh[key] = self._qoh.get(key, 0) + change.qoh
            else:
                self._atp[change.sku] = self._atp.get(change.sku, 0) + change.atp

    def apply(self, draft: EntryDraft | None) -> None:
        """Apply a draft's StockChange list (None, "nothing to do", changes nothing)."""
        if draft is not None:
            self.apply_changes(draft.changes)

    def copy(self) -> MemoryStock:
        return MemoryStock(self._qoh, self._atp)

    def snapshot(self) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """Every figure, with zeros dropped so "never touched" and "back to 0" compare equal."""
        return (
            {k: v for k, v in self._qoh.items() if v},
            {k: v for k, v in self._atp.items() if v},
        )

    def figures(self) -> Iterable[int]:
        yield from self._qoh.values()
        yield from self._atp.values()


def _loc(code: str, kind: LocationKind, facility: str = FACILITY) -> Location:
    return Location(code=code, facility=facility, kind=kind, barcode=f"LOC:{code}")


def _line(
    line_no: int,
    sku: str,
    quantity: int,
    picked: int = 0,
    pick_location: str | None = None,
    lot: str | None = None,
) -> OrderLine:
    return OrderLine(
        line_no=line_no,
        sku=sku,
        quantity=quantity,
        picked=picked,
        pick_location=pick_location,
        lot=lot,
    )


def _order(order_id: str, status: OrderStatus, *lines: OrderLine) -> Order:
    return Order(
        order_id=order_id,
        facility=FACILITY,
        status=status,
        lines=lines,
        status_changed_at=datetime(2026, 11, 20, 9, 0, tzinfo=UTC),
    )


@dataclass(frozen=True)
class Demo:
    """The seeds' demo facility: immutable, so one instance serves the whole session."""

    facility: str = FACILITY
    products: dict[str, Product] = field(default_factory=dict)
    locations: dict[str, Location] = field(default_factory=dict)
    operators: dict[str, Operator] = field(default_factory=dict)
    orders: dict[str, Order] = field(default_factory=dict)
    qoh: dict[tuple[str, str], int] = field(default_factory=dict)
    atp: dict[str, int] = field(default_factory=dict)

    def stock(self) -> MemoryStock:
        return MemoryStock(self.qoh, self.atp)

    @property
    def exception_locations(self) -> list[str]:
        return [c for c, loc in self.locations.items() if loc.kind is LocationKind.EXCEPTION]


def build_demo() -> Demo:
    # (sku, description, location, QOH, ATP, lot-tracked)
    stock_rows = [
        ("TSHIRT-BLK-M", "T-shirt black M", "A-01-01", 10, 6, False),
        ("MUG-WHT", "Mug white", "A-01-02", 5, 3, False),
        ("SOCKS-3PK", "Socks, 3 pack", "A-02-01", 8, 8, False),
        ("CAP-RED", "Cap red", "A-02-02", 3, 2, False),
        ("BOTTLE-1L", "Bottle 1 l", "B-01-01", 4, 4, False),
        ("FIRSTAID-KIT", "First aid kit", "A-03-01", 6, 6, True),
    ]
    products = {
        sku: Product(sku=sku, description=desc, home_location=loc, lot_tracked=lot)
        for sku, desc, loc, _, _, lot in stock_rows
    }
    locations = {
        loc.code: loc
        for loc in [
            *(
                _loc(code, LocationKind.STORAGE)
                for code in ("A-01-01", "A-01-02", "A-02-01", "A-02-02", "A-03-01", "B-01-01")
            ),
            _loc("EX-01", LocationKind.EXCEPTION),
            _loc("PACK-01", LocationKind.PACKING),
            _loc("Z-09-09", LocationKind.STORAGE, OTHER_FACILITY),
        ]
    }
    operators = {
        "OP-0001": Operator(badge="OP-0001", name="Ola Berg", role="operator"),
        "SV-0001": Operator(badge="SV-0001", name="Sam Vik", role="supervisor"),
    }
    orders = {
        o.order_id: o
        for o in [
            _order(
                "D-1001",
                OrderStatus.CANCELLED,
                _line(1, "TSHIRT-BLK-M", 2, pick_location="A-01-01"),
                _line(2, "MUG-WHT", 1, pick_location="A-01-02"),
            ),
            _order(
                "D-1002",
                OrderStatus.CANCELLED,
                _line(1, "TSHIRT-BLK-M", 1, picked=1, pick_location="A-01-01"),
                _line(2, "SOCKS-3PK", 2, picked=2, pick_location="A-02-01"),
            ),
            _order(
                "D-1003",
                OrderStatus.FAILED,
                _line(1, "MUG-WHT", 3, picked=2, pick_location="A-01-02"),
                _line(2, "CAP-RED", 1, pick_location="A-02-02"),
            ),
            _order(
                "D-1004",
                OrderStatus.DELETED,
                _line(1, "BOTTLE-1L", 1, picked=1, pick_location="B-01-01"),
            ),
            _order(
                "D-1005",
                OrderStatus.OPEN,
                _line(1, "TSHIRT-BLK-M", 2, pick_location="A-01-01"),
            ),
            _order("D-1006", OrderStatus.SHIPPED, _line(1, "SOCKS-3PK", 1, picked=1)),
            _order(
                "D-1007",
                OrderStatus.CANCELLED,
                _line(1, "FIRSTAID-KIT", 1, picked=1, pick_location="A-03-01", lot="AB-123"),
            ),
        ]
    }
    return Demo(
        products=products,
        locations=locations,
        operators=operators,
        orders=orders,
        qoh={(sku, loc): q for sku, _, loc, q, _, _ in stock_rows},
        atp={sku: a for sku, _, _, _, a, _ in stock_rows},
    )


_seq = itertools.count(1)


def record(draft: EntryDraft, operator: str = "OP-0001") -> Entry:
    """What the ledger would make of a draft: the same draft, with ID, sequence and audit."""
    return Entry(
        **draft.model_dump(),
        entry_id=new_entry_id(),
        seq=next(_seq),
        terminal="T-01",
        facility=FACILITY,
        operator=operator,
        created_at=datetime.now(UTC),
    )


@pytest.fixture(scope="session")
def demo() -> Demo:
    return build_demo()


@pytest.fixture(scope="session")
def orders(demo: Demo) -> dict[str, Order]:
    return demo.orders


@pytest.fixture(scope="session")
def products(demo: Demo) -> dict[str, Product]:
    return demo.products


@pytest.fixture(scope="session")
def locations(demo: Demo) -> dict[str, Location]:
    return demo.locations


@pytest.fixture(scope="session")
def operators(demo: Demo) -> dict[str, Operator]:
    return demo.operators


@pytest.fixture
def stock(demo: Demo) -> MemoryStock:
    """A fresh copy of the demo stock for each test."""
    return demo.stock()


@pytest.fixture(scope="session")
def to_entry() -> Callable[[EntryDraft], Entry]:
    return record


@pytest.fixture(scope="session")
def stock_of() -> Callable[[Mapping[tuple[str, str], int], Mapping[str, int]], MemoryStock]:
    """Build a MemoryStock from figures of the test's own."""
    return MemoryStock
