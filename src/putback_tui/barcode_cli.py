"""``putback barcode CODE...``: what each code is, or exactly why it is invalid.

The site engineer's tool for a label that "doesn't scan": it runs the same classification as
the app, with the site's configured patterns, and looks products up in the local store.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import click

from putback_tui.barcodes import (
    BadgeCode,
    InvalidCode,
    LocationCode,
    OrderCode,
    ProductCode,
    Scan,
    classify,
    shown,
)
from putback_tui.ledger import Ledger, LedgerError

if TYPE_CHECKING:
    from putback_tui.cli import Context


def describe(scan: Scan, ledger: Ledger | None) -> dict[str, Any]:
    """What a classified scan is, as JSON-ready data (every string safe to print).

    Args:
        scan: The classified scan.
        ledger: The local store to look products up in, or None when there is none.

    Returns:
        ``{"input", "kind", ...}``: the fields of the kind; for a product the product found
        (``null`` if none); for an invalid code the ``reason``.
    """
    out: dict[str, Any] = {"input": shown(scan.raw, 200), "kind": scan.kind}
    if isinstance(scan, OrderCode):
        out["order_id"] = scan.order_id
    elif isinstance(scan, LocationCode):
        out["location"] = scan.code
    elif isinstance(scan, BadgeCode):
        out["badge"] = scan.badge
    elif isinstance(scan, ProductCode):
        out |= {
            "gtin14": scan.gtin14,
            "lot": scan.lot and shown(scan.lot),
            "serial": scan.serial and shown(scan.serial),
            "expiry": scan.expiry.isoformat() if scan.expiry else None,
            "symbology": scan.symbology,
            "source": scan.source,
        }
        if ledger is not None:
            with ledger.read() as tx:
                product = tx.product_by_barcode(scan.gtin14)
            out["product"] = (
                {"sku": product.sku, "description": product.description,
                 "lot_tracked": product.lot_tracked}
                if product else None
            )
    elif isinstance(scan, InvalidCode):
        out["reason"] = scan.reason
    return out


def _as_text(info: dict[str, Any], store: bool) -> str:
    lines = [f"{info['input']}: {info['kind']}"]
    if info["kind"] == "invalid":
        lines.append(f"  reason: {info['reason']}")
    for key in ("order_id", "location", "badge", "gtin14", "lot", "serial", "expiry",
                "symbology"):
        if info.get(key) is not None:
            lines.append(f"  {key.replace('_', ' ')}: {info[key]}")
    if info["kind"] == "product":
        product = info.get("product")
        if not store:
            lines.append("  product: (no local store to look it up in)")
        elif product is None:
            lines.append("  product: not in the local store")
        else:
            lot = ", lot-tracked" if product["lot_tracked"] else ""
            lines.append(f"  product: {product['sku']} ({product['description']}{lot})")
    return "\n".join(lines)


@click.command("barcode")
@click.argument("codes", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="JSON: {codes: [...]}, one per CODE.")
@click.pass_obj
def barcode(context: Context, codes: tuple[str, ...], as_json: bool) -> None:
    r"""Tell what each CODE is (kind; GTIN-14, lot, serial, expiry; the product) or why not.

    Uses the site's configured code patterns and the local store. Exits 1 if any code is
    invalid. A GS1 separator can be given in bash as $'\x1d'.
    """
    settings = context.settings()
    ledger: Ledger | None = None
    if context.paths.db_path.exists():
        try:
            ledger = Ledger(context.paths.db_path, create=False)
        except LedgerError as exc:
            click.echo(f"warning: {exc}", err=True)
    try:
        infos = [describe(classify(code, settings.codes), ledger) for code in codes]
    finally:
        if ledger is not None:
            ledger.close()
    if as_json:
        click.echo(json.dumps({"codes": infos}, indent=2, ensure_ascii=False))
    else:
        click.echo("\n".join(_as_text(info, ledger is not None) for info in infos))
    if any(info["kind"] == "invalid" for info in infos):
        raise SystemExit(1)
