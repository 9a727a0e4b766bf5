"""Bounds on every field that crosses a boundary: one place for the terminal, import and central.

Each bound is an ``Annotated`` type the models put on their fields, so a value out of bounds is
refused wherever a model is validated: a terminal's ledger, a data set or import document, a
batch or a page of the sync protocol. The figures are chosen so that every integer stays far
from what a database stores (SQLite and PostgreSQL ``bigint`` end at 2**63 - 1: sums of bounded
figures cannot get there), every text fits a database text column (no NUL), and no timestamp
overflows when it is converted to UTC.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Annotated

from pydantic import AwareDatetime, Field, StringConstraints

MAX_QUANTITY = 10_000
"""The most units one entry may be about (a put-back, a rejection, a move...)."""
MAX_FIGURE = 10**9
"""The largest stock figure, stock change or line counter: QOH, ATP, quantities on a line."""
MAX_SEQ = 2**53 - 1
"""The largest sequence number, feed position or cursor: far below 2**63, and every integer up
to it is exact as a JSON number in any reader (JavaScript's, a float-based schema checker's)."""
MAX_LINE_NO = 1_000_000
"""The largest order line number."""
MAX_CODE = 64
"""The longest ID or code: order, entry, SKU, location, badge, terminal, facility, lot..."""
MAX_TEXT = 1000
"""The longest free text: a description, a name, a note, a message."""
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
"""No timestamp is earlier than this."""
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
"""No timestamp is later than this (the central store holds entries to a much narrower window
of its own clock: see ``central serve --max-ahead`` and ``--max-age``)."""

# The same rules as CODE_PATTERN and TEXT_PATTERN, for code that checks a value outside a model
# (a CSV row, a typed lot) or words a model's refusal: these name the character and where it is.
_CODE_CONTROLS = re.compile(r"[\x00-\x1f\x7f-\x9f]")
"""The control characters (Unicode category Cc)."""
_TEXT_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
"""The control characters but tab and newline."""


def _refuse_control(found: re.Match[str]) -> ValueError:
    char = found.group()
    where = found.start()
    return ValueError(f"control character U+{ord(char):04X} at position {where}: not allowed")


def check_code(value: str) -> str:
    """``value`` if it may be an ID or code: no control character (NUL, escape, newline...).

    Raises:
        ValueError: it holds a control character (its position is named).
    """
    found = _CODE_CONTROLS.search(value)
    if found is not None:
        raise _refuse_control(found)
    return value


def check_code_length(value: str) -> str:
    """``value`` if it may be an ID or code: :func:`check_code`, and at most 64 characters.

    For code that reads IDs outside a model (a CSV row's columns).

    Raises:
        ValueError: too long, or it holds a control character.
    """
    if len(value) > MAX_CODE:
        raise ValueError(f"{value[:20]!r}... is {len(value)} characters long, over {MAX_CODE}")
    return check_code(value)


def check_text(value: str) -> str:
    """``value`` if it may be free text: no control character but tab and newline.

    Raises:
        ValueError: it holds another control character (NUL, escape...).
    """
    found = _TEXT_CONTROLS.search(value)
    if found is not None:
        raise _refuse_control(found)
    return value


def clip_text(value: str) -> str:
    """``value`` cut to :data:`MAX_TEXT` characters, ending with an ellipsis when cut.

    For texts the program writes itself from parts it does not control the length of (a
    refusal's message naming an operator): the entry stays within bounds.
    """
    return value if len(value) <= MAX_TEXT else value[: MAX_TEXT - 1] + "…"


CODE_PATTERN = r"^[^\x00-\x1f\x7f-\x9f]*$"
""":data:`Code`'s characters as a regular expression (every character but the controls), for
path and query parameters and the published schema."""
TEXT_PATTERN = r"^[^\x00-\x08\x0b-\x1f\x7f-\x9f]*$"
""":data:`FreeText`'s characters as a regular expression, for the published schema."""

# The rules run as pydantic's own constraints (in Rust): every field of every entry of a batch
# goes through them, and a Python validator per field made validating a batch about a third
# slower. The 422 answer words a pattern mismatch as check_code/check_text do.
Code = Annotated[str, StringConstraints(max_length=MAX_CODE, pattern=CODE_PATTERN)]
"""An ID or code: at most 64 characters, no control characters."""
FreeText = Annotated[str, StringConstraints(max_length=MAX_TEXT, pattern=TEXT_PATTERN)]
"""Free text (a description, a name, a note, a message): at most 1,000 characters, no control
characters but tab and newline."""
Quantity = Annotated[int, Field(ge=1, le=MAX_QUANTITY)]
"""Units one entry is about: 1 to 10,000."""
Figure = Annotated[int, Field(ge=0, le=MAX_FIGURE)]
"""A stock figure or an ordered/picked quantity: 0 to 10**9."""
Delta = Annotated[int, Field(ge=-MAX_FIGURE, le=MAX_FIGURE)]
"""A change to a stock figure or a line counter: -10**9 to 10**9."""
Seq = Annotated[int, Field(ge=1, le=MAX_SEQ)]
"""A sequence number or feed position: 1 to 2**53 - 1."""
Cursor = Annotated[int, Field(ge=0, le=MAX_SEQ)]
"""A feed cursor or a count of sequence numbers: 0 to 2**53 - 1."""
LineNo = Annotated[int, Field(ge=0, le=MAX_LINE_NO)]
"""An order line number: 0 to 1,000,000."""
Timestamp = Annotated[AwareDatetime, Field(ge=EARLIEST, lt=LATEST)]
"""A timezone-aware time between 2000 and 2200 (compared in UTC: nothing overflows)."""
