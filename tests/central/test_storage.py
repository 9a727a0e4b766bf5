"""The central store's ingest, feeds and upstream input, on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path

import pytest

from putback_tui.central.imports import import_path
from putback_tui.central.storage import (
    ClientExists,
    PostgresEngine,
    StoreError,
    UnknownOrderError,
    open_store,
)
from putback_tui.domain.entries import Entry, EntryKind, new_entry_id
from putback_tui.domain.models import OrderStatus, StockChange
from putback_tui.wire import ClientKind, Outcome, StockLevel
from tests.central_support import Central, MakeTerminal, from_terminals


def _client(central: Central, name: str = "PACK-01"):
    client = central.store.authenticate(central.tokens[name])
    assert client is not None
    return client


def _work(make_terminal: MakeTerminal, name: str = "PACK-01") -> list[Entry]:
    t = make_terminal(name)
    # D-1001 was released by the central store at import; a force cancel releases here.
    t.station.force_cancel("D-1008")  # releases SOCKS-3PK x1, the picked mug waits
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    return t.ledger.entries()


def test_batch_is_applied_in_order_and_changes_central_stock(
    central: Central, make_terminal: MakeTerminal
) -> None:
    entries = _work(make_terminal)
    results = central.store.ingest(_client(central), entries)
    assert [r.outcome for r in results] == [Outcome.APPLIED] * len(entries)
    qoh, atp = central.store.stock("STORE-01")
    assert qoh[("TSHIRT-BLK-M", "A-01-01")] == 11
    assert qoh[("SOCKS-3PK", "A-02-01")] == 10
    assert atp["TSHIRT-BLK-M"] == 6 + 2 + 1
    order = central.store.order("D-1002")
    assert order is not None
    assert [line.put_back for line in order.lines] == [1, 2]


def test_a_batch_sent_again_is_applied_once(central: Central, make_terminal: MakeTerminal) -> None:
    entries = _work(make_terminal)
    central.store.ingest(_client(central), entries)
    before = central.store.stock("STORE-01")
    again = central.store.ingest(_client(central), entries)
    assert {r.outcome for r in again} == {Outcome.DUPLICATE}
    assert {r.recorded_as for r in again} == {"applied"}
    assert central.store.stock("STORE-01") == before
    assert len(from_terminals(central.store)) == len(entries)
    events = central.store.events(0, 100).events
    assert len([e for e in events if e.entry.terminal == "PACK-01"]) == len(entries)


def test_a_gap_in_sequence_refuses_the_rest_as_retryable_and_records_nothing(
    central: Central, make_terminal: MakeTerminal
) -> None:
    entries = _work(make_terminal)
    results = central.store.ingest(_client(central), entries[1:])
    assert all(r.outcome is Outcome.REFUSED and r.retryable for r in results)
    assert "missing seq 1" in (results[0].reason or "")
    assert from_terminals(central.store) == []
    assert {r.outcome for r in central.store.ingest(_client(central), entries)} == {
        Outcome.APPLIED
    }


def test_a_partly_sent_batch_answers_duplicates_then_applies_the_rest(
    central: Central, make_terminal: MakeTerminal
) -> None:
    entries = _work(make_terminal)
    central.store.ingest(_client(central), entries[:2])
    results = central.store.ingest(_client(central), entries)
    assert [r.outcome for r in results] == [Outcome.DUPLICATE] * 2 + [Outcome.APPLIED] * (
        len(entries) - 2
    )


def test_two_terminals_putting_back_the_same_line_one_is_refused_both_recorded(
    central: Central, make_terminal: MakeTerminal
) -> None:
    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    for t in (first, second):
        t.station.open_order("D-1002")
        t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    a = central.store.ingest(_client(central, "PACK-01"), first.ledger.entries())
    b = central.store.ingest(_client(central, "PACK-02"), second.ledger.entries())
    assert [r.outcome for r in a] == [Outcome.APPLIED]
    assert [r.outcome for r in b] == [Outcome.REFUSED]
    assert not b[0].retryable
    assert b[0].reason == "Nothing of TSHIRT-BLK-M is left to put back on order D-1002."
    recorded = from_terminals(central.store)
    assert [r[1] for r in recorded] == ["applied", "refused"]
    qoh, _ = central.store.stock("STORE-01")
    assert qoh[("TSHIRT-BLK-M", "A-01-01")] == 11  # put back once, not twice
    # A resend of the refused entry is a duplicate that still says it was refused.
    again = central.store.ingest(_client(central, "PACK-02"), second.ledger.entries())
    assert again[0].outcome is Outcome.DUPLICATE
    assert again[0].recorded_as == "refused"
    assert again[0].reason == b[0].reason


def _entry(seq: int, *changes: StockChange, terminal: str = "PACK-01") -> Entry:
    return Entry(
        kind=EntryKind.MOVE_OUT, entry_id=new_entry_id(), seq=seq, terminal=terminal,
        facility="STORE-01", operator="SV-0001", created_at=datetime.now(UTC), changes=changes,
    )


def test_changes_an_entry_carries_are_not_believed(central: Central) -> None:
    before = central.store.stock("STORE-01")
    [result] = central.store.ingest(
        _client(central),
        [_entry(1, StockChange(sku="MUG-WHT", location="A-01-02", qoh=-100),
                StockChange(sku="MUG-WHT", atp=-100))],
    )
    assert result.outcome is Outcome.REFUSED
    assert result.reason == "Product None is not known here."
    assert central.store.stock("STORE-01") == before


def test_a_reused_sequence_number_is_refused_for_good(central: Central) -> None:
    central.store.ingest(_client(central), [_entry(1)])
    [result] = central.store.ingest(_client(central), [_entry(1)])
    assert result.outcome is Outcome.REFUSED
    assert not result.retryable
    assert "already used" in (result.reason or "")


def test_changes_feed_pages_add_up_to_everything_and_is_incremental(central: Central) -> None:
    client = _client(central)
    whole = central.store.changes(client, 0, 1000)
    assert not whole.has_more
    assert len(whole.orders) == 8
    assert len(whole.locations) == 8
    assert {p.sku for p in whole.products} >= {"MUG-WHT", "TSHIRT-BLK-M"}
    cursor, seen = 0, 0
    while True:
        page = central.store.changes(client, cursor, 5)
        seen += sum(len(x) for x in (page.orders, page.products, page.locations,
                                     page.operators, page.stock))
        assert page.next_cursor >= cursor
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert seen == sum(len(x) for x in (whole.orders, whole.products, whole.locations,
                                        whole.operators, whole.stock))
    central.store.set_order_status("D-1005", OrderStatus.CANCELLED)
    after = central.store.changes(client, whole.next_cursor, 1000)
    assert [o.order_id for o in after.orders] == ["D-1005"]
    assert after.orders[0].status is OrderStatus.CANCELLED
    # Released at once by the central store: 6 + 2 (D-1001, at import) + 2 (D-1005, now).
    assert after.orders[0].lines[0].released == 2
    assert after.stock == (StockLevel(sku="TSHIRT-BLK-M", quantity=10),)
    assert after.products == ()


def test_changes_feed_is_limited_to_the_terminals_facility(central: Central) -> None:
    far = central.store.changes(_client(central, "FAR-01"), 0, 1000)
    assert far.orders == ()
    assert far.locations == ()
    assert far.stock == ()
    assert far.products  # products and operators are shared by every facility


def test_event_feed_lists_applied_entries_in_order(
    central: Central, make_terminal: MakeTerminal
) -> None:
    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    for t in (first, second):
        t.station.open_order("D-1002")
        t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    start = central.store.events(0, 100).next_cursor  # after the import's own releases
    central.store.ingest(_client(central, "PACK-01"), first.ledger.entries())
    central.store.ingest(_client(central, "PACK-02"), second.ledger.entries())
    page = central.store.events(start, 1)
    assert page.has_more is False  # the refused one is not an event
    assert [e.entry.entry_id for e in page.events] == [first.ledger.entries()[0].entry_id]
    assert central.store.events(page.next_cursor, 10).events == ()
    assert central.store.events(start, 10, facility="STORE-99").events == ()


def test_order_status_from_upstream(central: Central) -> None:
    order = central.store.set_order_status("D-1005", OrderStatus.FAILED)
    assert order.status is OrderStatus.FAILED
    with pytest.raises(UnknownOrderError):
        central.store.set_order_status("NOPE", OrderStatus.FAILED)


def test_tokens_are_stored_hashed_and_names_unique(central: Central) -> None:
    token = central.tokens["PACK-01"]
    assert central.store.authenticate(token + "x") is None
    with pytest.raises(ClientExists):
        central.store.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01")


def test_replacing_a_token_keeps_the_client_and_retires_the_old_token(central: Central) -> None:
    old = central.tokens["PACK-01"]
    new = central.store.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01", replace=True)
    assert new != old
    assert central.store.authenticate(old) is None
    client = central.store.authenticate(new)
    assert client is not None
    assert (client.name, client.kind, client.facility) == (
        "PACK-01", ClientKind.TERMINAL, "STORE-01"
    )


@pytest.mark.parametrize(
    ("name", "kind", "facility", "why"),
    [("PACK-09", ClientKind.TERMINAL, "STORE-01", "not enrolled"),
     ("PACK-01", ClientKind.TERMINAL, "STORE-99", "terminal of STORE-01"),
     ("OMS", ClientKind.TERMINAL, "STORE-01", "enrolled as a system")],
)
def test_replace_refuses_a_missing_or_different_client(
    central: Central, name: str, kind: ClientKind, facility: str, why: str
) -> None:
    with pytest.raises(StoreError, match=why):
        central.store.add_client(name, kind, facility, replace=True)
    assert central.store.authenticate(central.tokens["PACK-01"]) is not None


def test_json_import(store, tmp_path: Path) -> None:
    doc = {
        "products": [{"sku": "S1", "description": "one", "gtins": ["04006381333931"]}],
        "locations": [{"code": "L1", "facility": "F", "kind": "storage", "barcode": "LOC:L1"}],
        "operators": [{"badge": "B1", "name": "Bo", "role": "operator"}],
        "orders": [{"order_id": "O1", "facility": "F", "status": "cancelled",
                    "lines": [{"line_no": 1, "sku": "S1", "quantity": 1, "picked": 1}]}],
        "stock": [{"facility": "F", "sku": "S1", "location": "L1", "qoh": 3}],
        "atp": [{"facility": "F", "sku": "S1", "atp": 2}],
    }
    path = tmp_path / "upstream.json"
    path.write_text(json.dumps(doc))
    counts = import_path(store, path)
    assert counts["orders"] == 1
    assert store.stock("F") == ({("S1", "L1"): 3}, {"S1": 2})



@pytest.mark.parametrize("found_in", [None, "EX-01"])
def test_a_resolve_entry_is_applied_and_changes_only_what_it_lists(
    central: Central, make_terminal: MakeTerminal, found_in: str | None
) -> None:
    from putback_tui.ledger.sync import Answer, record_answers

    first, second = make_terminal("PACK-01"), make_terminal("PACK-02")
    for t in (first, second):
        t.station.open_order("D-1002")
        t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    central.store.ingest(_client(central, "PACK-01"), first.ledger.entries())
    [refused] = central.store.ingest(_client(central, "PACK-02"), second.ledger.entries())
    assert refused.outcome is Outcome.REFUSED
    with second.ledger.write() as tx:
        record_answers(tx, [Answer(refused.seq, refused.entry_id, True, refused.reason)])
    resolve = second.station.resolve_refused(refused.entry_id, found_in=found_in)
    before_qoh, before_atp = central.store.stock("STORE-01")

    results = central.store.ingest(_client(central, "PACK-02"), [resolve])

    assert [r.outcome for r in results] == [Outcome.APPLIED]
    qoh, atp = central.store.stock("STORE-01")
    assert atp == before_atp
    expected = dict(before_qoh)
    if found_in is not None:
        key = ("TSHIRT-BLK-M", found_in)
        expected[key] = expected.get(key, 0) + 1
    assert qoh == expected
    assert from_terminals(central.store)[-1][1] == "applied"


def test_one_batch_sent_by_many_threads_at_once_is_applied_once(
    central: Central, make_terminal: MakeTerminal
) -> None:
    """A batch resent while the first send is still being applied: one applies, the rest are
    duplicates, and stock moves once.
    """
    entries = _work(make_terminal)
    client = _client(central)
    before_qoh, _ = central.store.stock("STORE-01")
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: central.store.ingest(client, entries), range(8)))
    outcomes = sorted({r.outcome for r in answers[i]} for i in range(8))
    assert outcomes.count({Outcome.APPLIED}) == 1
    assert outcomes.count({Outcome.DUPLICATE}) == 7
    qoh, _ = central.store.stock("STORE-01")
    assert qoh[("SOCKS-3PK", "A-02-01")] == before_qoh.get(("SOCKS-3PK", "A-02-01"), 0) + 2
    assert len(from_terminals(central.store)) == len(entries)


def test_a_write_kept_waiting_too_long_fails_as_busy_and_changes_nothing(
    central: Central, make_terminal: MakeTerminal
) -> None:
    """While another write holds the database past the limit, a batch fails with a clear
    error (the API answers 503 and the terminal sends it again later); nothing is recorded.
    """
    engine = central.store.engine
    location = engine.url if isinstance(engine, PostgresEngine) else str(engine.path)
    impatient = open_store(location, migrate=False, wait_s=0.2)
    entries = _work(make_terminal)
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with impatient.engine.write():
            holding.set()
            release.wait(10)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(10)
        with pytest.raises(StoreError, match=r"another write kept the database busy for 0\.2 s"):
            impatient.ingest(_client(central), entries)
    finally:
        release.set()
        holder.join()
        impatient.close()
    assert from_terminals(central.store) == []
