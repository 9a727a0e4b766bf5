"""The ledger's row codec: how an entry and its parts are written to and read from SQLite.

The one place that knows the ``entries`` table's columns; the store and the sync bookkeeping both
read entries through it.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from pydantic import BaseModel, TypeAdapter

from putback_tui.domain.entries import Entry, EntryDetails, EntryKind
from putback_tui.domain.models import LineChange, StockChange

T = TypeVar("T")

ENTRY_FIELDS = (
    "seq",
    "entry_id",
    "created_at",
    "terminal",
    "facility",
    "operator",
    "kind",
    "order_id",
    "details",
    "changes",
    "line_changes",
)
"""The columns :func:`entry_from_row` reads, in its order."""


def entry_columns(alias: str = "") -> str:
    """The select list for :func:`entry_from_row`, each column qualified by ``alias`` if given."""
    prefix = f"{alias}." if alias else ""
    return ", ".join(prefix + name for name in ENTRY_FIELDS)


ENTRY_COLUMNS = entry_columns()
"""The select list for :func:`entry_from_row` (unqualified)."""

ENTRY_JSON = (
    "json_object('seq', seq, 'entry_id', entry_id, 'created_at', created_at, "
    "'terminal', terminal, 'facility', facility, 'operator', operator, 'kind', kind, "
    "'order_id', order_id, 'details', json(details), 'changes', json(changes), "
    "'line_changes', json(line_changes))"
)
"""One entry row as the JSON of an :class:`Entry` (the columns hold its parts as JSON)."""

INDEXED_KINDS = (
    EntryKind.REJECT,
    EntryKind.RESOLVE,
    EntryKind.CANCEL_LINE,
    EntryKind.REDUCE_LINE,
)
"""The kinds of entry the ``entries_by_kind`` index holds (ledger migration m006): those the
reports, the worklist and the refused-entry screens look up by kind. A put-back, a release, an
undo... are not in it, so they write one page less."""

KIND_INDEXED = f"kind IN ({', '.join(repr(k.value) for k in INDEXED_KINDS)})"
"""The partial index's condition, as SQL: a query that looks entries up by kind adds it to its
``WHERE`` (SQLite uses a partial index only when the query's own terms include its condition;
a bound parameter is not enough)."""

ENTRY_LIST = TypeAdapter(list[Entry])
"""Parses a JSON array of :data:`ENTRY_JSON` values into entries, in one call."""


def parse_ts(value: str | None) -> datetime | None:
    """A stored ISO timestamp, or None for NULL / empty."""
    return datetime.fromisoformat(value) if value else None


def chunks(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """``items`` in lists of at most ``size`` (bulk inserts bounded in memory)."""
    it = iter(items)
    while chunk := list(itertools.islice(it, size)):
        yield chunk


def dump_changes(items: tuple[StockChange, ...] | tuple[LineChange, ...]) -> str:
    """Stock or line changes as the compact JSON stored in an entry row.

    The text of ``json.dumps([i.model_dump(exclude_defaults=True) for i in items],
    separators=(",", ":"))`` (tests/ledger checks it on random changes). Pydantic's own
    serializer writes the same text in one call, but writes a character past ASCII as itself
    where ``json.dumps`` escapes it (and DEL too): a text with one goes through ``json.dumps``.
    """
    if not items:
        return "[]"
    text = _CHANGES_JSON[type(items[0])](items, exclude_defaults=True)
    if text.isascii() and b"\x7f" not in text:
        return text.decode()
    return json.dumps([i.model_dump(exclude_defaults=True) for i in items], separators=(",", ":"))


_CHANGES_JSON: dict[type[BaseModel], Callable[..., bytes]] = {
    model: TypeAdapter(tuple[model, ...]).serializer.to_json  # type: ignore[valid-type]
    for model in (StockChange, LineChange)
}
"""Each kind of change's serializer of a tuple of them."""


def dump_details(details: EntryDetails) -> str:
    """An entry's details as the compact JSON stored in its row: the fields set off their defaults.

    ``details.model_dump_json(exclude_defaults=True)``: the same serializer, called without the
    model method's Python wrapper (which hands its fifteen options on at every call).
    """
    return _DETAILS_JSON(details, exclude_defaults=True).decode()


_DETAILS_JSON = EntryDetails.__pydantic_serializer__.to_json


def entry_from_row(row: tuple[Any, ...]) -> Entry:
    """The entry from a row selected with :data:`ENTRY_COLUMNS` (extra columns after it ignored)."""
    return Entry(
        seq=row[0],
        entry_id=row[1],
        created_at=datetime.fromisoformat(row[2]),
        terminal=row[3],
        facility=row[4],
        operator=row[5],
        kind=EntryKind(row[6]),
        order_id=row[7],
        details=EntryDetails.model_validate_json(row[8]),
        changes=tuple(StockChange(**c) for c in json.loads(row[9])),
        line_changes=tuple(LineChange(**c) for c in json.loads(row[10])),
    )
