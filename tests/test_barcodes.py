"""What a scan is: classify(), normalise_gtin(), shown() and CodePatterns."""

from __future__ import annotations

import os
import subprocess
import sys
import unicodedata
from datetime import date
from pathlib import Path

import pytest
from hypothesis import example, given
from hypothesis import strategies as st
from pydantic import TypeAdapter, ValidationError

import putback_tui
from putback_tui.barcodes import (
    MAX_SCAN_LENGTH,
    BadgeCode,
    CodePatterns,
    InvalidCode,
    LocationCode,
    OrderCode,
    ProductCode,
    Scan,
    classify,
    normalise_gtin,
    shown,
)

GS = "\x1d"
_FULLWIDTH = str.maketrans("0123456789", "".join(chr(0xFF10 + d) for d in range(10)))
_ARABIC_1001 = "\u0661\u0660\u0660\u0661"
"""1001 in Arabic-Indic digits: Unicode digits for Python, not for a barcode."""


def _has_control(text: str) -> bool:
    return any(unicodedata.category(c) == "Cc" for c in text)


# --- order, location, badge ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param("D-1001", OrderCode(raw="D-1001", order_id="D-1001"), id="order"),
        pytest.param("LOC:A-01-01", LocationCode(raw="LOC:A-01-01", code="A-01-01"), id="location"),
        pytest.param("OP-0001", BadgeCode(raw="OP-0001", badge="OP-0001"), id="badge-operator"),
        pytest.param("SV-0001", BadgeCode(raw="SV-0001", badge="SV-0001"), id="badge-supervisor"),
        pytest.param("D-1001\r\n", OrderCode(raw="D-1001\r\n", order_id="D-1001"), id="crlf"),
        pytest.param("D-1001\t", OrderCode(raw="D-1001\t", order_id="D-1001"), id="tab"),
        pytest.param("D-1001\r", OrderCode(raw="D-1001\r", order_id="D-1001"), id="cr"),
        pytest.param("  D-1001 \n", OrderCode(raw="  D-1001 \n", order_id="D-1001"), id="spaces"),
        pytest.param(
            "]C0LOC:A-01-01",
            LocationCode(raw="]C0LOC:A-01-01", code="A-01-01"),
            id="aim-prefix-on-plain-code128",
        ),
    ],
)
def test_order_location_and_badge(raw: str, expected: Scan) -> None:
    assert classify(raw) == expected


def test_badge_wins_over_an_order_pattern_that_also_matches() -> None:
    # OP-0001 fits the default order pattern too; badges come first.
    assert classify("OP-0001").kind == "badge"


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("LOC:", "Not a valid location code: LOC:", id="location-empty"),
        pytest.param("LOC:a-01", "Not a valid location code: LOC:a-01", id="location-lowercase"),
        pytest.param("d-1001", "Not a known code: d-1001", id="order-lowercase"),
        pytest.param("OP-12", "Not a known code: OP-12", id="badge-short"),
        pytest.param("D-1001 X", "Not a known code: D-1001 X", id="trailing-word"),
    ],
)
def test_near_misses_are_invalid(raw: str, reason: str) -> None:
    scan = classify(raw)
    assert isinstance(scan, InvalidCode)
    assert scan.reason == reason


# --- products: bare GTINs --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "gtin14"),
    [
        pytest.param("4006381333931", "04006381333931", id="ean13"),
        pytest.param("5901234123457", "05901234123457", id="ean13-b"),
        pytest.param("012345678905", "00012345678905", id="upc-a"),
        pytest.param("9780201379624", "09780201379624", id="isbn-ean13"),
        pytest.param("96385074", "00000096385074", id="ean8"),
        pytest.param("09501101530003", "09501101530003", id="gtin14"),
        pytest.param("4006381333931\n", "04006381333931", id="ean13-lf"),
    ],
)
def test_bare_gtin(raw: str, gtin14: str) -> None:
    assert classify(raw) == ProductCode(raw=raw, gtin14=gtin14, source="gtin")


@pytest.mark.parametrize(
    ("raw", "symbology"),
    [
        pytest.param("]E04006381333931", "]E0", id="ean13"),
        pytest.param("]E496385074", "]E4", id="ean8"),
        pytest.param("]I109501101530003", "]I1", id="itf14"),
    ],
)
def test_gtin_with_aim_prefix(raw: str, symbology: str) -> None:
    scan = classify(raw)
    assert isinstance(scan, ProductCode)
    assert (scan.symbology, scan.source) == (symbology, "gtin")


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(
            "4006381333932", "Check digit wrong: 4006381333932 should end in 1", id="ean13"
        ),
        pytest.param("012345678904", "Check digit wrong: 012345678904 should end in 5", id="upc"),
        pytest.param("96385075", "Check digit wrong: 96385075 should end in 4", id="ean8"),
        pytest.param(
            "09501101530004", "Check digit wrong: 09501101530004 should end in 3", id="gtin14"
        ),
        pytest.param(
            "]E04006381333932", "Check digit wrong: 4006381333932 should end in 1", id="aim"
        ),
        pytest.param(
            "12345",
            "A product number has 8, 12, 13 or 14 digits; this has 5: 12345",
            id="too-few-digits",
        ),
        pytest.param("00000000", "Not a product number (all zeros): 00000000", id="all-zeros"),
        pytest.param(
            "]E0ABC", "Not a product number (digits only): ABC", id="ean-symbology-letters"
        ),
    ],
)
def test_bad_gtin_is_invalid_with_reason(raw: str, reason: str) -> None:
    scan = classify(raw)
    assert isinstance(scan, InvalidCode)
    assert scan.reason == reason


@pytest.mark.parametrize(
    "digits", ["012345678905", "0012345678905", "00012345678905"], ids=["12", "13", "14"]
)
def test_normalise_gtin_upc_a_forms_are_equal(digits: str) -> None:
    assert normalise_gtin(digits) == "00012345678905"


@pytest.mark.parametrize(
    ("digits", "message"),
    [
        pytest.param("4006381333932", "should end in 1", id="check-digit"),
        pytest.param("123456789", "has 9", id="length"),
        pytest.param("40063813339x1", "digits only", id="letter"),
        pytest.param("4006381333931".translate(_FULLWIDTH), "digits only", id="fullwidth-digits"),
        pytest.param("", "digits only", id="empty"),
    ],
)
def test_normalise_gtin_refuses(digits: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        normalise_gtin(digits)


@given(st.text(alphabet="0123456789", min_size=8, max_size=14))
def test_check_digit_agrees_with_biip(digits: str) -> None:
    from biip import ParseError
    from biip.gtin import Gtin

    try:
        ours: str | None = normalise_gtin(digits)
    except ValueError:
        ours = None
    try:
        theirs: str | None = Gtin.parse(digits).as_gtin_14()
    except ParseError:
        theirs = None
    if digits.strip("0"):  # biip accepts all zeros; we do not
        assert ours == theirs


# --- products: GS1 element strings -----------------------------------------------------------

_GTIN = "09501101530003"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        pytest.param(
            f"]C101{_GTIN}",
            {"symbology": "]C1"},
            id="gs1-128-gtin-only",
        ),
        pytest.param(
            f"]C101{_GTIN}10AB-123{GS}21SERIAL1",
            {"symbology": "]C1", "lot": "AB-123", "serial": "SERIAL1"},
            id="gs1-128-lot-serial",
        ),
        pytest.param(
            f"]C101{_GTIN}1726123110AB-123{GS}21SERIAL1",
            {
                "symbology": "]C1",
                "lot": "AB-123",
                "serial": "SERIAL1",
                "expiry": date(2026, 12, 31),
            },
            id="gs1-128-expiry-lot-serial",
        ),
        pytest.param(
            f"]C101{_GTIN}17270200",
            {"symbology": "]C1", "expiry": date(2027, 2, 28)},
            id="expiry-day-00-is-month-end",
        ),
        pytest.param(
            f"]d201{_GTIN}1726123110AB-123{GS}21SERIAL1",
            {
                "symbology": "]d2",
                "lot": "AB-123",
                "serial": "SERIAL1",
                "expiry": date(2026, 12, 31),
            },
            id="datamatrix",
        ),
        pytest.param(
            f"]Q301{_GTIN}21SERIAL1", {"symbology": "]Q3", "serial": "SERIAL1"}, id="gs1-qr"
        ),
        pytest.param(f"]e001{_GTIN}", {"symbology": "]e0"}, id="databar"),
        pytest.param(
            f"{GS}01{_GTIN}10AB-123{GS}21SERIAL1",
            {"lot": "AB-123", "serial": "SERIAL1"},
            id="leading-gs",
        ),
        pytest.param(
            f"]C1{GS}01{_GTIN}10AB-123{GS}",
            {"symbology": "]C1", "lot": "AB-123"},
            id="aim-then-gs-and-trailing-gs",
        ),
        pytest.param(
            f"01{_GTIN}10AB-123{GS}21SERIAL1\r\n",
            {"lot": "AB-123", "serial": "SERIAL1"},
            id="no-prefix-starts-with-ai",
        ),
        pytest.param(f"01{_GTIN}", {}, id="no-prefix-gtin-only"),
        pytest.param(
            f"]C101{_GTIN}3103000750{GS}21S1",
            {"symbology": "]C1", "serial": "S1"},
            id="other-ais-ignored",
        ),
    ],
)
def test_gs1_element_strings(raw: str, expected: dict[str, object]) -> None:
    assert classify(raw) == ProductCode(raw=raw, gtin14=_GTIN, source="gs1", **expected)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param(
            f"]C101{_GTIN[:-1]}4",
            "Check digit wrong: 09501101530004 should end in 3",
            id="check-digit",
        ),
        pytest.param(
            f"]C101{_GTIN}17261399",
            "GS1 expiry date (17) is malformed: 261399",
            id="expiry-month-13",
        ),
        pytest.param(
            f"]C101{_GTIN}17260230",
            "GS1 expiry date (17) is malformed: 260230",
            id="expiry-30-february",
        ),
        pytest.param(
            f"]C101{_GTIN}10AB 123",
            "Not a known GS1 field after the lot (10):  123",
            id="space-in-lot",
        ),
        pytest.param(
            f"]C10{_GTIN}",
            "GS1 field (00) Serial Shipping Container Code (SSCC) is malformed: 9501101530003",
            id="malformed-ai",
        ),
        pytest.param(
            f"]C101{_GTIN}2",
            "Not a known GS1 field after the product number (01): 2",
            id="unknown-ai",
        ),
        pytest.param(
            "]C1" + "00" + "106141411234567897",
            "GS1 code without a product number (01): 00106141411234567897",
            id="sscc-only",
        ),
        pytest.param(
            f"]C101{_GTIN}{GS}01{_GTIN[:-1]}4",
            "GS1 code has two different values for the product number (01)",
            id="two-gtins",
        ),
        pytest.param("]C1", "Scanner sent only its symbology identifier ]C1", id="prefix-only"),
        pytest.param(f"]d2{GS}", "GS1 code with no data", id="gs-only"),
        pytest.param("]C1D-1001", "Not a known GS1 field: D-1001", id="order-in-gs1-symbology"),
        pytest.param(
            "]Q3https://id.gs1.org/01/09501101530003",
            "Not a known GS1 field: https://id.gs1.org/01/09501101… (36 chars)",
            id="digital-link-uri",
        ),
    ],
)
def test_bad_gs1_is_invalid_with_reason(raw: str, reason: str) -> None:
    scan = classify(raw)
    assert isinstance(scan, InvalidCode)
    assert scan.reason == reason


# --- invalid input ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        pytest.param("", "Nothing scanned", id="empty"),
        pytest.param("   ", "Nothing scanned", id="spaces"),
        pytest.param("\r\n", "Nothing scanned", id="terminator-only"),
        pytest.param("[bold]x[/]", "Not a known code: [bold]x[/]", id="rich-markup"),
        pytest.param("\x1b[2J", "Contains control character \\x1b: not a code", id="clear-screen"),
        pytest.param("\x07", "Contains control character \\x07: not a code", id="bell"),
        pytest.param("D-10\x0001", "Contains control character \\x00: not a code", id="nul"),
        pytest.param("D-1001\x9b", "Contains control character \\x9b: not a code", id="c1-csi"),
        pytest.param("\tD-1001", "Contains control character \\t: not a code", id="leading-tab"),
        pytest.param("D-1\n001", "Contains control character \\n: not a code", id="inner-lf"),
        pytest.param(
            f"D-1001{GS}", "Contains control character \\x1d: not a code", id="gs-outside-gs1"
        ),
        pytest.param(
            f"]C01{_GTIN}{GS}10A",
            "Contains control character \\x1d: not a code",
            id="gs-in-non-gs1-symbology",
        ),
        pytest.param(
            f"]C101{_GTIN}{GS}10A\x1b",
            "Contains control character \\x1b: not a code",
            id="escape-in-gs1",
        ),
        pytest.param(
            "\u202e1001-D", "Contains invisible character U+202E: not a code", id="bidi-override"
        ),
        pytest.param(
            "D-\u200b1001", "Contains invisible character U+200B: not a code", id="zero-width"
        ),
        pytest.param("A" * 10_000, "Too long to be a code (10000 characters)", id="10000-chars"),
        pytest.param(f"D-{_ARABIC_1001}", f"Not a known code: D-{_ARABIC_1001}", id="arabic-indic"),
        pytest.param("]", "Not a known code: ]", id="lone-bracket"),
        pytest.param(
            f"1A{GS}0000000000000",
            "Contains control character \\x1d: not a code",
            id="gs-after-one-digit-is-not-gs1",
        ),
        pytest.param("hello", "Not a known code: hello", id="word"),
    ],
)
def test_invalid_input(raw: str, reason: str) -> None:
    scan = classify(raw)
    assert isinstance(scan, InvalidCode)
    assert scan.reason == reason
    assert scan.raw == raw
    assert not _has_control(scan.shown)
    assert not _has_control(scan.reason)


def test_longest_accepted_scan() -> None:
    # Exactly at the limit the length check passes and the content decides.
    scan = classify("A" * MAX_SCAN_LENGTH)
    assert isinstance(scan, InvalidCode)
    assert scan.reason.startswith("Not a known code: ")


def test_invalid_shows_the_text_safely() -> None:
    scan = classify("\x1b[2J\x1b[31mhi")
    assert isinstance(scan, InvalidCode)
    assert scan.shown == "\\x1b[2J\\x1b[31mhi"


# --- configurable patterns -------------------------------------------------------------------

_SITE = CodePatterns(order=r"^SO\d{6}$", location_prefix="BIN:", badge=r"^B\d{5}$")


@pytest.mark.parametrize(
    ("raw", "kind"),
    [
        pytest.param("SO123456", "order", id="site-order"),
        pytest.param("BIN:A-01-01", "location", id="site-location"),
        pytest.param("B12345", "badge", id="site-badge"),
        pytest.param("D-1001", "invalid", id="default-order-not-here"),
        pytest.param("LOC:A-01-01", "invalid", id="default-location-not-here"),
        pytest.param("OP-0001", "invalid", id="default-badge-not-here"),
        pytest.param("SO12345", "invalid", id="order-too-short"),
        pytest.param("4006381333931", "product", id="products-unchanged"),
    ],
)
def test_site_patterns(raw: str, kind: str) -> None:
    assert classify(raw, _SITE).kind == kind


def test_site_order_code() -> None:
    assert classify("SO123456", _SITE) == OrderCode(raw="SO123456", order_id="SO123456")


def test_patterns_are_ascii_and_case_sensitive() -> None:
    patterns = CodePatterns(order=r"^ord\d+$")
    assert classify("ord12", patterns).kind == "order"
    assert classify("ORD12", patterns).kind == "invalid"
    assert classify(f"ord{_ARABIC_1001}", patterns).kind == "invalid"


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        pytest.param("order", "^[A-Z", "not a valid regular expression", id="order"),
        pytest.param("location", "(", "not a valid regular expression", id="location"),
        pytest.param("badge", "*x", "not a valid regular expression", id="badge"),
        pytest.param("location_prefix", "", "must not be empty", id="empty-prefix"),
        pytest.param("location_prefix", " LOC:", "no surrounding spaces", id="spaced-prefix"),
        pytest.param("location_prefix", "LOC\x1b", "must be printable", id="control-prefix"),
        pytest.param("shelf", "^S$", "Extra inputs are not permitted", id="unknown-field"),
    ],
)
def test_patterns_refuse_bad_configuration(field: str, value: str, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        CodePatterns(**{field: value})


def test_patterns_are_frozen_and_documented() -> None:
    with pytest.raises(ValidationError):
        CodePatterns().order = "x"  # type: ignore[misc]
    assert all(f.description for f in CodePatterns.model_fields.values())


# --- shown() ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("D-1001", "D-1001", id="plain"),
        pytest.param("[bold]x[/]", "[bold]x[/]", id="markup-untouched"),
        pytest.param("\x1b[2J", "\\x1b[2J", id="escape"),
        pytest.param(f"a{GS}b", "a\\x1db", id="gs"),
        pytest.param("a\r\n\tb", "a\\r\\n\\tb", id="whitespace-controls"),
        pytest.param("\x7f\x85", "\\x7f\\x85", id="del-and-c1"),
        pytest.param("\u202e\u200b\u2028", "\\u202e\\u200b\\u2028", id="invisible"),
        pytest.param("\U000e0001", "\\U000e0001", id="astral-tag"),
        pytest.param("a\\x1b", "a\\\\x1b", id="backslash-doubled"),
        pytest.param("Größe ✓", "Größe ✓", id="printable-unicode"),
        pytest.param("", "", id="empty"),
    ],
)
def test_shown(text: str, expected: str) -> None:
    assert shown(text) == expected


def test_shown_truncates_with_length() -> None:
    assert shown("A" * 10_000) == "A" * 80 + "… (10000 chars)"
    assert shown("A" * 80) == "A" * 80


def test_shown_never_cuts_inside_an_escape() -> None:
    assert shown("AB\x1bC", limit=5) == "AB… (4 chars)"


def test_shown_refuses_a_useless_limit() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        shown("x", limit=0)


# --- properties ------------------------------------------------------------------------------

_scanner_like = st.one_of(
    st.text(),
    st.text(alphabet=st.characters(codec="utf-8")),
    st.text(alphabet="0123456789]CdEQe1234\x1d\r\n\t -:LOCABOPSV"),
    st.builds(lambda s: "]C101" + s, st.text(alphabet="0123456789ABZ-\x1d ", max_size=60)),
)


@given(_scanner_like)
@example("")
@example("]")
@example("]X")
@example("]C1\x1d")
@example("\ud800")
@example(f"]C101{_GTIN}17000000")
def test_classify_never_raises(raw: str) -> None:
    scan = classify(raw)
    assert scan.raw == raw
    if isinstance(scan, InvalidCode):
        assert scan.reason
        assert not _has_control(scan.reason)
        assert not _has_control(scan.shown)


@given(st.text(), st.integers(min_value=1, max_value=200))
@example("\x1b" * 100, 1)
def test_shown_has_no_control_characters(text: str, limit: int) -> None:
    out = shown(text, limit)
    assert not _has_control(out)
    assert out.isprintable()
    assert len(out) <= limit + len(f"… ({len(text)} chars)")


@given(st.text(alphabet="0123456789", min_size=7, max_size=13))
def test_every_valid_gtin_classifies_as_its_normal_form(payload: str) -> None:
    from putback_tui.barcodes import _check_digit

    digits = payload + _check_digit(payload)
    if len(digits) in (8, 12, 13, 14) and digits.strip("0"):
        scan = classify(digits)
        assert isinstance(scan, ProductCode)
        assert scan.gtin14 == normalise_gtin(digits) == digits.zfill(14)


# --- the union and the import boundary -------------------------------------------------------


def test_scan_round_trips_through_json() -> None:
    adapter: TypeAdapter[Scan] = TypeAdapter(Scan)
    scan = classify(f"]C101{_GTIN}1726123110AB-123{GS}21SERIAL1")
    assert adapter.validate_json(adapter.dump_json(scan)) == scan


def test_module_imports_neither_textual_rich_nor_biip() -> None:
    code = (
        "import sys, putback_tui.barcodes as b; b.classify('D-1001'); b.classify('4006381333931');"
        "print(sorted(m for m in ('textual', 'rich', 'biip') if m in sys.modules))"
    )
    src = str(Path(putback_tui.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": src}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=env
    ).stdout
    assert out.strip() == "[]"
