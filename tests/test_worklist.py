"""The worklist, SLA clocks and the report's SLA figures, on ledgers built with known answers.

Every expected number below is worked by hand from the orders written here and the default
weights (2 points a minute overdue, 30 when due soon, 1 a unit, 5 a unit with ATP 0, 40 for a
predicted breach) and clocks (30 minutes to first action, 240 to cleared, due soon at 80 %).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner

from putback_tui.domain import rules
from putback_tui.domain.entries import SYSTEM_OPERATOR
from putback_tui.domain.models import (
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    iso_utc,
)
from putback_tui.domain.sla import PrioritySettings, SlaClock, SlaSettings
from putback_tui.ledger import Ledger, Transaction
from putback_tui.reports import build_report
from putback_tui.sla import SlaState, clock, duration
from putback_tui.worklist import (
    HISTORY_SQL,
    OWED_LIVE_SQL,
    WAITING_SQL,
    _params,
    build_worklist,
)

NOW = datetime(2026, 11, 20, 14, 0, tzinfo=UTC)
F = "STORE-01"


def ago(minutes: float) -> datetime:
    return NOW - timedelta(minutes=minutes)


@pytest.fixture
def ledger(tmp_path: Path) -> Iterator[Ledger]:
    led = Ledger(tmp_path / "l.sqlite3")
    with led.write() as tx:
        tx.upsert_products(
            [
                Product(sku="A", description="Product A"),
                Product(sku="B", description="Product B"),
            ]
        )
        tx.upsert_locations(
            [Location(code="A-1", facility=F, kind=LocationKind.STORAGE, barcode="LOC:A-1")]
        )
        tx.upsert_operators([Operator(badge="OP-1", name="One", role="operator")])
        tx.set_baseline([("A", "A-1", 10)], [("A", 5), ("B", 0)])
    yield led
    led.close()


def order(
    tx: Transaction,
    order_id: str,
    status: OrderStatus,
    since: datetime,
    lines: list[tuple[str, int, int]],
    facility: str = F,
) -> None:
    """An order with lines (sku, quantity, picked) that took ``status`` at ``since``."""
    tx.upsert_orders(
        [
            Order(
                order_id=order_id,
                facility=facility,
                status=status,
                status_changed_at=since,
                lines=tuple(
                    OrderLine(line_no=i + 1, sku=sku, quantity=q, picked=p)
                    for i, (sku, q, p) in enumerate(lines)
                ),
            )
        ]
    )


def touched(tx: Transaction, order_id: str, at: datetime, operator: str = "OP-1") -> None:
    """An operator entry on the order at ``at`` (a refused action: it changes no stock)."""
    tx.append(
        rules.refusal("reject item", "reject_item", "not allowed", order_id),
        terminal="PACK-01",
        facility=F,
        operator=operator,
        at=at,
    )


def cleared(tx: Transaction, order_id: str, at: datetime, lines: int = 1) -> None:
    """Mark every picked unit of the order put back and the order reconciled at ``at``."""
    for line_no in range(1, lines + 1):
        tx.conn.execute(
            "INSERT INTO line_progress (order_id, line_no, released, rejected, put_back) "
            "SELECT order_id, line_no, 0, 0, picked FROM order_lines "
            "WHERE order_id = ? AND line_no = ?",
            (order_id, line_no),
        )
    tx.conn.execute(
        "INSERT INTO order_state (order_id, reconciled_at, reconciled_by, reconciled_terminal) "
        "VALUES (?, ?, 'OP-1', 'PACK-01')",
        (order_id, iso_utc(at)),
    )


# -- SLA clocks ----------------------------------------------------------------------------------


def test_clock_states_and_words() -> None:
    sla = SlaSettings()
    assert clock(sla, "cancelled", ago(10), NOW).state is SlaState.ON_TIME
    soon = clock(sla, "cancelled", ago(25), NOW)  # 25 of 30 minutes: past 80 %
    assert (soon.state, soon.text, soon.due_at) == (SlaState.DUE_SOON, "due in 5 min", ago(-5))
    late = clock(sla, "cancelled", ago(42), NOW)
    assert (late.state, late.text) == (SlaState.OVERDUE, "overdue 12 min")
    # Once someone acted, only the cleared clock runs: 200 of 240 minutes is on time (83 %
    # would be due soon: 200 / 240 = 0.83).
    acted = clock(sla, "cancelled", ago(190), NOW, first_response=ago(180))
    assert acted.state is SlaState.ON_TIME
    assert clock(sla, "cancelled", ago(200), NOW, first_response=ago(180)).text == "due in 40 min"
    assert clock(sla, "failed", ago(300), NOW, first_response=ago(280)).text == "overdue 60 min"
    assert duration(125) == "2 h 05"
    assert duration(3000) == "2 d 2 h"


# -- the worklist: ordering and why --------------------------------------------------------------


def test_worklist_orders_by_score_and_says_why(ledger: Ledger) -> None:
    with ledger.write() as tx:
        order(tx, "O-1", OrderStatus.CANCELLED, ago(60), [("A", 2, 2)])  # overdue 30 min
        order(tx, "O-2", OrderStatus.FAILED, ago(25), [("B", 1, 1)])  # due soon, B has ATP 0
        order(tx, "O-3", OrderStatus.DELETED, ago(10), [("A", 3, 3)])  # on time
        order(tx, "O-4", OrderStatus.CANCELLED, ago(90), [("A", 1, 1)])
        cleared(tx, "O-4", ago(5))  # put back already: not waiting
        order(tx, "O-5", OrderStatus.IN_PROGRESS, ago(90), [("A", 1, 1)])  # live
        order(tx, "O-6", OrderStatus.CANCELLED, ago(90), [("A", 1, 0)])  # nothing picked
        order(tx, "O-7", OrderStatus.CANCELLED, ago(90), [("A", 1, 1)], facility="STORE-99")
    with ledger.read() as tx:
        wl = build_worklist(tx, F, sla=SlaSettings(), priority=PrioritySettings(), now=NOW)
    assert (wl.waiting, wl.overdue) == (3, 1)
    got = [(r.order_id, r.score, r.sla, r.sla_text, r.units_to_put_back, r.why) for r in wl.rows]
    assert got == [
        # 2 x 30 minutes overdue + 2 units
        (
            "O-1",
            62.0,
            SlaState.OVERDUE,
            "overdue 30 min",
            2,
            ["overdue 30 min (+60)", "2 units to put back (+2)"],
        ),
        # due soon 30 + 1 unit of a product with ATP 0 (5) + 1 unit
        (
            "O-2",
            36.0,
            SlaState.DUE_SOON,
            "due in 5 min",
            1,
            ["due in 5 min (+30)", "1 unit of B, ATP 0 here (+5)", "1 unit to put back (+1)"],
        ),
        ("O-3", 3.0, SlaState.ON_TIME, "on time", 3, ["3 units to put back (+3)"]),
    ]
    assert wl.rows[0].age_minutes == 60.0
    assert wl.rows[0].due_at == ago(30)
    assert wl.rows[1].why_short == ["+30 due soon", "+5 ATP 0: B", "+1 for 1 unit"]


def test_weights_are_tunable_and_a_local_cancel_counts(ledger: Ledger) -> None:
    with ledger.write() as tx:
        order(tx, "O-1", OrderStatus.CANCELLED, ago(60), [("A", 2, 2)])
        order(tx, "O-2", OrderStatus.IN_PROGRESS, ago(300), [("B", 4, 4)])
        # A force cancel here, 5 minutes ago, makes O-2 a cancelled order since then.
        o2 = tx.order("O-2")
        assert o2 is not None
        tx.append(
            rules.force_cancel(o2, tx), terminal="PACK-01", facility=F, operator="OP-1", at=ago(5)
        )
    weights = PrioritySettings(overdue_per_min=0, per_unit=10, per_ghost_unit=0)
    with ledger.read() as tx:
        wl = build_worklist(tx, F, sla=SlaSettings(), priority=weights, now=NOW)
    assert [(r.order_id, r.kind, r.score, r.age_minutes) for r in wl.rows] == [
        ("O-2", "cancelled", 40.0, 5.0),
        ("O-1", "cancelled", 20.0, 60.0),
    ]
    assert wl.rows[1].why == ["2 units to put back (+20)"]  # overdue counts 0 here


def test_predicted_breach_from_a_generated_history(ledger: Ledger) -> None:
    """Failed orders here took 10, 20, 30, 40 and 50 minutes from first action to cleared:
    30 usually. An order that has not been started with 20 minutes left will not make it; one
    with 32 or 40 minutes left will. A much older, slower order is outside the 14 days read.
    """
    sla = SlaSettings(failed=SlaClock(first_action_min=60, cleared_min=60))
    with ledger.write() as tx:
        for i, work in enumerate([10, 20, 30, 40, 50]):
            since = ago(600 + 100 * i)
            order(tx, f"H-{i}", OrderStatus.FAILED, since, [("A", 1, 1)])
            touched(tx, f"H-{i}", since + timedelta(minutes=5))
            cleared(tx, f"H-{i}", since + timedelta(minutes=5 + work))
        old = NOW - timedelta(days=20)
        order(tx, "H-old", OrderStatus.FAILED, old, [("A", 1, 1)])
        touched(tx, "H-old", old)
        cleared(tx, "H-old", old + timedelta(minutes=500))
        # Deleted orders: only four cleared, too few to predict from.
        for i in range(4):
            since = ago(600 + 100 * i)
            order(tx, f"D-{i}", OrderStatus.DELETED, since, [("A", 1, 1)])
            cleared(tx, f"D-{i}", since + timedelta(minutes=500))
        order(tx, "P-1", OrderStatus.FAILED, ago(40), [("A", 1, 1)])  # 20 left < 30
        order(tx, "P-2", OrderStatus.FAILED, ago(20), [("A", 1, 1)])  # 40 left
        order(tx, "P-4", OrderStatus.FAILED, ago(28), [("A", 1, 1)])  # 32 left
        order(tx, "P-5", OrderStatus.FAILED, ago(45), [("A", 1, 1)])  # 15 left, but started
        touched(tx, "P-5", ago(20))  # ... 20 minutes ago: 10 of the usual 30 to go
        order(tx, "P-3", OrderStatus.DELETED, ago(20), [("A", 1, 1)])
    with ledger.read() as tx:
        wl = build_worklist(tx, F, sla=sla, priority=PrioritySettings(), now=NOW)
    rows = {r.order_id: r for r in wl.rows}
    assert rows["P-1"].why == [
        "usually takes 30 min here, 20 min left (+40)",
        "1 unit to put back (+1)",
    ]
    assert rows["P-1"].score == 41.0
    for quiet in ("P-2", "P-4", "P-5", "P-3"):
        assert not any("usually" in w for w in rows[quiet].why), quiet
    # P-5: 45 of 60 minutes is on time (75 %); it will make it, so it scores its unit only.
    assert (rows["P-5"].sla, rows["P-5"].score) == (SlaState.ON_TIME, 1.0)
    assert wl.rows[0].order_id == "P-1"


def edited(tx: Transaction, order_id: str, at: datetime, line_no: int = 1,
           reduce_to: int | None = None) -> None:
    """OP-1 cancels (or reduces to ``reduce_to``) a line of a live order at ``at``."""
    current = tx.order(order_id)
    assert current is not None
    draft = (
        rules.cancel_line(current, line_no, "CUSTOMER REQUEST", tx)
        if reduce_to is None
        else rules.reduce_line(current, line_no, reduce_to, "CUSTOMER REQUEST", tx)
    )
    tx.append(draft, terminal="PACK-01", facility=F, operator="OP-1", at=at)


def test_a_live_order_owing_a_put_back_after_a_line_edit_waits_with_its_own_kind(
    ledger: Ledger,
) -> None:
    """SPEC section 4: the picked units a line edit takes off are put back "as after a force
    cancel", so the live order waits on the list until they are. Its clocks start at the edit,
    which is itself the first action: only the cleared clock (240 min) runs.
    """
    with ledger.write() as tx:
        order(tx, "E-1", OrderStatus.OPEN, ago(300), [("A", 3, 2)])  # 2 of 3 picked
        edited(tx, "E-1", ago(200))  # 1 released, 2 withdrawn
        order(tx, "E-2", OrderStatus.IN_PROGRESS, ago(300), [("A", 4, 1)])
        edited(tx, "E-2", ago(10), reduce_to=2)  # 4 -> 2: the 3 unpicked give 2, none picked
        order(tx, "E-3", OrderStatus.IN_PROGRESS, ago(300), [("B", 2, 2)])
        edited(tx, "E-3", ago(5), reduce_to=1)  # 1 picked unit withdrawn; B has ATP 0
        order(tx, "O-1", OrderStatus.CANCELLED, ago(10), [("A", 1, 1)])  # on time, 1 unit
    with ledger.read() as tx:
        wl = build_worklist(tx, F, sla=SlaSettings(), priority=PrioritySettings(), now=NOW)
    rows = {r.order_id: r for r in wl.rows}
    assert [r.order_id for r in wl.rows] == ["E-1", "E-3", "O-1"]  # E-2 owes nothing
    e1 = rows["E-1"]
    # 200 of 240 minutes gone (83 %, past 80 %): due soon, 30 points, and 2 units.
    assert (e1.kind, e1.kind_text, e1.since, e1.units_to_put_back) == (
        "line_cancelled", "line cancelled", ago(200), 2
    )
    assert (e1.sla, e1.sla_text, e1.due_at) == (SlaState.DUE_SOON, "due in 40 min", ago(-40))
    assert (e1.score, e1.why) == (32.0, ["due in 40 min (+30)", "2 units to put back (+2)"])
    e3 = rows["E-3"]
    assert (e3.kind, e3.units_to_put_back, e3.sla) == ("line_reduced", 1, SlaState.ON_TIME)
    assert (e3.score, e3.why) == (6.0, ["1 unit of B, ATP 0 here (+5)", "1 unit to put back (+1)"])
    assert (wl.waiting, wl.overdue) == (3, 0)
    # A site gives line edits a tighter clock: E-1 is then overdue 80 min (2 points a minute).
    tight = SlaSettings(line_cancelled=SlaClock(first_action_min=30, cleared_min=120))
    with ledger.read() as tx:
        wl = build_worklist(tx, F, sla=tight, priority=PrioritySettings(), now=NOW)
    assert (wl.rows[0].order_id, wl.rows[0].sla_text, wl.rows[0].score) == (
        "E-1", "overdue 80 min", 162.0
    )


def test_a_line_edit_s_units_put_back_or_its_order_cancelled_leaves_one_row(
    ledger: Ledger,
) -> None:
    with ledger.write() as tx:
        order(tx, "E-1", OrderStatus.OPEN, ago(300), [("A", 2, 2)])
        edited(tx, "E-1", ago(60))
        order(tx, "E-2", OrderStatus.OPEN, ago(300), [("A", 2, 2)])
        edited(tx, "E-2", ago(60))
        location, product = tx.location("A-1"), tx.product("A")
        assert location is not None
        assert product is not None
        current = tx.order("E-1")
        assert current is not None
        tx.append(
            rules.put_back(current, 1, product, location, 2, tx),
            terminal="PACK-01", facility=F, operator="OP-1", at=ago(30),
        )
        # The OMS then cancels E-2: an exception order, listed once, as cancelled.
        order(tx, "E-2", OrderStatus.CANCELLED, ago(20), [("A", 2, 2)])
    with ledger.read() as tx:
        wl = build_worklist(tx, F, sla=SlaSettings(), priority=PrioritySettings(), now=NOW)
    assert [(r.order_id, r.kind, r.units_to_put_back) for r in wl.rows] == [
        ("E-2", "cancelled", 2)
    ]


def test_the_worklist_query_reads_exception_orders_through_indexes(ledger: Ledger) -> None:
    """No full scan of the order cache: candidates come from the status indexes and every
    order is then looked up by key.
    """
    with ledger.write() as tx:
        for i in range(2000):
            order(tx, f"L-{i:05d}", OrderStatus.OPEN, ago(60), [("A", 1, 0)])
        order(tx, "O-1", OrderStatus.CANCELLED, ago(60), [("A", 2, 2)])
    with ledger.read() as tx:
        tx.conn.execute("ANALYZE")
        plan = [r[3] for r in tx.conn.execute("EXPLAIN QUERY PLAN " + WAITING_SQL, _params(F))]
    print("\n".join(plan))  # shown with -s: the plan the figures in docs/performance-log.md use
    assert any("USING COVERING INDEX orders_by_status (facility=? AND status=?)" in p for p in plan)
    assert any("order_state_by_local_status" in p for p in plan)
    assert "SEARCH o USING PRIMARY KEY (order_id=?)" in plan
    assert not [p for p in plan if p.startswith("SCAN") and p != "SCAN w"]
    # The prediction's history: from the recently cleared orders' index, never every order.
    with ledger.read() as tx:
        history = [
            r[3]
            for r in tx.conn.execute(
                "EXPLAIN QUERY PLAN " + HISTORY_SQL, (iso_utc(ago(60)), iso_utc(NOW), F)
            )
        ]
    print("\n".join(history))
    assert any("order_state_by_reconciled" in p for p in history)
    assert not [p for p in history if p.startswith("SCAN")]
    # Live orders owing a put-back: from this terminal's line edits (entries_by_kind), each
    # order then by key; never every live order of the facility.
    with ledger.read() as tx:
        owed = [r[3] for r in tx.conn.execute("EXPLAIN QUERY PLAN " + OWED_LIVE_SQL, (F,))]
    print("\n".join(owed))
    assert any("USING INDEX entries_by_kind (kind=?)" in p for p in owed)
    assert "SEARCH o USING PRIMARY KEY (order_id=?)" in owed
    assert not [p for p in owed if p.startswith("SCAN") and p != "SCAN w"]


def test_putback_worklist_json_has_the_documented_shape(
    demo_ledger: Ledger, isolated_home: Path
) -> None:
    from putback_tui.cli import cli

    out = CliRunner().invoke(cli, ["worklist", "--json", "--limit", "2"])
    assert out.exit_code == 0, out.output
    import json

    rows = json.loads(out.output)
    assert [r["order_id"] for r in rows] == ["D-1002", "D-1003"]
    assert set(rows[0]) >= {
        "order_id",
        "kind",
        "since",
        "age_minutes",
        "units_to_put_back",
        "sla",
        "due_at",
        "score",
        "why",
    }
    assert rows[0]["sla"] == "overdue"
    assert rows[0]["score"] >= rows[1]["score"]
    assert rows[0]["why"][-1] == "3 units to put back (+3)"
    text = CliRunner().invoke(cli, ["worklist"])
    assert text.exit_code == 0
    assert text.output.startswith("4 waiting at STORE-01, 4 overdue")


def test_putback_worklist_lists_d1008_after_its_picked_line_is_cancelled(
    demo_ledger: Ledger, isolated_home: Path
) -> None:
    """D-1008 stays live after F6 on its mugs (1 of 2 picked): the picked mug waits for its
    put-back, on the screen's list and in ``putback worklist`` alike.
    """
    import json

    from putback_tui.cli import cli
    from putback_tui.config import Settings
    from putback_tui.station import Station

    supervisor = Station(demo_ledger, Settings())
    supervisor.sign_in("SV-0001")
    supervisor.cancel_line("D-1008", 1, "DUPLICATE ORDER")
    out = CliRunner().invoke(cli, ["worklist", "--json"])
    assert out.exit_code == 0, out.output
    rows = {r["order_id"]: r for r in json.loads(out.output)}
    assert list(rows) == ["D-1002", "D-1003", "D-1004", "D-1007", "D-1008"]
    d1008 = rows["D-1008"]
    assert (d1008["kind"], d1008["units_to_put_back"], d1008["sla"]) == (
        "line_cancelled", 1, "on_time"
    )
    assert d1008["why"] == ["1 unit to put back (+1)"]
    text = CliRunner().invoke(cli, ["worklist"])
    assert text.output.startswith("5 waiting at STORE-01, 4 overdue")
    assert "D-1008       line_cancelled" in text.output


# -- the report's SLA figures --------------------------------------------------------------------


def test_report_sla_figures_per_kind(ledger: Ledger) -> None:
    """Cancelled: first responses 10, 30, 50 (median 30, p90 50); cycles 100, 200 (median 150,
    p90 200); C-3 answered after 50 > 30 minutes: 1 breached. Failed: F-1 untouched for 300
    minutes (breached, overdue now), F-2 10 minutes old. Deleted: D-1 released by the system
    10 minutes after it arose, nobody needed: cycle 10, no breach, no first response.
    """
    with ledger.write() as tx:
        order(tx, "C-1", OrderStatus.CANCELLED, ago(300), [("A", 1, 1)])
        touched(tx, "C-1", ago(290))
        cleared(tx, "C-1", ago(200))
        order(tx, "C-2", OrderStatus.CANCELLED, ago(300), [("A", 1, 1)])
        touched(tx, "C-2", ago(270))
        cleared(tx, "C-2", ago(100))
        order(tx, "C-3", OrderStatus.CANCELLED, ago(100), [("A", 1, 1)])
        touched(tx, "C-3", ago(50))
        order(tx, "F-1", OrderStatus.FAILED, ago(300), [("A", 1, 1)])
        order(tx, "F-2", OrderStatus.FAILED, ago(10), [("A", 1, 1)])
        order(tx, "D-1", OrderStatus.DELETED, ago(500), [("A", 1, 0)])
        touched(tx, "D-1", ago(490), operator=SYSTEM_OPERATOR)  # automatic: not a response
        tx.conn.execute(
            "INSERT INTO order_state (order_id, reconciled_at, reconciled_by, "
            "reconciled_terminal) VALUES ('D-1', ?, 'system', 'PACK-01')",
            (iso_utc(ago(490)),),
        )
    with ledger.read() as tx:
        report = build_report(tx, F, now=NOW)
    by_kind = {f.kind: f for f in report.sla}
    c = by_kind["cancelled"]
    assert (c.orders, c.first_response_median_minutes, c.first_response_p90_minutes) == (3, 30, 50)
    assert (c.cycle_median_minutes, c.cycle_p90_minutes, c.breached, c.overdue_now) == (
        150,
        200,
        1,
        0,
    )
    f = by_kind["failed"]
    assert (f.orders, f.first_response_median_minutes, f.cycle_median_minutes) == (2, None, None)
    assert (f.breached, f.overdue_now) == (1, 1)
    d = by_kind["deleted"]
    assert (d.orders, d.first_response_median_minutes, d.cycle_median_minutes) == (1, None, 10)
    assert (d.breached, d.overdue_now) == (0, 0)
    r = by_kind["rejected"]
    assert (r.orders, r.breached, r.overdue_now, r.cycle_p90_minutes) == (0, 0, 0, None)
    # With a tighter clock for cancelled orders (first action in 20 minutes), C-2 is late too.
    tight = SlaSettings(cancelled=SlaClock(first_action_min=20, cleared_min=240))
    with ledger.read() as tx:
        again = build_report(tx, F, now=NOW, sla=tight)
    assert {f.kind: f.breached for f in again.sla}["cancelled"] == 2
