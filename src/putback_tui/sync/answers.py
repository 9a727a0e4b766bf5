"""The central store's answer to a batch when every entry was applied, read without models.

Nearly every answer a draining terminal reads says the same thing for each of its entries:
applied (or a duplicate of an entry applied before). Reading that into a
:class:`~putback_tui.wire.BatchResult` built a frozen model per entry (a fifth of the
terminal's own work per entry, and most of the objects the garbage collector then walked),
only for the sync worker to learn "all applied". :func:`applied_ids` reads that one answer with
msgspec's compiled validator instead, into structs the garbage collector does not track.

It reads a strict **subset** of what the wire models accept: every field of every result in
one of the two plain shapes that mean "applied, nothing more to know" (no reason, not
retryable, no derived effects; or a release the central store found released already: its
reason, and no effects), each value of a type and within the bounds the models check, read alike by
both libraries (no lax ``1.0`` for an int, no ``"true"`` for a bool). Anything else (a refusal,
effects the central store derived itself, a value out of bounds, another protocol version, a
field the models would refuse) answers None, and the caller reads the answer with the wire
models, which word every error as they always did. ``tests/sync/test_answers.py`` holds the
two readings to each other.
"""

# No "from __future__ import annotations": msgspec reads the structs' annotations at run time.

from typing import Annotated, Any, Literal

import msgspec
from msgspec import Meta, Struct

from putback_tui.domain.bounds import MAX_SEQ
from putback_tui.wire import ResultCode

# An entry ID as terminals make them (a UUID's text): a subset of the models' EntryId (36
# characters, no control character); any other ID goes to the models.
_EntryId = Annotated[str, Meta(pattern=r"\A[0-9A-Za-z-]{36}\Z")]
_Seq = Annotated[int, Meta(ge=1, le=MAX_SEQ)]
_Nothing = Annotated[tuple[Any, ...], Meta(max_length=0)]
"""Effects that are none: an empty list."""


class _Applied(Struct, frozen=True, gc=False):
    """An :class:`~putback_tui.wire.EntryResult` of an entry applied (see :func:`applied_ids`)."""

    entry_id: _EntryId
    seq: _Seq
    outcome: Literal["applied", "duplicate"]
    recorded_as: Literal["applied"] | None = None
    reason: str | None = None
    retryable: bool = False
    code: ResultCode | None = None
    changes: _Nothing | None = None
    line_changes: _Nothing | None = None


class _AllApplied(Struct, frozen=True, gc=False):
    """A :class:`~putback_tui.wire.BatchResult` whose every result is :class:`_Applied`."""

    results: tuple[_Applied, ...]
    version: Literal[1] = 1


_decode = msgspec.json.Decoder(_AllApplied).decode
_NOTHING_LEFT = ResultCode.ALREADY_RELEASED
"""The one code of an applied entry whose answer carries a reason and (empty) effects."""


def applied_ids(body: bytes) -> tuple[str, ...] | None:
    """The entry IDs of an answer that says every entry was applied, in order; else None.

    "Applied" as the sync worker records it: the outcome ``applied``, or ``duplicate`` of an
    entry recorded as applied, with no reason and nothing to send again; or a release applied
    with nothing left to release (``already_released``: its reason, and no effects).

    Args:
        body: the answer's bytes, as received.

    Returns:
        None for any other answer, or one this reader does not read exactly as the wire models
        do: read it with :class:`~putback_tui.wire.BatchResult`.
    """
    try:
        answer = _decode(body)
    except (msgspec.ValidationError, msgspec.DecodeError):
        return None
    results = answer.results
    for r in results:
        if r.retryable:
            return None
        if (r.reason is not None or r.changes is not None or r.line_changes is not None) and (
            r.code is not _NOTHING_LEFT or r.outcome != "applied"
        ):
            return None  # something more to know (the worker reads it from the models)
    return tuple(r.entry_id for r in results)

