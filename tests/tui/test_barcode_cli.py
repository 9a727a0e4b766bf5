"""`putback barcode`: what each code is, or exactly why not; JSON for scripts."""

from __future__ import annotations

import json

from click.testing import CliRunner

from putback_tui.cli import cli
from putback_tui.ledger import Ledger


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, ["barcode", *args])
    return result.exit_code, result.output


def test_gs1_kit_with_lot_and_product(demo_ledger: Ledger):
    code, out = run("--json", "]C10109501101530003" + "10AB-123")
    assert code == 0
    (info,) = json.loads(out)["codes"]
    assert info["kind"] == "product"
    assert info["gtin14"] == "09501101530003"
    assert info["lot"] == "AB-123"
    assert info["symbology"] == "]C1"
    assert info["product"] == {
        "sku": "FIRSTAID-KIT", "description": "First-aid kit", "lot_tracked": True
    }


def test_invalid_codes_say_why_and_exit_1(demo_ledger: Ledger):
    code, out = run("4006381333932", "\x1b[2J", "[bold]x[/]")
    assert code == 1
    assert "reason: Check digit wrong: 4006381333932 should end in 1" in out
    assert "\\x1b[2J: invalid" in out
    assert "\x1b" not in out
    assert "reason: Not a known code: [bold]x[/]" in out


def test_every_kind_as_text(demo_ledger: Ledger):
    code, out = run("OP-0001", "D-1002", "LOC:A-01-01", "96385074")
    assert code == 0
    assert "OP-0001: badge" in out
    assert "order id: D-1002" in out
    assert "location: A-01-01" in out
    assert "product: BOTTLE-1L (Water bottle, 1 l)" in out


def test_without_a_local_store():
    code, out = run("4006381333931")
    assert code == 0
    assert "product: (no local store to look it up in)" in out
