"""Data sets on disk (``data/demo``, generated large sets): CSV files read as a stream of models.

A data set is a directory holding ``dataset.json`` (name, facility, terminal) and the CSV files
``products``, ``locations``, ``operators``, ``orders``, ``order_lines`` (sorted by order),
``stock`` and ``atp``. Both the terminal (``putback init``) and the central store's import read
it through this module, and every bad row is reported as ``file:line: what is wrong``.
"""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from pydantic import ValidationError

from putback_tui.barcodes import normalise_gtin
from putback_tui.domain.models import (
    Frozen,
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
)
from putback_tui.ledger import Ledger
from putback_tui.ledger.releases import release_all_known

T = TypeVar("T")

DEMO_DIR = Path(__file__).resolve().parents[2] / "data" / "demo"
"""The bundled demo data set (in a source checkout)."""


class DatasetError(Exception):
    """A data set file is missing or has a bad row; the message names file and line."""


class DatasetInfo(Frozen):
    """``dataset.json``: what the data set is and which terminal it sets up."""

    name: str
    facility: str
    """The facility a terminal initialised from this set belongs to."""
    terminal: str
    description: str = ""


@dataclass(frozen=True)
class Dataset:
    """A data set directory, read lazily file by file."""

    root: Path

    @property
    def info(self) -> DatasetInfo:
        """The manifest.

        Raises:
            DatasetError: missing or invalid ``dataset.json``.
        """
        path = self.root / "dataset.json"
        try:
            return DatasetInfo.model_validate_json(path.read_bytes())
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: missing; is {self.root} a putback data set?") from exc
        except (ValidationError, json.JSONDecodeError) as exc:
            raise DatasetError(f"{path}: {exc}") from exc

    def _rows(self, name: str, make: Callable[[dict[str, str]], T]) -> Iterator[T]:
        path = self.root / f"{name}.csv"
        try:
            f = path.open(newline="", encoding="utf-8")
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: missing") from exc
        with f:
            reader = csv.DictReader(f)
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except UnicodeDecodeError as exc:
                    raise DatasetError(
                        f"{path}:{reader.line_num + 1}: not UTF-8 text ({exc.reason})"
                    ) from exc
                except csv.Error as exc:
                    raise DatasetError(f"{path}:{reader.line_num}: {exc}") from exc
                try:
                    yield make(row)
                except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
                    # KeyError: a missing column; TypeError/AttributeError: a short row (None).
                    raise DatasetError(f"{path}:{reader.line_num}: {_short(exc)}") from exc

    def products(self) -> Iterator[Product]:
        """Products with their barcodes normalised to GTIN-14."""
        return self._rows(
            "products",
            lambda r: Product(
                sku=r["sku"],
                description=r["description"],
                gtins=tuple(normalise_gtin(code) for code in r["barcodes"].split()),
                lot_tracked=_bool(r["lot_tracked"]),
                home_location=r["home_location"] or None,
            ),
        )

    def locations(self) -> Iterator[Location]:
        """Every location of every facility."""
        return self._rows(
            "locations",
            lambda r: Location(
                code=r["code"],
                facility=r["facility"],
                kind=LocationKind(r["kind"]),
                barcode=r["barcode"],
            ),
        )

    def operators(self) -> Iterator[Operator]:
        """Every operator."""
        return self._rows(
            "operators", lambda r: Operator(badge=r["badge"], name=r["name"], role=r["role"])
        )

    def orders(self) -> Iterator[Order]:
        """Orders with their lines; ``order_lines.csv`` must be grouped by order."""
        headers = dict(self._rows("orders", lambda r: (_column(r, "order_id"), r)))
        lines = self._rows(
            "order_lines",
            lambda r: (
                r["order_id"],
                OrderLine(
                    line_no=int(r["line_no"]),
                    sku=r["sku"],
                    quantity=int(r["quantity"]),
                    picked=int(r["picked"]),
                    pick_location=r["pick_location"] or None,
                    lot=r["lot"] or None,
                ),
            ),
        )
        seen: set[str] = set()
        for order_id, group in itertools.groupby(lines, key=lambda pair: pair[0]):
            if order_id in seen:
                raise DatasetError(
                    f"{self.root / 'order_lines.csv'}: lines of {order_id} are not together; "
                    "sort the file by order_id"
                )
            seen.add(order_id)
            head = headers.get(order_id)
            if head is None:
                raise DatasetError(
                    f"{self.root / 'order_lines.csv'}: order {order_id} is not in orders.csv"
                )
            try:
                yield Order(
                    order_id=order_id,
                    facility=head["facility"],
                    status=OrderStatus(head["status"]),
                    has_label=_bool(head["has_label"]),
                    status_changed_at=_timestamp(head["status_changed_at"]),
                    lines=tuple(line for _, line in group),
                )
            except (ValidationError, ValueError, KeyError, TypeError, AttributeError) as exc:
                raise DatasetError(
                    f"{self.root / 'orders.csv'}: {order_id}: {_short(exc)}"
                ) from exc

    def stock(self) -> Iterator[tuple[str, str, str, int]]:
        """QOH rows: (facility, sku, location, qoh)."""
        return self._rows(
            "stock", lambda r: (r["facility"], r["sku"], r["location"], _count(r["qoh"]))
        )

    def atp(self) -> Iterator[tuple[str, str, int]]:
        """ATP rows: (facility, sku, atp)."""
        return self._rows("atp", lambda r: (r["facility"], r["sku"], _count(r["atp"])))


def _bool(text: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise ValueError(f"expected 0 or 1, not {text!r}")


def _timestamp(text: str) -> datetime | None:
    if not text:
        return None
    value = datetime.fromisoformat(text)
    if value.tzinfo is None:
        raise ValueError(f"timestamp {text!r} has no timezone (add +00:00)")
    return value


def _count(text: str) -> int:
    value = int(text)
    if value < 0:
        raise ValueError(f"stock cannot be negative ({value})")
    return value


def _column(row: dict[str, str], name: str) -> str:
    value = row[name]
    if value is None:
        raise ValueError(f"no {name} on this row")
    return value


def _short(exc: Exception) -> str:
    if isinstance(exc, KeyError):
        return f"missing column {exc.args[0]!r}"
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)


def load_dataset(
    ledger: Ledger, dataset: Dataset, facility: str, *, release_as: str | None = None
) -> dict[str, int]:
    """Load a data set's reference data and the facility's stock into a new ledger.

    With ``release_as`` (this terminal's ID), loading counts as learning of the data set's
    exception orders: their unpicked units are released at once, in the same transaction, by
    automatic entries of that terminal (counted as ``released orders``).

    Raises:
        DatasetError: a bad file or row. LedgerError: the ledger already has entries.
    """
    with ledger.write() as tx:
        counts = {
            "products": tx.upsert_products(dataset.products()),
            "locations": tx.upsert_locations(dataset.locations()),
            "operators": tx.upsert_operators(dataset.operators()),
            "orders": tx.upsert_orders(o for o in dataset.orders() if o.facility == facility),
        }
        tx.set_baseline(
            ((sku, loc, qoh) for fac, sku, loc, qoh in dataset.stock() if fac == facility),
            ((sku, atp) for fac, sku, atp in dataset.atp() if fac == facility),
        )
        tx.set_meta("facility", facility)
        tx.set_meta("dataset", dataset.info.name)
        if release_as is not None:
            made = release_all_known(tx, terminal=release_as, facility=facility)
            counts["released orders"] = len(made)
    return counts
