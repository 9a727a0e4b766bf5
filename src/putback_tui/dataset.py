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
import math
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, TypeVar

from pydantic import ValidationError

from putback_tui import packaged
from putback_tui.barcodes import normalise_gtin, shown
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
from putback_tui.domain.permissions import DEFAULT_ROLES

T = TypeVar("T")
E = TypeVar("E", bound=Enum)

DEMO_DIR = packaged.DEMO_DIR
"""The bundled demo data set (inside the package: see ``putback_tui.packaged``)."""


MAX_COUNT = 1_000_000_000
"""Largest quantity, stock figure or line number a data set may hold: far above any real shelf,
and within a 32-bit integer column of either database engine."""

_FORBIDDEN_CHARACTERS = frozenset(chr(c) for c in (*range(0x00, 0x09), 0x0B, 0x0C,
                                                    *range(0x0E, 0x20), *range(0x7F, 0xA0)))
"""Control characters (tab and line breaks aside): NUL cannot be stored in PostgreSQL text, and
the others are never part of a product, location or operator name."""


class DatasetError(Exception):
    """A data set file is missing or has a bad row; the message names file, line and field."""


class DatasetInfo(Frozen):
    """``dataset.json``: what the data set is and which terminal it sets up."""

    name: str
    facility: str
    """The facility a terminal initialised from this set belongs to."""
    terminal: str
    description: str = ""
    as_of: datetime | None = None
    """The moment the data set describes (its order times are as seen then). Loading it with
    ``--as-of`` moves every order time by the same amount, so that this moment becomes the one
    given: the demo's exceptions are then as old at any date as they were on this one."""


_COLUMNS = {
    "products": ("sku", "description", "barcodes", "lot_tracked", "home_location"),
    "locations": ("code", "facility", "kind", "barcode"),
    "operators": ("badge", "name", "role"),
    "orders": ("order_id", "facility", "status", "has_label", "status_changed_at"),
    "order_lines": ("order_id", "line_no", "sku", "quantity", "picked", "pick_location", "lot"),
    "stock": ("facility", "sku", "location", "qoh"),
    "atp": ("facility", "sku", "atp"),
}
"""The columns each CSV file must have (in any order; more are ignored)."""

Where = str
"""Where an item came from, for messages: ``file:line`` (CSV) or ``file: list[index]`` (JSON)."""


@dataclass(frozen=True)
class Dataset:
    """A data set directory, read lazily file by file.

    Every row is checked as it is read; a bad one raises :class:`DatasetError` naming the file,
    the line and the field, so a caller that writes in one transaction imports nothing of it.
    """

    root: Path
    roles: frozenset[str] = frozenset(DEFAULT_ROLES)
    """The roles an operator row may have (the terminal's configured ``[roles]``)."""
    as_of: datetime | None = None
    """Read the data set as if its ``as_of`` moment were this one (see ``DatasetInfo.as_of``)."""

    @property
    def shift(self) -> timedelta:
        """How far every order time moves (``as_of`` minus the data set's own; zero without).

        Raises:
            DatasetError: ``as_of`` was given but the data set names no moment of its own.
        """
        if self.as_of is None:
            return timedelta(0)
        own = self.info.as_of
        if own is None:
            raise DatasetError(
                f"{self.root / 'dataset.json'}: no as_of, so its times cannot be moved "
                "(leave out --as-of)"
            )
        return self.as_of - own

    @property
    def info(self) -> DatasetInfo:
        """The manifest.

        Raises:
            DatasetError: missing or invalid ``dataset.json``.
        """
        path = self.root / "dataset.json"
        if not path.exists():
            raise DatasetError(f"{path}: missing; is {self.root} a putback data set?")
        try:
            return DatasetInfo.model_validate(read_json(path))
        except ValidationError as exc:
            raise DatasetError(f"{path}: {_short(exc)}") from exc

    def _rows(self, name: str, make: Callable[[dict[str, str]], T]) -> Iterator[tuple[Where, T]]:
        path = self.root / f"{name}.csv"
        try:
            # utf-8-sig: a byte-order mark (Excel writes one) is not part of the first column.
            f = path.open(newline="", encoding="utf-8-sig")
        except FileNotFoundError as exc:
            raise DatasetError(f"{path}: missing") from exc
        except OSError as exc:
            raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
        with f:
            reader = csv.DictReader(f)
            try:
                header = reader.fieldnames or []
            except (UnicodeDecodeError, csv.Error) as exc:
                raise DatasetError(f"{path}:1: not a CSV header line ({_short(exc)})") from exc
            missing = [c for c in _COLUMNS[name] if c not in header]
            if missing:
                raise DatasetError(
                    f"{path}:1: missing column {missing[0]!r}; the header must name "
                    + ", ".join(_COLUMNS[name])
                )
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
                where = f"{path}:{reader.line_num}"
                for column in _COLUMNS[name]:
                    value = row[column]
                    if value is None:
                        raise DatasetError(
                            f"{where}: {column}: the row ends early (fewer fields than the header)"
                        )
                    _check_text(value, f"{where}: {column}")
                try:
                    yield where, make(row)
                except (ValidationError, ValueError) as exc:
                    raise DatasetError(f"{where}: {_short(exc)}") from exc

    def products(self) -> Iterator[Product]:
        """Products with their barcodes normalised to GTIN-14."""
        return _items(unique_products(self._rows(
            "products",
            lambda r: Product(
                sku=r["sku"],
                description=r["description"],
                gtins=tuple(_gtin(code) for code in r["barcodes"].split()),
                lot_tracked=_bool(r["lot_tracked"], "lot_tracked"),
                home_location=r["home_location"] or None,
            ),
        )))

    def locations(self) -> Iterator[Location]:
        """Every location of every facility."""
        return _items(unique_locations(self._rows(
            "locations",
            lambda r: Location(
                code=r["code"],
                facility=r["facility"],
                kind=_choice(LocationKind, r["kind"], "kind"),
                barcode=r["barcode"],
            ),
        )))

    def operators(self) -> Iterator[Operator]:
        """Every operator; each role must be one of :attr:`roles`."""
        return _items(known_operators(self._rows(
            "operators", lambda r: Operator(badge=r["badge"], name=r["name"], role=r["role"])
        ), self.roles))

    def orders(self) -> Iterator[Order]:
        """Orders with their lines; ``order_lines.csv`` must be grouped by order."""
        shift = self.shift
        headers = dict(
            (row["order_id"], (where, row))
            for where, row in unique_by(
                self._rows("orders", dict), "order_id", lambda r: r["order_id"]
            )
        )
        lines = self._rows(
            "order_lines",
            lambda r: (
                r["order_id"],
                OrderLine(
                    line_no=_int(r["line_no"], "line_no", low=1),
                    sku=r["sku"],
                    quantity=_int(r["quantity"], "quantity"),
                    picked=_int(r["picked"], "picked"),
                    pick_location=r["pick_location"] or None,
                    lot=r["lot"] or None,
                ),
            ),
        )
        seen: set[str] = set()
        for order_id, group in itertools.groupby(lines, key=lambda pair: pair[1][0]):
            numbered = [(where, line) for where, (_, line) in group]
            first_where = numbered[0][0]
            if order_id in seen:
                raise DatasetError(
                    f"{first_where}: order_id: lines of {order_id} are not together; "
                    "sort the file by order_id"
                )
            seen.add(order_id)
            head = headers.get(order_id)
            if head is None:
                raise DatasetError(
                    f"{first_where}: order_id: order {order_id} is not in orders.csv"
                )
            where, row = head
            order_lines = tuple(
                line for _, line in unique_by(numbered, "line_no", lambda ln: ln.line_no)
            )
            try:
                yield Order(
                    order_id=order_id,
                    facility=row["facility"],
                    status=_choice(OrderStatus, row["status"], "status"),
                    has_label=_bool(row["has_label"], "has_label"),
                    status_changed_at=_moved(
                        _timestamp(row["status_changed_at"], "status_changed_at"), shift
                    ),
                    lines=order_lines,
                )
            except (ValidationError, ValueError) as exc:
                raise DatasetError(f"{where}: {_short(exc)}") from exc

    def stock(self) -> Iterator[tuple[str, str, str, int]]:
        """QOH rows: (facility, sku, location, qoh)."""
        return _items(unique_by(
            self._rows(
                "stock", lambda r: (r["facility"], r["sku"], r["location"], _int(r["qoh"], "qoh"))
            ),
            "location",
            lambda row: row[:3],
        ))

    def atp(self) -> Iterator[tuple[str, str, int]]:
        """ATP rows: (facility, sku, atp)."""
        return _items(unique_by(
            self._rows("atp", lambda r: (r["facility"], r["sku"], _int(r["atp"], "atp"))),
            "sku",
            lambda row: row[:2],
        ))


# -- checks shared by the CSV and the JSON formats -----------------------------------------------


def _items(rows: Iterable[tuple[Where, T]]) -> Iterator[T]:
    return (item for _, item in rows)


def unique_by(
    rows: Iterable[tuple[Where, T]], field: str, key: Callable[[T], Hashable]
) -> Iterator[tuple[Where, T]]:
    """Pass the rows on; raise at the first whose key was seen before, naming both places."""
    first: dict[Hashable, Where] = {}
    for where, item in rows:
        k = key(item)
        if k in first:
            name = " ".join(str(part) for part in k) if isinstance(k, tuple) else k
            raise DatasetError(
                f"{where}: {field}: {name} appears a second time (first at {first[k]}); "
                "each may appear once, so remove or merge one of them"
            )
        first[k] = where
        yield where, item


def unique_products(rows: Iterable[tuple[Where, Product]]) -> Iterator[tuple[Where, Product]]:
    """Products with unique SKUs, and no barcode on two products.

    Raises:
        DatasetError: a repeated SKU, or a GTIN already given to another SKU.
    """
    owner: dict[str, tuple[Where, str]] = {}
    for where, product in unique_by(rows, "sku", lambda p: p.sku):
        for gtin in product.gtins:
            other = owner.setdefault(gtin, (where, product.sku))
            if other[1] != product.sku:
                raise DatasetError(
                    f"{where}: barcodes: {gtin} is also a barcode of {other[1]} ({other[0]}); "
                    "a barcode must name one product, so correct one of the two"
                )
        yield where, product


def unique_locations(rows: Iterable[tuple[Where, Location]]) -> Iterator[tuple[Where, Location]]:
    """Locations with unique codes and unique label barcodes.

    Raises:
        DatasetError: a code or a barcode given twice.
    """
    by_code = unique_by(rows, "code", lambda loc: loc.code)
    return unique_by(by_code, "barcode", lambda loc: loc.barcode)


def known_operators(
    rows: Iterable[tuple[Where, Operator]], roles: Iterable[str]
) -> Iterator[tuple[Where, Operator]]:
    """Operators with unique badges and a role the terminal knows.

    Raises:
        DatasetError: a badge given twice, or an unknown role.
    """
    known = sorted(set(roles))
    for where, operator in unique_by(rows, "badge", lambda o: o.badge):
        if operator.role not in known:
            raise DatasetError(
                f"{where}: role: {operator.role!r} is not a role here (known: "
                f"{', '.join(known)}); correct the row, or define the role under [roles] in the "
                "configuration"
            )
        yield where, operator


def unique_orders(rows: Iterable[tuple[Where, Order]]) -> Iterator[tuple[Where, Order]]:
    """Orders given once each, with line numbers unique within each order (JSON documents).

    Raises:
        DatasetError: an order ID or a line number (in one order) given twice.
    """
    for where, order in unique_by(rows, "order_id", lambda o: o.order_id):
        lines = ((f"{where}.lines[{i}]", line) for i, line in enumerate(order.lines))
        for _ in unique_by(lines, "line_no", lambda ln: ln.line_no):
            pass
        yield where, order


def read_json(path: Path) -> Any:
    """A JSON file, strictly: what a import may not silently get wrong is an error.

    A byte-order mark is accepted; duplicate keys, ``NaN``/``Infinity``, numbers beyond
    :data:`MAX_COUNT`, and control characters (NUL included) in strings are refused.

    Raises:
        DatasetError: missing or unreadable file, or any of the above, with where it is.
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        raise DatasetError(f"{path}: missing") from exc
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read: {exc.strerror or exc}") from exc
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    try:
        data = json.loads(
            text, object_pairs_hook=_no_duplicate_keys, parse_constant=_no_constant
        )
    except json.JSONDecodeError as exc:
        raise DatasetError(f"{path}:{exc.lineno}: not valid JSON: {exc.msg}") from exc
    except _JsonProblem as exc:
        raise DatasetError(f"{path}: {exc}") from exc
    except ValueError as exc:  # an integer of thousands of digits
        raise DatasetError(f"{path}: a number too large ({exc})") from exc
    except RecursionError as exc:
        raise DatasetError(f"{path}: lists or objects nested too deeply") from exc
    _check_values(data, str(path), "")
    return data


class _JsonProblem(ValueError):
    pass


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _JsonProblem(f"the key {key!r} appears twice in one object; keep one")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise _JsonProblem(f"{name} is not a number putback accepts")


def _check_values(value: Any, path: str, where: str) -> None:
    """Every number within bounds and every string free of control characters, or raise."""
    stack = [(where, value)]
    while stack:
        at, item = stack.pop()
        if isinstance(item, dict):
            stack.extend((f"{at}.{k}" if at else k, v) for k, v in item.items())
        elif isinstance(item, list):
            stack.extend((f"{at}[{i}]", v) for i, v in enumerate(item))
        elif isinstance(item, str):
            _check_text(item, f"{path}: {at or '(top)'}")
        elif isinstance(item, bool) or item is None:
            continue
        elif isinstance(item, int) and abs(item) > MAX_COUNT:
            raise DatasetError(f"{path}: {at}: {item} is too large (at most {MAX_COUNT:,})")
        elif isinstance(item, float) and not math.isfinite(item):
            raise DatasetError(f"{path}: {at}: {item} is not a number putback accepts")


def _check_text(value: str, where: str) -> None:
    bad = next((c for c in value if c in _FORBIDDEN_CHARACTERS), None)
    if bad is not None:
        name = "a NUL character" if bad == "\x00" else f"the control character U+{ord(bad):04X}"
        raise DatasetError(f"{where}: contains {name}; remove it")


# -- field parsers: each message names its field -------------------------------------------------


def _gtin(code: str) -> str:
    try:
        return normalise_gtin(code)
    except ValueError as exc:
        raise ValueError(f"barcodes: {exc}") from exc


def _choice(kind: type[E], text: str, field: str) -> E:
    try:
        return kind(text)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in kind)
        raise ValueError(f"{field}: {text!r} is not one of {allowed}") from None


def _bool(text: str, field: str) -> bool:
    value = text.strip().lower()
    if value in ("1", "true", "yes"):
        return True
    if value in ("0", "false", "no", ""):
        return False
    raise ValueError(f"{field}: expected 0 or 1, not {text!r}")


def _timestamp(text: str, field: str) -> datetime | None:
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(
            f"{field}: {text!r} is not a timestamp like 2026-11-20T08:15:00+00:00"
        ) from None
    if value.tzinfo is None:
        raise ValueError(f"{field}: timestamp {text!r} has no timezone (add +00:00)")
    return value


def _moved(at: datetime | None, shift: timedelta) -> datetime | None:
    return None if at is None else at + shift


def parse_as_of(text: str, now: datetime) -> datetime:
    """The moment ``--as-of`` names: ``now`` (to the minute) or a timestamp with its timezone.

    Raises:
        ValueError: neither, worded for the command line.
    """
    if text.strip().lower() == "now":
        return now.replace(second=0, microsecond=0)
    moment = _timestamp(text.strip(), "--as-of")
    if moment is None:
        raise ValueError("--as-of: give 'now' or a timestamp like 2026-11-20T13:40:00+00:00")
    return moment


def _int(text: str, field: str, *, low: int = 0) -> int:
    digits = text.strip()
    if not digits:
        raise ValueError(f"{field}: empty; give a whole number")
    if not digits.lstrip("+-").isascii() or not digits.lstrip("+-").isdigit():
        raise ValueError(f"{field}: {shown(text, 40)!r} is not a whole number")
    if len(digits.lstrip("+-0")) > len(str(MAX_COUNT)):
        raise ValueError(f"{field}: {shown(text, 40)} is too large (at most {MAX_COUNT:,})")
    value = int(digits)
    if value < low:
        what = "negative" if value < 0 else f"below {low}"
        raise ValueError(f"{field}: {value} cannot be {what}")
    if value > MAX_COUNT:
        raise ValueError(f"{field}: {value} is too large (at most {MAX_COUNT:,})")
    return value


def _short(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        return f"{where}: {first['msg']}" if where else str(first["msg"])
    return str(exc)
