"""The station's supervisor calls: refused-entry resolution, report and exception area access."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from putback_tui.config import Settings
from putback_tui.domain.entries import Entry, EntryKind
from putback_tui.domain.errors import NothingToResolve, PermissionDenied, WrongLocationKind
from putback_tui.domain.models import Permission
from putback_tui.ledger import Ledger
from putback_tui.ledger.sync import Answer, record_answers
from putback_tui.station import Station
from tests.conftest import stock_of

NOW = datetime(2026, 11, 20, 14, 5, tzinfo=UTC)


def refuse(ledger: Ledger, entry: Entry, reason: str = "another terminal put it back") -> None:
    """Record the central store's refusal of ``entry`` (as the sync worker would)."""
    with ledger.write() as tx:
        record_answers(tx, [Answer(entry.seq, entry.entry_id, refused=True, reason=reason)])


@pytest.fixture
def supervisor(demo_ledger: Ledger) -> Station:
    st = Station(demo_ledger, Settings())
    st.sign_in("SV-0001")
    return st


def test_acknowledging_a_refused_put_back_changes_no_stock_and_deletes_nothing(
    supervisor: Station, demo_ledger: Ledger
) -> None:
    supervisor.open_order("D-1002")
    put = supervisor.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    refuse(demo_ledger, put)
    before = stock_of(demo_ledger, "TSHIRT-BLK-M")
    [item] = supervisor.refused_entries()
    assert item.resolution is None
    assert item.refused.reason == "another terminal put it back"

    entry = supervisor.resolve_refused(put.entry_id)

    assert entry.kind is EntryKind.RESOLVE
    assert entry.details.resolves == put.entry_id
    assert entry.changes == ()
    assert entry.details.note is not None
    assert "acknowledged" in entry.details.note
    assert stock_of(demo_ledger, "TSHIRT-BLK-M") == before
    assert [e.entry_id for e in demo_ledger.entries()][-2:] == [put.entry_id, entry.entry_id]
    [item] = supervisor.refused_entries()
    assert item.resolution is not None
    assert item.resolution.entry_id == entry.entry_id
    with pytest.raises(NothingToResolve, match="resolved already"):
        supervisor.resolve_refused(put.entry_id)


def test_units_found_are_counted_into_the_exception_area_not_sellable(
    supervisor: Station, demo_ledger: Ledger
) -> None:
    supervisor.open_order("D-1002")
    put = supervisor.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    refuse(demo_ledger, put)
    qoh, atp = stock_of(demo_ledger, "SOCKS-3PK")

    entry = supervisor.resolve_refused(put.entry_id, found_in="EX-01")

    assert entry.details.location == "EX-01"
    assert entry.details.quantity == 2
    assert stock_of(demo_ledger, "SOCKS-3PK") == ({**qoh, "EX-01": 2}, atp)
    assert [(s.location, s.sku, s.qoh) for s in supervisor.exception_stock()] == [
        ("EX-01", "SOCKS-3PK", 2)
    ]


def test_units_found_only_in_an_exception_location_and_only_when_units_were_added(
    supervisor: Station, demo_ledger: Ledger
) -> None:
    supervisor.open_order("D-1002")
    put = supervisor.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    undo = supervisor.undo_last_put_back("D-1002")
    refuse(demo_ledger, put)
    with demo_ledger.write() as tx:
        record_answers(tx, [Answer(undo.seq, undo.entry_id, refused=True, reason="x")])
    with pytest.raises(WrongLocationKind):
        supervisor.resolve_refused(put.entry_id, found_in="A-01-01")
    with pytest.raises(NothingToResolve, match="added no units"):
        supervisor.resolve_refused(undo.entry_id, found_in="EX-01")
    with pytest.raises(NothingToResolve, match="was not refused"):
        supervisor.resolve_refused("0" * 36)


def test_an_operator_may_not_resolve_and_the_refusal_is_recorded(
    station: Station, demo_ledger: Ledger
) -> None:
    with pytest.raises(PermissionDenied, match="'resolve_refused' is missing"):
        station.refused_entries()
    with pytest.raises(PermissionDenied, match="'view_reports' is missing"):
        station.report(now=NOW)
    with pytest.raises(PermissionDenied, match="'bulk_reject' is missing"):
        station.require(Permission.BULK_REJECT, "bulk reject")
    kinds = [(e.kind, e.details.permission) for e in demo_ledger.entries()]
    assert kinds == [
        (EntryKind.REFUSAL, "resolve_refused"),
        (EntryKind.REFUSAL, "view_reports"),
        (EntryKind.REFUSAL, "bulk_reject"),
    ]
    assert not station.may(Permission.BULK_REJECT)
    assert station.may(Permission.MOVE_OUT)


def test_report_for_a_supervisor(supervisor: Station) -> None:
    supervisor.open_order("D-1001")
    report = supervisor.report(now=NOW)
    assert report.facility == "STORE-01"
    assert report.ageing.cleared == 1
