"""The bounds every model carries (domain/bounds.py); the rules keep honest entries within them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from pydantic import ValidationError

from putback_tui.domain.bounds import MAX_QUANTITY, MAX_TEXT, check_code_length, clip_text
from putback_tui.domain.entries import Entry, EntryDetails, EntryKind
from putback_tui.domain.errors import InvalidQuantity, WrongLot
from putback_tui.domain.models import Location, LocationKind, OrderLine, Product, StockChange
from putback_tui.domain.rules import check_quantity, put_back, refusal


def _entry(**over: Any) -> dict[str, Any]:
    return {
        "entry_id": "0190a000-0000-7000-8000-000000000001", "seq": 1, "terminal": "PACK-01",
        "facility": "STORE-01", "operator": "SV-0001",
        "created_at": datetime(2026, 1, 1, tzinfo=UTC), "kind": "put_back", **over,
    }


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("entry_id", "0190a000-0000-7000-8000-00000000000\x00"),
        ("order_id", "D-1\x00"),
        ("order_id", "D" * 65),
        ("terminal", "PACK\n01"),
        ("operator", "SV\x1b[2J"),
        ("seq", 0),
        ("seq", 2**53),
        ("seq", float("nan")),
        ("created_at", datetime(1999, 12, 31, tzinfo=UTC)),
        ("created_at", datetime(9999, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-14)))),
        ("created_at", datetime(2026, 1, 1)),  # noqa: DTZ001 - a naive time is refused
    ],
)
def test_an_entry_field_out_of_bounds_is_refused(field: str, value: Any) -> None:
    with pytest.raises(ValidationError) as caught:
        Entry.model_validate(_entry(**{field: value}))
    assert caught.value.errors()[0]["loc"] == (field,)


@pytest.mark.parametrize(
    ("model", "fields"),
    [
        (StockChange, {"sku": "X", "qoh": 10**9 + 1}),
        (StockChange, {"sku": "X", "atp": -(10**9) - 1}),
        (StockChange, {"sku": "X\x00"}),
        (OrderLine, {"line_no": 1, "sku": "X", "quantity": 2**63 - 1, "picked": 0}),
        (Product, {"sku": "X", "description": "d" * (MAX_TEXT + 1)}),
        (Product, {"sku": "X", "description": "nul\x00"}),
        (Location, {"code": "A\x00", "facility": "F", "kind": LocationKind.STORAGE,
                    "barcode": "LOC:A"}),
        (EntryDetails, {"note": "n" * (MAX_TEXT + 1)}),
        (EntryDetails, {"quantity": 10**9 + 1}),
    ],
)
def test_model_fields_out_of_bounds_are_refused(model: type[Any], fields: dict[str, Any]) -> None:
    with pytest.raises(ValidationError):
        model(**fields)


def test_free_text_keeps_tabs_and_newlines_and_codes_keep_every_printable_character() -> None:
    assert EntryDetails(note="line one\n\tline two").note == "line one\n\tline two"
    assert StockChange(sku="ÜBER-ÄRMEL 42 / rot", location="A-01-01").sku == "ÜBER-ÄRMEL 42 / rot"


def test_a_quantity_over_the_maximum_is_refused_with_the_rule_that_refuses_zero() -> None:
    check_quantity(MAX_QUANTITY)
    with pytest.raises(InvalidQuantity, match="at most 10,000, not 10,001"):
        check_quantity(MAX_QUANTITY + 1)


def test_a_refusal_naming_a_long_operator_name_stays_within_bounds() -> None:
    draft = refusal("force cancel", "force_cancel", "N" * 5000 + " may not force cancel", "D-1")
    assert draft.details.message is not None
    assert len(draft.details.message) == MAX_TEXT
    assert draft.details.message.endswith("…")
    Entry.model_validate({**_entry(kind=EntryKind.REFUSAL), **draft.model_dump()})
    assert clip_text("short") == "short"


def test_csv_ids_are_held_to_the_bounds_of_an_id() -> None:
    assert check_code_length("A-01-01") == "A-01-01"
    with pytest.raises(ValueError, match="over 64"):
        check_code_length("A" * 65)
    with pytest.raises(ValueError, match="U\\+0000"):
        check_code_length("A\x00")


def test_a_typed_lot_too_long_for_an_entry_is_refused_by_the_put_back_rule(
    demo: Any, orders: Any, stock: Any
) -> None:
    order = orders["D-1007"]  # a lot-tracked line; here its picked lot is unknown
    line = order.lines[0]
    order = order.model_copy(update={"lines": (line.model_copy(update={"lot": None}),)})
    product, location = demo.products[line.sku], demo.locations["A-01-01"]
    with pytest.raises(WrongLot, match="over 64"):
        put_back(order, line.line_no, product, location, 1, stock, lot="L" * 65)
    with pytest.raises(WrongLot, match="U\\+001B"):
        put_back(order, line.line_no, product, location, 1, stock, lot="AB\x1b[2J")
    draft = put_back(order, line.line_no, product, location, 1, stock, lot="L" * 64)
    assert draft.details.lot == "L" * 64


def test_a_terminal_id_its_entries_could_not_carry_is_refused_in_the_settings() -> None:
    from putback_tui.config import TerminalSettings

    with pytest.raises(ValidationError):
        TerminalSettings(id="P" * 65)
    with pytest.raises(ValidationError):
        TerminalSettings(facility="STORE\x00")
    assert TerminalSettings(id="P" * 64).id == "P" * 64
