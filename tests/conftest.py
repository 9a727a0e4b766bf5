"""Fixtures shared by every test: an isolated home, and a demo terminal ready to act."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

from putback_tui.config import Settings, resolve_paths, save_settings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.ledger import Ledger
from putback_tui.ledger.load import load_dataset
from putback_tui.station import Station

# No per-example deadline: on a loaded 2-core CI machine a first import (biip, ~150 ms) or a
# slow fsync can push one example past hypothesis' 200 ms default and fail a correct test.
hypothesis_settings.register_profile("putback", deadline=None)
hypothesis_settings.load_profile("putback")


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """End the run with what did not run and why: skipped tests grouped by their reason.

    Tests skip only when a part they need is missing and skipping it is allowed (see
    tests/unavailable.py); "nothing" means every collected test ran (a failure or an error
    is reported as such above).
    """
    snapshot_summary(terminalreporter)
    reasons: dict[str, int] = {}
    for report in terminalreporter.stats.get("skipped", []):
        longrepr = report.longrepr
        reason = longrepr[2] if isinstance(longrepr, tuple) else str(longrepr)
        reason = reason.removeprefix("Skipped: ")
        reasons[reason] = reasons.get(reason, 0) + 1
    deselected = len(terminalreporter.stats.get("deselected", []))
    terminalreporter.section("not run")
    if not reasons and not deselected:
        terminalreporter.line("nothing skipped or deselected")
    for reason, count in sorted(reasons.items()):
        terminalreporter.line(f"{count:>4} skipped: {reason}")
    if deselected:
        terminalreporter.line(f"{deselected:>4} deselected (by -k / -m on the command line)")


# pytest-xdist (.ci/run's -n 2): syrupy, which pytest-textual-snapshot builds on, reports the
# snapshots (and fails the run on an unused one) only in a run of one process. Each worker's
# report is carried to the controller here, which prints the sum and fails the run as syrupy
# would. A worker counts as unused the snapshots of test files it did not run next to those it
# ran (those of tests/tui/test_snapshots.py when it ran tests/tui/test_claim_snapshots.py):
# only a snapshot no worker used is unused.
SNAPSHOT_REPORT = "putback_snapshot_report"
SNAPSHOT_COUNTS = ("failed", "passed", "generated", "updated")


def _snapshot_files(collections: Any) -> list[str]:
    """The files of the snapshots (pytest-textual-snapshot keeps one snapshot a file)."""
    return [str(collection.location) for collection in collections]


@pytest.hookimpl(trylast=True)  # after syrupy's own, which makes the report
def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    workeroutput = getattr(config, "workeroutput", None)
    if workeroutput is not None:  # an xdist worker: hand the report over
        report = config._syrupy.report  # type: ignore[attr-defined]
        workeroutput[SNAPSHOT_REPORT] = {
            "failed": report.num_failed, "passed": report.num_matched,
            "generated": report.num_created, "updated": report.num_updated,
            "used": _snapshot_files(report.used), "unused": _snapshot_files(report.unused),
        }
        return
    option = config.option
    if unused_snapshots(config) and not (option.update_snapshots or option.warn_unused_snapshots):
        session.exitstatus |= 1  # syrupy's EXIT_STATUS_FAIL_UNUSED


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: object) -> None:
    """The controller keeps what a finished xdist worker reported of its snapshots."""
    report = getattr(node, "workeroutput", {}).get(SNAPSHOT_REPORT)
    if report is not None:
        reports = getattr(node.config, "_putback_snapshot_reports", [])
        reports.append(report)
        node.config._putback_snapshot_reports = reports


def unused_snapshots(config: pytest.Config) -> list[str]:
    """The snapshots some xdist worker found unused and none used (sorted)."""
    reports: list[dict[str, Any]] = getattr(config, "_putback_snapshot_reports", [])
    used = {path for r in reports for path in r["used"]}
    return sorted({path for r in reports for path in r["unused"]} - used)


def snapshot_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """The workers' snapshot reports as one, in syrupy's words (only under pytest-xdist)."""
    config = terminalreporter.config
    reports: list[dict[str, Any]] = getattr(config, "_putback_snapshot_reports", [])
    if not reports:
        return
    counts = {k: sum(r[k] for r in reports) for k in SNAPSHOT_COUNTS}
    unused = unused_snapshots(config)
    counts["unused"] = len(unused)
    words = [f"{n} snapshot{'s' if n != 1 else ''} {k}." for k, n in counts.items() if n]
    terminalreporter.write_sep("-", "snapshot report summary")
    terminalreporter.write_line(" ".join(words) or "0 snapshots.")
    for name in unused:
        terminalreporter.write_line(f"Unused {Path(name).relative_to(config.rootpath)}")
    if unused:
        terminalreporter.write_line("Run the files without -n to update or delete snapshots "
                                    "(--snapshot-update).")


@pytest.fixture(autouse=True)
def isolated_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own PUTBACK_HOME: no test reads or writes the user's files."""
    home = tmp_path / "home"
    monkeypatch.setenv("PUTBACK_HOME", str(home))
    monkeypatch.delenv("PUTBACK_CONFIG", raising=False)
    return home


@pytest.fixture
def demo_ledger(isolated_home: Path) -> Iterator[Ledger]:
    """A real SQLite ledger in the isolated home, loaded with data/demo."""
    paths = resolve_paths()
    save_settings(paths.config_file, Settings())
    ledger = Ledger(paths.db_path)
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    yield ledger
    ledger.close()


@pytest.fixture
def station(demo_ledger: Ledger) -> Station:
    """The demo terminal's station with the operator OP-0001 signed in."""
    st = Station(demo_ledger, Settings())
    st.sign_in("OP-0001")
    return st


def stock_of(ledger: Ledger, sku: str) -> tuple[dict[str, int], int]:
    """QOH by location and ATP of one SKU, as a user reads them from ``putback stock``."""
    qoh, atp = ledger.stock(sku)
    return {loc: n for _, loc, n in qoh}, dict(atp).get(sku, 0)


# The central-store and sync fixtures live in their own module; importing them here registers them.
from tests.central_support import (  # noqa: E402
    Central,
    MakeTerminal,
    Terminal,
    central,
    make_terminal,
    pg_cluster,
    pg_store,
    postgres_url,
    server,
    store,
)

__all__ = [
    "Central",
    "MakeTerminal",
    "Terminal",
    "central",
    "make_terminal",
    "pg_cluster",
    "pg_store",
    "postgres_url",
    "server",
    "store",
]
