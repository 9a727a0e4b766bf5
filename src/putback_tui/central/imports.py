"""Upstream input for the central store: a data-set directory of CSV files, or one JSON file."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from putback_tui.central.storage import CentralStore
from putback_tui.dataset import (
    Dataset,
    DatasetError,
    known_operators,
    read_json,
    unique_by,
    unique_locations,
    unique_orders,
    unique_products,
)
from putback_tui.domain.bounds import Code, Figure
from putback_tui.domain.models import Frozen, Location, Operator, Order, Permission, Product
from putback_tui.domain.permissions import DEFAULT_ROLES
from putback_tui.domain.reasons import SiteReasons

T = TypeVar("T")


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
    roles: dict[str, tuple[Permission, ...]] | None = None
    """The role -> permissions map every terminal and the central store judge by; replaces
    the whole map. Left out: unchanged (the built-in defaults until a map is imported)."""
    reasons: SiteReasons | None = None
    """The site's reason lists (``reject`` with each reason's stock effect, ``cancel_line``,
    ``reduce_line``); replace the whole lists. Left out: unchanged (the built-in defaults)."""


def import_path(
    store: CentralStore,
    path: Path,
    *,
    roles: Iterable[str] = DEFAULT_ROLES,
    as_of: datetime | None = None,
) -> dict[str, int]:
    """Load a data-set directory (see ``data/demo``) or a JSON document into the store.

    Every row is read and checked (the same checks for both formats, see ``dataset``) before
    anything is written, and everything lands in one transaction: a refused file imports nothing.

    Args:
        store: the central store.
        path: a data-set directory or a JSON document.
        roles: the roles an operator may have.
        as_of: a data-set directory's times moved so that its ``as_of`` is this moment.

    Returns:
        How many of each kind were loaded.

    Raises:
        DatasetError: a missing file or a bad row, named with its file, line (or list index) and
            field.
    """
    if path.is_dir():
        data = Dataset(path, roles=frozenset(roles), as_of=as_of)
        # Read every file first so a bad row late in one file aborts before writing anything.
        return store.import_data(
            products=list(data.products()),
            locations=list(data.locations()),
            operators=list(data.operators()),
            orders=list(data.orders()),
            stock=list(data.stock()),
            atp=list(data.atp()),
        )
    if as_of is not None:
        raise DatasetError(f"{path}: --as-of moves the times of a data-set directory only")
    raw = read_json(path)
    try:
        doc = ImportDocument.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in first["loc"])
        raise DatasetError(f"{path}: {where.lstrip('.')}: {first['msg']}") from exc

    def placed(kind: str, items: Sequence[T]) -> list[tuple[str, T]]:
        return [(f"{path}: {kind}[{i}]", item) for i, item in enumerate(items)]

    products = [p for _, p in unique_products(placed("products", doc.products))]
    locations = [loc for _, loc in unique_locations(placed("locations", doc.locations))]
    # An imported role map names the roles operators may have, with the command line's.
    known = {*roles, *(doc.roles or {})}
    operators = [o for _, o in known_operators(placed("operators", doc.operators), known)]
    orders = [o for _, o in unique_orders(placed("orders", doc.orders))]
    stock = [
        (r.facility, r.sku, r.location, r.qoh)
        for _, r in unique_by(
            placed("stock", doc.stock), "location", lambda r: (r.facility, r.sku, r.location)
        )
    ]
    atp = [
        (r.facility, r.sku, r.atp)
        for _, r in unique_by(placed("atp", doc.atp), "sku", lambda r: (r.facility, r.sku))
    ]
    return store.import_data(
        products=products,
        locations=locations,
        operators=operators,
        orders=orders,
        stock=stock,
        atp=atp,
        roles=doc.roles,
        reasons=doc.reasons,
    )

