"""The batch body of ``POST /v1/entries`` read by a compiled validator: the ingest hot path.

A batch is thousands of entries, and validating them with pydantic cost about as much as the
database work of applying them. :func:`decode_batch` reads the body with msgspec instead, into
structs that mirror :class:`~putback_tui.domain.entries.Entry` field for field, and builds the
entries from them without validating them again.

It accepts a strict **subset** of what the pydantic models accept: every bound of
:mod:`putback_tui.domain.bounds` is a msgspec constraint here too, and where the two libraries
read a value differently (timestamps, lax numbers such as ``1.0`` for an int, ``"1"``, ``"yes"``
for a bool) the value must have the one plain shape both read the same way. Anything else gives
None, and the caller validates the body with the pydantic models as before: so every refusal
is still worded by pydantic, every 422 answer is what it was, and a body the fast path cannot
read is still accepted if the models accept it. ``tests/central/test_batch_decoder.py`` holds
the two to that, value by value. The pydantic models stay the contract (and the published
OpenAPI document); this module is only a faster way to the same entries.
"""

# No "from __future__ import annotations": msgspec reads the structs' annotations at runtime,
# and they name the string types _decoder() is given.

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Raw, Struct
from msgspec.structs import asdict
from pydantic import BaseModel

from putback_tui.domain.bounds import (
    EARLIEST,
    LATEST,
    MAX_CODE,
    MAX_FIGURE,
    MAX_LINE_NO,
    MAX_SEQ,
    MAX_TEXT,
)
from putback_tui.domain.entries import Entry, EntryDetails, EntryKind
from putback_tui.domain.models import LineChange, OrderStatus, RejectReason, StockChange
from putback_tui.wire import MAX_BATCH_ENTRIES

_Figure = Annotated[int, Meta(ge=0, le=MAX_FIGURE)]
_Delta = Annotated[int, Meta(ge=-MAX_FIGURE, le=MAX_FIGURE)]
_LineNo = Annotated[int, Meta(ge=0, le=MAX_LINE_NO)]
_Seq = Annotated[int, Meta(ge=1, le=MAX_SEQ)]
# One shape of timestamp, which pydantic and datetime.fromisoformat read alike: date, "T",
# time to the second with up to six decimals, and "Z" or an offset. Others go to pydantic.
_TIMESTAMP = re.compile(
    r"\d{4}-(?:0[1-9]|1[0-2])-(?:0[1-9]|[12]\d|3[01])T(?:[01]\d|2[0-3]):[0-5]\d:[0-5]\d"
    r"(?:\.\d{1,6})?(?:Z|[+-](?:[01]\d|2[0-3]):[0-5]\d)"
)


def _may_hold_controls(json: bytes) -> bool:
    """False when no string in ``json`` can hold a control character.

    JSON has none unescaped below U+0020 (msgspec refuses them raw), so only an escape (a
    backslash), DEL (0x7f) or U+0080-U+009F (0xc2 0x80-0x9f in UTF-8) can bring one in.
    Three scans for one byte each: far cheaper than a regular expression over the text.
    """
    return b"\\" in json or b"\x7f" in json or b"\xc2" in json


def _decoder(code: Any, text: Any, uuid: Any) -> msgspec.json.Decoder[Any]:
    """A decoder of one entry whose strings are of the types given (see :data:`_decoders`)."""

    class _StockChange(Struct, forbid_unknown_fields=True):
        sku: code
        location: code | None = None
        qoh: _Delta = 0
        atp: _Delta = 0

    class _LineChange(Struct, forbid_unknown_fields=True):
        order_id: code
        line_no: _LineNo
        released: _Delta = 0
        rejected: _Delta = 0
        put_back: _Delta = 0
        withdrawn: _Delta = 0

    class _Details(Struct, forbid_unknown_fields=True):
        sku: code | None = None
        quantity: _Figure | None = None
        location: code | None = None
        from_location: code | None = None
        lot: code | None = None
        reason: RejectReason | None = None
        reroute: bool = False
        order_status: OrderStatus | None = None
        undoes: code | None = None
        permission: code | None = None
        message: text | None = None
        resolves: code | None = None
        note: text | None = None
        line_no: _LineNo | None = None
        from_quantity: _Figure | None = None
        reason_code: code | None = None

    class _Entry(Struct, forbid_unknown_fields=True):
        kind: EntryKind
        entry_id: uuid
        seq: _Seq
        terminal: code
        facility: code
        operator: code
        created_at: str
        order_id: code | None = None
        details: _Details | msgspec.UnsetType = msgspec.UNSET
        changes: tuple[_StockChange, ...] = ()
        line_changes: tuple[_LineChange, ...] = ()

    return msgspec.json.Decoder(_Entry)


# The patterns of bounds.CODE_PATTERN and TEXT_PATTERN, anchored with \A and \Z: msgspec runs
# Python's re, where "$" would also match before a final newline (pydantic's regex does not).
# A pattern costs ten times the decoding of its string, so an entry whose JSON cannot hold a
# control character (_MAY_HOLD_CONTROLS) is read by a decoder with the lengths alone.
_CODE = r"\A[^\x00-\x1f\x7f-\x9f]*\Z"
_checked_decoder = _decoder(
    Annotated[str, Meta(max_length=MAX_CODE, pattern=_CODE)],
    Annotated[str, Meta(max_length=MAX_TEXT, pattern=r"\A[^\x00-\x08\x0b-\x1f\x7f-\x9f]*\Z")],
    Annotated[str, Meta(min_length=36, max_length=36, pattern=_CODE)],
)
_plain_decoder = _decoder(
    Annotated[str, Meta(max_length=MAX_CODE)],
    Annotated[str, Meta(max_length=MAX_TEXT)],
    Annotated[str, Meta(min_length=36, max_length=36)],
)


class _Batch(Struct, forbid_unknown_fields=True):
    entries: Annotated[list[Raw], Meta(min_length=1, max_length=MAX_BATCH_ENTRIES)]
    version: Literal[1] = 1


_batch_decoder = msgspec.json.Decoder(_Batch)


@dataclass(frozen=True)
class ReceivedBatch:
    """A validated batch of entries, with each entry's JSON as the terminal sent it, if known."""

    entries: tuple[Entry, ...]
    bodies: tuple[str, ...] | None
    """Each entry's JSON text exactly as received and validated into ``entries`` (the central
    store keeps it as the entry's body); None when the body was validated as a whole."""


class _NotPlain(Exception):
    """A value the fast path leaves to pydantic (see the module)."""


def decode_batch(body: bytes | str) -> ReceivedBatch | None:
    """The batch in ``body`` with each entry's JSON as received; None: leave it to pydantic.

    None for anything the fast path does not read (see the module), valid or not: the caller
    then validates the whole body with :class:`~putback_tui.wire.EntryBatch`, which accepts
    or refuses it with pydantic's own words. A body read here is exactly what that validation
    would give.
    """
    try:
        data = body.encode("utf-8") if isinstance(body, str) else body
        raws = [bytes(raw) for raw in _batch_decoder.decode(data).entries]
        if _may_hold_controls(data):
            structs = [
                (_checked_decoder if _may_hold_controls(raw) else _plain_decoder).decode(raw)
                for raw in raws
            ]
        else:
            structs = [_plain_decoder.decode(raw) for raw in raws]
        entries = tuple(_entry(e) for e in structs)
    except (msgspec.ValidationError, msgspec.DecodeError, _NotPlain):
        return None
    return ReceivedBatch(entries, tuple(raw.decode("utf-8") for raw in raws))


_DEFAULT_DETAILS = EntryDetails()


_SLOTS = BaseModel.__dict__
_set_dict = _SLOTS["__dict__"].__set__
_set_fields_set = _SLOTS["__pydantic_fields_set__"].__set__
_set_extra = _SLOTS["__pydantic_extra__"].__set__
_set_private = _SLOTS["__pydantic_private__"].__set__


def _built(cls: type[Any], fields: dict[str, Any]) -> Any:
    """A model of ``cls`` holding ``fields`` (every field, each already checked).

    What validation leaves behind, without validating again: the four slots pydantic's own
    ``model_construct`` and ``__copy__`` fill, filled through their descriptors (half the time
    of ``object.__setattr__``, a fifth of ``model_construct``; the batch builds five models an
    entry). Only for the frozen, extra="forbid" models of an entry, with no private attributes.
    """
    model = object.__new__(cls)
    _set_dict(model, fields)
    _set_fields_set(model, set(fields))
    _set_extra(model, None)
    _set_private(model, None)
    return model


def _entry(e: Any) -> Entry:
    if _TIMESTAMP.fullmatch(e.created_at) is None:
        raise _NotPlain
    created_at = datetime.fromisoformat(e.created_at)
    if not EARLIEST <= created_at < LATEST:
        raise _NotPlain
    d = e.details
    # The structs' fields are the models' fields, by name and in order (the test checks).
    details = _DEFAULT_DETAILS if d is msgspec.UNSET else _built(EntryDetails, asdict(d))
    changes = []
    for c in e.changes:
        # StockChange's own rule: QOH at a location, or ATP, never both.
        if (c.location is not None and c.atp) or (c.location is None and c.qoh):
            raise _NotPlain
        changes.append(_built(StockChange, asdict(c)))
    line_changes = tuple(_built(LineChange, asdict(c)) for c in e.line_changes)
    entry: Entry = _built(Entry, {
        "kind": e.kind, "order_id": e.order_id, "details": details,
        "changes": tuple(changes), "line_changes": line_changes,
        "entry_id": e.entry_id, "seq": e.seq, "terminal": e.terminal,
        "facility": e.facility, "operator": e.operator, "created_at": created_at,
    })
    return entry
