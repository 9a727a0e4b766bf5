"""Exception patterns (docs/rules.md section 8): chart, kinds, reasons, top rejected, ageing."""

from __future__ import annotations

import re
from datetime import date
from functools import partial

from rich.console import Group, RenderableType
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from putback_tui.barcodes import Scan
from putback_tui.domain.wording import waited
from putback_tui.reports import ExceptionReport, chart_lines
from putback_tui.tui.screens.base import ScanScreen

DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
"""A typed day for "since": YYYY-MM-DD."""


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value >= 120:
        return f"{value / 60:.1f} h"
    return f"{value:.0f} min"


def render_report(report: ExceptionReport, now_text: str) -> RenderableType:
    """The report as plain Rich renderables: no markup, product text stays literal."""
    parts: list[RenderableType] = []
    title = Text(f"Exceptions at {report.facility}", style="bold")
    title.append(f" since {report.since.isoformat()}" if report.since else ", all days")
    title.append(f"  ·  as of {now_text}", style="dim")
    parts.append(title)
    parts.append(Text(""))
    parts.append(Text("Per day (orders, and rejected items)", style="bold underline"))
    for line in chart_lines(report, width=40):
        parts.append(Text("  " + line))
    parts.append(Text(""))
    by_reason = Table(box=None, header_style="bold", pad_edge=False, expand=False)
    for name, justify in (("Day", "left"), ("Kind", "left"), ("Reason", "left"),
                          ("Orders", "right"), ("Units", "right")):
        by_reason.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in report.per_day:
        by_reason.add_row(
            row.day.isoformat(), row.kind, Text(row.reason or "—"), str(row.orders), str(row.units)
        )
    parts.append(Text("By kind and reason", style="bold underline"))
    parts.append(by_reason if report.per_day else Text("  none"))
    parts.append(Text(""))
    parts.append(Text("Top rejected products", style="bold underline"))
    if report.top_rejected:
        top = Table(box=None, header_style="bold", pad_edge=False)
        top.add_column("Product", no_wrap=True)
        top.add_column("Units", justify="right")
        top.add_column("Times", justify="right")
        top.add_column("Description", overflow="ellipsis", no_wrap=True)
        for p in report.top_rejected:
            top.add_row(Text(p.sku), str(p.units), str(p.rejections), Text(p.description))
        parts.append(top)
    else:
        parts.append(Text("  none"))
    parts.append(Text(""))
    a = report.ageing
    ageing = Text("Ageing", style="bold underline")
    parts.append(ageing)
    parts.append(
        Text(
            f"  {a.cleared} cleared: median {_minutes(a.median_minutes)}, "
            f"p90 {_minutes(a.p90_minutes)} from becoming an exception to the last unit"
            if a.cleared
            else "  nothing cleared yet"
        )
    )
    parts.append(Text(""))
    parts.append(Text(f"Still open: {len(report.open)}", style="bold underline"))
    if report.open:
        still = Table(box=None, header_style="bold", pad_edge=False)
        for name in ("Order", "Kind", "Units left", "Open for"):
            still.add_column(name, no_wrap=True)
        for o in report.open:
            still.add_row(
                Text(o.order_id), o.kind, str(o.units_left), waited(o.since, report.generated_at)
            )
        parts.append(still)
    return Group(*parts)


class ReportScreen(ScanScreen):
    """The report, built in a worker; ↑ ↓ PgUp PgDn scroll; a typed day sets "since"."""

    TITLE_TEXT = "exception patterns"

    def __init__(self) -> None:
        super().__init__()
        self.since: date | None = None
        self.report: ExceptionReport | None = None
        self._content = Static(Text("Building the report…", style="italic"), markup=False)
        self._scroll = VerticalScroll(self._content, id="report")

    def compose_body(self) -> ComposeResult:
        """One scrolling panel."""
        yield self._scroll

    def on_mount(self) -> None:
        """Say what can be typed."""
        super().on_mount()
        self.set_prompt(
            'Exception patterns: a day (YYYY-MM-DD) and Enter for "since"; Esc goes back'
        )
        self._scroll.focus()

    def start(self) -> None:
        """Build the report again in a worker (the screen keeps painting)."""
        self._content.update(Text("Building the report…", style="italic"))
        self.run_worker(self._build(), group="report", exclusive=True, exit_on_error=False)

    async def _build(self) -> None:
        app = self.putback
        now = app.clock()
        call = partial(app.station.report, now=now, since=self.since)
        report = await app.attempt(call, group="report-build", write=False)
        if report is None:
            self._content.update(Text("The report could not be built: see the bar below."))
            return
        self.report = report
        self._content.update(
            render_report(report, now.astimezone().strftime("%Y-%m-%d %H:%M"))
        )
        units = sum(r.orders for r in report.per_day)
        app.done(
            f"Report: {units} exceptions, {len(report.open)} still open"
            + (f", since {self.since.isoformat()}." if self.since else ".")
        )

    async def handle_scan(self, scan: Scan, text: str) -> None:
        """A typed day rebuilds the report from that day on."""
        typed = text.strip()
        if DAY.fullmatch(typed):
            try:
                self.since = date.fromisoformat(typed)
            except ValueError:
                self.putback.refuse(f"{typed} is not a day.", "invalid_date")
                return
            self.start()
        else:
            self.refuse_scan(scan, "Type a day as YYYY-MM-DD and Enter, or Esc.")
