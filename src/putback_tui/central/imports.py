"""Upstream input for the central store: a data-set directory of CSV files, or one JSON file."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from putback_tui.central.storage import CentralStore
from putback_tui.dataset import Dataset, DatasetError
from putback_tui.domain.bounds import Code, Figure
from putback_tui.domain.models import Frozen, Location, Operator, Order, Product


class StockRow(Frozen):
    """QOH of a product at a location of a facility."""

    facility: Code
    sku: Code
    location: Code
    qoh: Figure


class AtpRow(Frozen):
    """ATP of a product at a facility."""

    facility: Code
    sku: Code
    atp: Figure


class ImportDocument(Frozen):
    """The JSON import format: every list optional, each item as the domain models it."""

    products: tuple[Product, ...] = ()
    locations: tuple[Location, ...] = ()
    operators: tuple[Operator, ...] = ()
    orders: tuple[Order, ...] = ()
    stock: tuple[StockRow, ...] = ()
    atp: tuple[AtpRow, ...] = ()


def import_path(store: CentralStore, path: Path) -> dict[str, int]:
    """Load a data-set directory (see ``data/demo``) or a JSON document into the store.

    Everything of one import lands in one transaction: a bad row leaves the store unchanged.

    Returns:
        How many of each kind were loaded.

    Raises:
        DatasetError: a missing file or a bad row, named with its file (and line).
    """
    if path.is_dir():
        data = Dataset(path)
        # Read every file first so a bad row late in one file aborts before writing anything.
        return store.import_data(
            products=list(data.products()),
            locations=list(data.locations()),
            operators=list(data.operators()),
            orders=list(data.orders()),
            stock=list(data.stock()),
            atp=list(data.atp()),
        )
    try:
        doc = ImportDocument.model_validate_json(path.read_bytes())
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: missing") from exc
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise DatasetError(f"{path}: {where}: {first['msg']}") from exc
    return store.import_data(
        products=doc.products,
        locations=doc.locations,
        operators=doc.operators,
        orders=doc.orders,
        stock=[(r.facility, r.sku, r.location, r.qoh) for r in doc.stock],
        atp=[(r.facility, r.sku, r.atp) for r in doc.atp],
    )
