"""Exception reports on a ledger made for the test, with answers worked out by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from putback_tui.cli import cli
from putback_tui.config import Settings, resolve_paths, save_settings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain import rules
from putback_tui.domain.models import Order, OrderLine, OrderStatus, RejectReason
from putback_tui.ledger import Ledger
from putback_tui.reports import build_report, chart_lines


def ts(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def order(order_id: str, status: OrderStatus, at: str, *lines: OrderLine) -> Order:
    return Order(
        order_id=order_id, facility="STORE-01", status=status, status_changed_at=ts(at), lines=lines
    )


@pytest.fixture
def report_ledger(isolated_home: Path) -> Ledger:
    """Demo products and stock, and these orders instead of the demo's:

    X-1 cancelled 11-01 10:00, 2 unpicked; released 10:30 (cleared after 30 min).
    X-2 failed 11-01 12:00, 1 picked; put back 13:30 (cleared after 90 min).
    X-3 deleted 11-02 09:00, 2 picked; still open.
    Y-1 open: TSHIRT x3; 1 rejected DAMAGE 11-02 10:00, 1 MISMATCH 11-02 11:00.
    Y-2 open: CAP x2; 2 rejected NOT IN STOCK 11-03 08:00.
    """
    paths = resolve_paths()
    save_settings(paths.config_file, Settings())
    ledger = Ledger(paths.db_path)
    data = Dataset(DEMO_DIR)
    orders = [
        order(
            "X-1",
            OrderStatus.CANCELLED,
            "2026-11-01T10:00:00",
            OrderLine(line_no=1, sku="MUG-WHT", quantity=2, picked=0),
        ),
        order(
            "X-2",
            OrderStatus.FAILED,
            "2026-11-01T12:00:00",
            OrderLine(line_no=1, sku="BOTTLE-1L", quantity=1, picked=1, pick_location="B-01-01"),
        ),
        order(
            "X-3",
            OrderStatus.DELETED,
            "2026-11-02T09:00:00",
            OrderLine(line_no=1, sku="SOCKS-3PK", quantity=2, picked=2, pick_location="A-02-01"),
        ),
        order(
            "Y-1",
            OrderStatus.OPEN,
            "2026-11-02T08:00:00",
            OrderLine(line_no=1, sku="TSHIRT-BLK-M", quantity=3, picked=0, pick_location="A-01-01"),
        ),
        order(
            "Y-2",
            OrderStatus.OPEN,
            "2026-11-02T08:00:00",
            OrderLine(line_no=1, sku="CAP-RED", quantity=2, picked=0, pick_location="A-02-02"),
        ),
    ]
    with ledger.write() as tx:
        tx.upsert_products(data.products())
        tx.upsert_locations(data.locations())
        tx.upsert_operators(data.operators())
        tx.upsert_orders(orders)
        tx.set_baseline(
            ((s, loc, n) for _, s, loc, n in data.stock()), ((s, n) for _, s, n in data.atp())
        )

    def act(draft_of, at: str) -> None:
        with ledger.write() as tx:
            draft = draft_of(tx)
            tx.append(draft, terminal="PACK-01", facility="STORE-01", operator="SV-0001", at=ts(at))

    act(lambda tx: rules.release(tx.order("X-1"), tx), "2026-11-01T10:30:00")
    act(
        lambda tx: rules.put_back(
            tx.order("X-2"), 1, tx.product("BOTTLE-1L"), tx.location("B-01-01"), 1, tx
        ),
        "2026-11-01T13:30:00",
    )
    act(
        lambda tx: rules.reject(tx.order("Y-1"), 1, RejectReason.DAMAGE, 1, tx),
        "2026-11-02T10:00:00",
    )
    act(
        lambda tx: rules.reject(tx.order("Y-1"), 1, RejectReason.MISMATCH, 1, tx),
        "2026-11-02T11:00:00",
    )
    act(
        lambda tx: rules.reject(tx.order("Y-2"), 1, RejectReason.NOT_IN_STOCK, 2, tx),
        "2026-11-03T08:00:00",
    )
    return ledger


def test_report_has_the_known_answers(report_ledger: Ledger) -> None:
    with report_ledger.read() as tx:
        report = build_report(tx, "STORE-01", now=ts("2026-11-03T09:00:00"))
    rows = [(r.day.isoformat(), r.kind, r.reason, r.orders, r.units) for r in report.per_day]
    assert rows == [
        ("2026-11-01", "cancelled", None, 1, 2),
        ("2026-11-01", "failed", None, 1, 1),
        ("2026-11-02", "deleted", None, 1, 2),
        ("2026-11-02", "rejected", "DAMAGE", 1, 1),
        ("2026-11-02", "rejected", "MISMATCH", 1, 1),
        ("2026-11-03", "rejected", "NOT IN STOCK", 1, 2),
    ]
    assert [(p.sku, p.units, p.rejections) for p in report.top_rejected] == [
        ("CAP-RED", 2, 1),
        ("TSHIRT-BLK-M", 2, 2),
    ]
    assert (report.ageing.cleared, report.ageing.median_minutes, report.ageing.p90_minutes) == (
        2,
        60.0,
        90.0,
    )
    [still] = report.open
    assert (still.order_id, still.kind, still.age_minutes, still.units_left) == (
        "X-3",
        "deleted",
        1440.0,
        2,
    )


def test_since_leaves_out_earlier_days(report_ledger: Ledger) -> None:
    with report_ledger.read() as tx:
        report = build_report(
            tx, "STORE-01", now=ts("2026-11-03T09:00:00"), since=date(2026, 11, 2)
        )
    assert {r.day.isoformat() for r in report.per_day} == {"2026-11-02", "2026-11-03"}
    assert report.ageing.cleared == 0


def test_chart_has_one_bar_per_day(report_ledger: Ledger) -> None:
    with report_ledger.read() as tx:
        report = build_report(tx, "STORE-01", now=ts("2026-11-03T09:00:00"))
    assert chart_lines(report)[:3] == ["2026-11-01 CF 2", "2026-11-02 DRR 3", "2026-11-03 R 1"]


def test_chart_marks_line_edits_and_explains_every_mark(report_ledger: Ledger) -> None:
    """A line edit has its own letter, and the legend names the letters the bars use."""
    with report_ledger.write() as tx:
        draft = rules.reduce_line(tx.order("Y-1"), 1, 2, "CUSTOMER REQUEST", tx)
        tx.append(
            draft,
            terminal="PACK-01",
            facility="STORE-01",
            operator="SV-0001",
            at=ts("2026-11-03T08:30:00"),
        )
    with report_ledger.read() as tx:
        report = build_report(tx, "STORE-01", now=ts("2026-11-03T09:00:00"))
    *bars, legend = chart_lines(report)
    assert bars[2] == "2026-11-03 RQ 2"
    used = {mark for bar in bars for mark in bar.split()[1]}
    explained = {word for word in legend.split() if len(word) == 1}
    assert used <= explained
    assert legend == "C cancelled  D deleted  F failed  R rejected  Q line reduced"


def test_report_command_as_csv_and_json(report_ledger: Ledger) -> None:
    report_ledger.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["report", "--csv"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[:2] == [
        "day,kind,reason,orders,units",
        "2026-11-01,cancelled,,1,2",
    ]
    result = runner.invoke(cli, ["report", "--json", "--since", "2026-11-03"])
    assert '"reason": "NOT IN STOCK"' in result.output
    text = runner.invoke(cli, ["report"]).output
    assert "Top rejected products:" in text
    assert "X-3" in text
