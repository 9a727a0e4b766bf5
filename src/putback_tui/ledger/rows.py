"""The ledger's row codec: how an entry and its parts are written to and read from SQLite.

The one place that knows the ``entries`` table's columns; the store and the sync bookkeeping both
read entries through it.
"""

from __future__ import annotations

import functools
import itertools
import json
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Any, TypeVar

from pydantic import TypeAdapter

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


def dump_changes(items: Iterable[StockChange] | Iterable[LineChange]) -> str:
    """Stock or line changes as the compact JSON stored in an entry row.

    The same text as ``json.dumps([i.model_dump(exclude_defaults=True) for i in items],
    separators=(",", ":"))`` (tests/ledger checks it on random changes), written field by field:
    a put-back's two lists in a fifth of the time. A value of another type than ``str`` or
    ``int`` (none today) goes through ``json.dumps``.
    """
    parts = []
    for item in items:
        values = item.__dict__
        fields = []
        for name, default in _defaults(type(item)):
            value = values[name]
            if value == default:
                continue
            kind = type(value)
            if kind is str:
                text = _json_str(value)
            elif kind is int:
                text = int.__repr__(value)
            else:
                text = json.dumps(item.model_dump(exclude_defaults=True)[name])
            fields.append(f'"{name}":{text}')
        parts.append("{" + ",".join(fields) + "}")
    return "[" + ",".join(parts) + "]"


_json_str: Callable[[str], str] = json.encoder.encode_basestring_ascii
"""How ``json.dumps`` writes a string (ASCII, escaped): the C encoder it uses itself."""

_NO_DEFAULT = object()


@functools.cache
def _defaults(model: type[StockChange] | type[LineChange]) -> tuple[tuple[str, Any], ...]:
    """Each field of ``model`` in order, with its default (a sentinel for a required field)."""
    return tuple(
        (name, _NO_DEFAULT if field.is_required() else field.default)
        for name, field in model.model_fields.items()
    )


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
