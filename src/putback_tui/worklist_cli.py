"""``putback worklist``: the exception orders waiting at this facility, most urgent first."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from putback_tui.domain.models import now_utc
from putback_tui.sla import duration
from putback_tui.worklist import Worklist, build_worklist

if TYPE_CHECKING:
    from putback_tui.cli_context import Context


def worklist_json(worklist: Worklist) -> str:
    """The rows as a JSON list of objects, sorted by ``score`` descending."""
    rows = [
        {
            "order_id": r.order_id,
            "kind": r.kind,
            "since": r.since.isoformat(),
            "age_minutes": r.age_minutes,
            "units_to_put_back": r.units_to_put_back,
            "sla": r.sla.value,
            "sla_text": r.sla_text,
            "due_at": r.due_at.isoformat(),
            "score": r.score,
            "why": r.why,
        }
        for r in worklist.rows
    ]
    return json.dumps(rows, indent=2, ensure_ascii=False)


@click.command("worklist")
@click.option("--json", "as_json", is_flag=True, help="A JSON list of objects, by score.")
@click.option("--limit", type=click.IntRange(min=1), default=None, help="Only the first N orders.")
@click.pass_obj
def worklist(context: Context, as_json: bool, limit: int | None) -> None:
    """The exception orders still holding picked units, most urgent first, and why."""
    settings = context.settings()
    ledger = context.ledger()
    try:
        with ledger.read() as tx:
            result = build_worklist(
                tx,
                settings.terminal.facility,
                sla=settings.sla,
                priority=settings.priority,
                now=now_utc(),
                limit=limit,
            )
    finally:
        ledger.close()
    if as_json:
        click.echo(worklist_json(result))
        return
    if not result.waiting:
        click.echo(f"Nothing waiting at {settings.terminal.facility}.")
        return
    click.echo(
        f"{result.waiting} waiting at {settings.terminal.facility}, {result.overdue} overdue"
        + (f" (first {len(result.rows)} shown)" if len(result.rows) < result.waiting else "")
    )
    click.echo(f"  {'order':<12} {'kind':<14} {'age':>9} {'units':>5}  {'SLA':<18} {'score':>7}")
    for r in result.rows:
        age = duration(r.age_minutes)
        click.echo(
            f"  {r.order_id:<12} {r.kind:<14} {age:>9} {r.units_to_put_back:>5}  "
            f"{r.sla_text:<18} {r.score:>7g}"
        )
        click.echo(f"  {'':<12} why: {'; '.join(r.why)}")
