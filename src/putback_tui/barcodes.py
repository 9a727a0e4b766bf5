"""What a scanned string is: an order, a location, an operator badge, a product, or invalid."""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import Annotated, Any, Literal

import re2
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_SCAN_LENGTH = 512
"""Longest text taken for a code. GS1-128 holds at most 48 data characters and a GS1 DataMatrix
label rarely carries more than a few hundred; anything longer is a stuck key or pasted text."""

GS = "\x1d"
"""ASCII group separator: what scanners send for FNC1 between GS1 element strings."""

_TERMINATORS = "\r\n\t"
"""Sent by keyboard-wedge scanners after a scan; stripped from the end only."""

_GTIN_LENGTHS = (8, 12, 13, 14)

_AIM_PREFIX = re.compile(r"\][A-Za-z][0-9A-Za-z]")
"""An AIM / ISO 15424 symbology identifier: ``]``, a code character and one modifier."""

_GTIN_SYMBOLOGIES = frozenset({"E0", "E4", "I1"})
"""EAN-13 / UPC-A / UPC-E, EAN-8 and ITF-14: the data is a bare GTIN."""

_GS1_SYMBOLOGIES = frozenset({"C1", "e0", "d2", "Q3", "J1"})
"""GS1-128, GS1 DataBar, GS1 DataMatrix, GS1 QR Code, GS1 DotCode: the data is GS1 element
strings."""

_ASCII_DIGITS = re.compile(r"[0-9]+")

_AI_NAMES = {
    "01": "product number (01)",
    "10": "lot (10)",
    "17": "expiry date (17)",
    "21": "serial number (21)",
}
"""How the application identifiers the station uses are named to the operator."""

_CONTROL_NAMES = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}

_INVISIBLE_CATEGORIES = frozenset({"Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
"""Format (bidi overrides, zero-width), surrogate, private-use, unassigned and line/paragraph
separator characters: never part of a printed code, and able to disguise one on screen."""


class CodePatterns(BaseModel):
    r"""How a site's order, location and badge barcodes look.

    Each pattern is a regular expression in RE2 syntax (Python's for everything but
    look-arounds and back-references), matched case-sensitively against the whole scanned text
    (after the terminator and surrounding spaces are stripped); ``\d`` means ``[0-9]`` and
    ``\w`` means ``[A-Za-z0-9_]``. RE2 matches in time linear in the text, whatever the pattern:
    a backtracking engine (Python's ``re``) takes exponential time on patterns such as
    ``^(D+)+-\d$`` and would freeze the station on one scan.
    """

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    order: str = r"^[A-Z]{1,4}-\d{3,12}$"
    """Order IDs, e.g. ``D-1001``."""
    location_prefix: str = "LOC:"
    """What every location barcode starts with; the rest is matched against ``location``.
    Must not be empty: without a prefix a location code could not be told from other codes."""
    location: str = r"^[A-Z0-9][A-Z0-9-]{0,31}$"
    """Location codes after the prefix, e.g. ``A-01-01``."""
    badge: str = r"^(OP|SV)-\d{4}$"
    """Operator badges, e.g. ``OP-0001`` (operator) or ``SV-0001`` (supervisor)."""

    @field_validator("order", "location", "badge")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            _compiled(pattern)
        except re2.error as exc:
            reason = exc.args[0].decode() if exc.args and isinstance(exc.args[0], bytes) else exc
            raise ValueError(
                f"{pattern!r} is not a valid regular expression here: {reason} (patterns are "
                "RE2, without look-arounds or back-references, so no scan can take unbounded "
                "time)"
            ) from exc
        return pattern

    @field_validator("location_prefix")
    @classmethod
    def _plain_prefix(cls, prefix: str) -> str:
        if not prefix:
            raise ValueError("the location prefix must not be empty")
        if prefix != prefix.strip() or not prefix.isprintable():
            raise ValueError(
                f"the location prefix {prefix!r} must be printable, with no surrounding spaces"
            )
        return prefix


DEFAULT_PATTERNS = CodePatterns()
"""The patterns used when a site configures none."""


class _Code(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)

    raw: str
    """The text exactly as received, terminator included. Never display it as it is: use
    ``shown()``."""


class OrderCode(_Code):
    """An order ID."""

    kind: Literal["order"] = "order"
    order_id: str


class LocationCode(_Code):
    """A location label: the code without the site's location prefix."""

    kind: Literal["location"] = "location"
    code: str
    """E.g. ``A-01-01`` for a label that scans as ``LOC:A-01-01``."""


class BadgeCode(_Code):
    """An operator's badge."""

    kind: Literal["badge"] = "badge"
    badge: str


class ProductCode(_Code):
    """A product: a bare GTIN, or GS1 element strings carrying a GTIN (AI 01)."""

    kind: Literal["product"] = "product"
    gtin14: str = Field(pattern=r"^[0-9]{14}$")
    """The GTIN zero-padded to 14 digits (see ``normalise_gtin``)."""
    lot: str | None = None
    """Batch or lot number (AI 10), if the code carried one."""
    serial: str | None = None
    """Serial number (AI 21), if the code carried one."""
    expiry: date | None = None
    """Expiry date (AI 17), if the code carried one. A day of ``00`` means the last day of the
    month; the two-digit year is read in GS1's window of 49 years back, 50 ahead of today."""
    symbology: str | None = None
    """The AIM symbology identifier the scanner sent, e.g. ``]C1``; None if it sent none."""
    source: Literal["gtin", "gs1"]
    """Whether the code was a bare GTIN or GS1 element strings."""


class InvalidCode(_Code):
    """Anything that is not a known code, with the reason in words an operator understands."""

    kind: Literal["invalid"] = "invalid"
    reason: str
    """E.g. ``Check digit wrong: 4006381333932 should end in 1``. Safe to display: any scanned
    text in it went through ``shown()``."""
    shown: str
    """The scanned text made safe to display (see ``shown()``)."""


Scan = Annotated[
    OrderCode | LocationCode | BadgeCode | ProductCode | InvalidCode,
    Field(discriminator="kind"),
]
"""What ``classify`` returns; ``kind`` tells the cases apart."""


def shown(text: str, limit: int = 80) -> str:
    r"""Make scanned text safe to display anywhere: on screen, in a log, in a message.

    Control characters are escaped (``\x1b``, ``\x1d``, ``\n``...), as is every other
    character that does not print (``\u202e``...) and the backslash itself (``\\``), so the
    result is an unambiguous, single-line rendering. Text longer than ``limit`` characters after
    escaping is cut, never inside an escape, and ends with ``… (10000 chars)`` giving the
    original length.

    Rich markup is deliberately *not* escaped: ``[bold]x[/]`` comes back unchanged. Put the result
    into a ``rich.text.Text`` (or a widget that takes ``Text``), never into a markup string.

    Args:
        text: Any text, typically a raw scan.
        limit: The most characters of ``text``'s rendering to keep, before the suffix.

    Returns:
        The printable rendering.

    Raises:
        ValueError: If ``limit`` is less than 1.
    """
    if limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    parts: list[str] = []
    used = 0
    for char in text:
        piece = _escape(char)
        if used + len(piece) > limit:
            return "".join(parts) + f"… ({len(text)} chars)"
        parts.append(piece)
        used += len(piece)
    return "".join(parts)


def _escape(char: str) -> str:
    if char == "\\":
        return "\\\\"
    if char.isprintable():
        return char
    if char in _CONTROL_NAMES:
        return _CONTROL_NAMES[char]
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def normalise_gtin(digits: str) -> str:
    """Normalise a GTIN-8, -12, -13 or -14 to 14 digits, zero-padded on the left.

    UPC-A ``012345678905``, EAN-13 ``0012345678905`` and GTIN-14 ``00012345678905`` are one
    product and all give ``00012345678905``.

    Args:
        digits: The GTIN, ASCII digits only, check digit included.

    Returns:
        The 14-digit GTIN.

    Raises:
        ValueError: If ``digits`` is not 8, 12, 13 or 14 ASCII digits, is all zeros, or its check
            digit is wrong; the message is worded for the operator.
    """
    problem = _gtin_problem(digits)
    if problem is not None:
        raise ValueError(problem)
    return digits.zfill(14)


def _gtin_problem(digits: str) -> str | None:
    if not _ASCII_DIGITS.fullmatch(digits):
        return f"Not a product number (digits only): {shown(digits, 40)}"
    if len(digits) not in _GTIN_LENGTHS:
        return f"A product number has 8, 12, 13 or 14 digits; this has {len(digits)}: {digits}"
    if not digits.strip("0"):
        return f"Not a product number (all zeros): {digits}"
    expected = _check_digit(digits[:-1])
    if digits[-1] != expected:
        return f"Check digit wrong: {digits} should end in {expected}"
    return None


def _check_digit(payload: str) -> str:
    # GS1 mod-10: weights 3, 1, 3... from the rightmost payload digit.
    total = sum(int(d) * (3 if i % 2 == 0 else 1) for i, d in enumerate(reversed(payload)))
    return str(-total % 10)


def classify(raw: str, patterns: CodePatterns = DEFAULT_PATTERNS) -> Scan:
    """Tell what a scan is, from its content alone.

    Trailing CR, LF and Tab terminators and surrounding spaces are stripped, and an AIM
    symbology identifier (``]C1``, ``]d2``, ``]E0``...) is taken off the front. Then, in order:
    empty or too long → invalid; a control character (other than GS inside GS1 data) or an
    invisible one → invalid; the location prefix → location; the badge pattern → badge; the
    order pattern → order; 8, 12, 13 or 14 digits → GTIN; GS1 data (a GS1 symbology identifier,
    a leading GS, or more than 14 characters starting with two digits) → GS1 element strings
    with a GTIN (AI 01); anything else → invalid.

    Args:
        raw: The scan exactly as received.
        patterns: The site's order, location and badge patterns.

    Returns:
        The classified scan. Never raises: whatever cannot be read is an ``InvalidCode`` with
        the reason.
    """
    text = raw.rstrip(" " + _TERMINATORS).lstrip(" ")
    if not text:
        return _invalid(raw, text, "Nothing scanned")
    if len(text) > MAX_SCAN_LENGTH:
        return _invalid(raw, text, f"Too long to be a code ({len(text)} characters)")

    symbology: str | None = None
    body = text
    prefix = _AIM_PREFIX.match(text)
    if prefix is not None:
        symbology = prefix.group()
        body = text[prefix.end() :]
    aim = symbology[1:] if symbology else None

    looks_gs1 = aim in _GS1_SYMBOLOGIES or (
        aim is None
        and (
            body.startswith(GS)
            or (len(body) > 14 and _ASCII_DIGITS.fullmatch(body[:2]) is not None)
        )
    )
    refusal = _unreadable_character(body, allow_gs=looks_gs1)
    if refusal is not None:
        return _invalid(raw, text, refusal)
    if not body:
        return _invalid(raw, text, f"Scanner sent only its symbology identifier {symbology}")

    if aim in _GTIN_SYMBOLOGIES:
        return _from_gtin(raw, text, body, symbology)
    if aim in _GS1_SYMBOLOGIES:
        return _from_gs1(raw, text, body, symbology)

    if body.startswith(patterns.location_prefix):
        code = body[len(patterns.location_prefix) :]
        if _full_match(patterns.location, code):
            return LocationCode(raw=raw, code=code)
        return _invalid(raw, text, f"Not a valid location code: {shown(body, 40)}")
    if _full_match(patterns.badge, body):
        return BadgeCode(raw=raw, badge=body)
    if _full_match(patterns.order, body):
        return OrderCode(raw=raw, order_id=body)
    if _ASCII_DIGITS.fullmatch(body) and len(body) <= 14:
        return _from_gtin(raw, text, body, symbology)
    if looks_gs1:
        return _from_gs1(raw, text, body, symbology)
    return _invalid(raw, text, f"Not a known code: {shown(body, 40)}")


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> Any:
    # RE2, not re: linear-time matching whatever a site configures (see CodePatterns). Errors
    # are raised, not also written to stderr by RE2's logger.
    options = re2.Options()
    options.log_errors = False
    return re2.compile(pattern, options=options)


def _full_match(pattern: str, text: str) -> bool:
    try:
        return _compiled(pattern).fullmatch(text) is not None
    except UnicodeEncodeError:  # a lone surrogate: RE2 reads UTF-8, and no code holds one
        return False


def _unreadable_character(text: str, *, allow_gs: bool) -> str | None:
    for char in text:
        if char == GS and allow_gs:
            continue
        category = unicodedata.category(char)
        if category == "Cc":
            return f"Contains control character {_escape(char)}: not a code"
        if category in _INVISIBLE_CATEGORIES:
            return f"Contains invisible character U+{ord(char):04X}: not a code"
    return None


def _invalid(raw: str, text: str, reason: str) -> InvalidCode:
    return InvalidCode(raw=raw, reason=reason, shown=shown(text))


def _from_gtin(raw: str, text: str, digits: str, symbology: str | None) -> Scan:
    problem = _gtin_problem(digits)
    if problem is not None:
        return _invalid(raw, text, problem)
    return ProductCode(raw=raw, gtin14=digits.zfill(14), symbology=symbology, source="gtin")


def _from_gs1(raw: str, text: str, body: str, symbology: str | None) -> Scan:
    try:
        fields, dates = _gs1_fields(body.strip(GS))
    except _GS1Refused as refusal:
        return _invalid(raw, text, str(refusal))
    except Exception:
        # biip is third-party code fed untrusted text; a bug there must not stop the station.
        return _invalid(raw, text, f"Could not read this GS1 code: {shown(body, 40)}")
    gtin = fields.get("01")
    if gtin is None:
        return _invalid(raw, text, f"GS1 code without a product number (01): {shown(body, 40)}")
    problem = _gtin_problem(gtin)
    if problem is not None:
        return _invalid(raw, text, problem)
    return ProductCode(
        raw=raw,
        gtin14=gtin,
        lot=fields.get("10"),
        serial=fields.get("21"),
        expiry=dates.get("17"),
        symbology=symbology,
        source="gs1",
    )


class _GS1Refused(Exception):
    """GS1 data the station cannot take; ``str()`` is the operator's reason."""


def _gs1_fields(data: str) -> tuple[dict[str, str], dict[str, date]]:
    """Split GS1 element strings into {AI: value} and {AI: date}, validating each through biip.

    Raises:
        _GS1Refused: If an AI is unknown, a value does not fit its AI, or an AI repeats with a
            different value.
    """
    from biip import ParseConfig, ParseError  # biip costs ~150 ms to import; most scans skip it
    from biip.gs1_application_identifiers import GS1ApplicationIdentifier
    from biip.gs1_element_strings import GS1ElementString

    if not data:
        raise _GS1Refused("GS1 code with no data")
    config = ParseConfig()
    fields: dict[str, str] = {}
    dates: dict[str, date] = {}
    rest = data
    previous: str | None = None
    while rest:
        try:
            ai = GS1ApplicationIdentifier.extract(rest)
        except ParseError:
            where = "" if previous is None else f" after the {_ai_name(previous)}"
            raise _GS1Refused(f"Not a known GS1 field{where}: {shown(rest, 30)}") from None
        try:
            element = GS1ElementString.extract(rest, config=config)
        except ParseError:
            value = rest[len(ai.ai) :].split(GS, 1)[0]
            raise _GS1Refused(
                f"GS1 {_ai_name(ai.ai, ai.description)} is malformed: {shown(value, 30)}"
            ) from None
        value = element.value
        if fields.setdefault(ai.ai, value) != value:
            raise _GS1Refused(f"GS1 code has two different values for the {_ai_name(ai.ai)}")
        if element.date is not None:
            dates[ai.ai] = element.date
        previous = ai.ai
        rest = rest[len(element) :].lstrip(GS)
    return fields, dates


def _ai_name(ai: str, description: str | None = None) -> str:
    return _AI_NAMES.get(ai) or f"field ({ai}){f' {description}' if description else ''}"
