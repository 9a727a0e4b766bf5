"""The ledger's read cache: an action always sees the file as it is, whoever changed it."""

from __future__ import annotations

import contextlib
import json

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from pydantic import ValidationError

from putback_tui.domain import rules
from putback_tui.domain.entries import EntryDetails, EntryKind, new_entry_id
from putback_tui.domain.errors import (
    PermissionDenied,
    Refused,
    WrongFacility,
    WrongLocationKind,
)
from putback_tui.domain.models import (
    LineChange,
    Location,
    LocationKind,
    OrderStatus,
    Permission,
    RejectReason,
    StockChange,
)
from putback_tui.ledger import Ledger
from putback_tui.ledger.rows import dump_changes, dump_details
from putback_tui.ledger.sync import apply_page
from putback_tui.ledger.transaction import CENTRAL_ROLES
from putback_tui.station import Station
from tests.conftest import stock_of


def _uncached_order(ledger: Ledger, order_id: str) -> object:
    """The order read on a connection of its own, with no cache of this ledger's."""
    with ledger.snapshot() as tx:
        return tx.order(order_id)


def test_a_location_moved_by_another_connection_is_refused_at_the_next_put_back(
    station: Station, demo_ledger: Ledger
) -> None:
    """The sync worker (its own connection) pulls a location now of another facility: the
    next scan to it is refused, although the station read it a moment before.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    worker = Ledger(demo_ledger.path, create=False)
    with worker.write() as tx:
        tx.upsert_locations(
            [
                Location(
                    code="A-01-01",
                    facility="STORE-02",
                    kind=LocationKind.STORAGE,
                    barcode="LOC:A-01-01",
                )
            ]
        )
    worker.close()
    with pytest.raises(WrongFacility):
        station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")


def test_a_location_changed_on_the_station_connection_is_seen_at_once(
    station: Station, demo_ledger: Ledger
) -> None:
    """Any write of the station's own connection that is not an entry empties the cache."""
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    with demo_ledger.write() as tx:
        tx.conn.execute("UPDATE locations SET kind = 'packing' WHERE code = 'A-01-01'")
    with pytest.raises(WrongLocationKind):
        station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")


def test_a_role_map_pulled_by_another_connection_applies_to_the_next_action(
    station: Station, demo_ledger: Ledger
) -> None:
    """The central store takes put-back away from operators: the very next put-back is
    refused, and the refusal recorded.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    worker = Ledger(demo_ledger.path, create=False)
    with worker.write() as tx:
        tx.set_meta(CENTRAL_ROLES, json.dumps({"operator": ["reject_item"]}))
    worker.close()
    with pytest.raises(PermissionDenied):
        station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    assert [e.kind for e in demo_ledger.entries()][-1] is EntryKind.REFUSAL
    assert not station.may(Permission.PUT_BACK)
    # The refusal left the station free for the next action (its lock released), and the
    # refused put-back changed nothing.
    view = station.open_order("D-1002")
    assert next(line for line in view.order.lines if line.line_no == 2).put_back == 0


def test_an_order_pulled_by_another_connection_is_read_again(
    station: Station, demo_ledger: Ledger
) -> None:
    """A pull that changes an order the station has in hand (here: shipped) is what the next
    action judges.
    """
    station.open_order("D-1002")
    order = demo_ledger.order("D-1002")
    assert order is not None
    worker = Ledger(demo_ledger.path, create=False)
    with worker.write() as tx:
        tx.conn.execute("UPDATE orders SET status = 'shipped' WHERE order_id = 'D-1002'")
    worker.close()
    assert demo_ledger.order("D-1002") == _uncached_order(demo_ledger, "D-1002")
    assert demo_ledger.order("D-1002") != order


def _another_connection(ledger: Ledger, sql: str) -> None:
    """``sql`` committed on a connection of its own, as the sync worker's or another program's."""
    worker = Ledger(ledger.path, create=False)
    with worker.write() as tx:
        tx.conn.execute(sql)
    worker.close()


@pytest.mark.parametrize(
    ("sql", "what"),
    [
        (
            "UPDATE line_progress SET put_back = 0 WHERE order_id = 'D-1002' AND line_no = 1",
            "progress recomputed after a pull",
        ),
        (
            "INSERT INTO order_state (order_id, local_status) VALUES ('D-1002', 'deleted') "
            "ON CONFLICT (order_id) DO UPDATE SET local_status = excluded.local_status",
            "a local status",
        ),
        ("UPDATE order_lines SET picked = 1 WHERE order_id = 'D-1002' AND line_no = 2", "a line"),
        ("UPDATE orders SET has_label = 1 WHERE order_id = 'D-1002'", "the order's label"),
        ("DELETE FROM order_lines WHERE order_id = 'D-1002' AND line_no = 2", "a line removed"),
    ],
)
def test_what_another_connection_changes_in_an_order_is_read_again(
    station: Station, demo_ledger: Ledger, sql: str, what: str
) -> None:
    """Whichever part of an order another connection changes (its progress, its local status,
    its central facts: the last three through ledger migration m007's triggers), the next read
    of the station's connection is the file's.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    before = demo_ledger.order("D-1002")
    _another_connection(demo_ledger, sql)
    after = demo_ledger.order("D-1002")
    assert after == _uncached_order(demo_ledger, "D-1002"), what
    assert after != before, what
    with demo_ledger.read() as tx, demo_ledger.snapshot() as fresh:
        assert (tx.reconciled("D-1002") is None) == (fresh.reconciled("D-1002") is None)


def _reads_of_the_next_put_back(station: Station, ledger: Ledger) -> list[str]:
    """The SELECTs of putting back D-1002's socks (line 2), as the ledger's connection ran them."""
    seen: list[str] = []
    ledger._conn.set_trace_callback(seen.append)
    try:
        station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    finally:
        ledger._conn.set_trace_callback(None)
    return [sql for sql in seen if sql.lstrip().upper().startswith("SELECT")]


def test_after_another_connections_commit_only_the_progress_of_an_order_is_read_again(
    station: Station, demo_ledger: Ledger
) -> None:
    """The sync worker records its answers (nothing of the order): the next put-back reads the
    order's progress and local status, not its central facts again (ledger migration m007).
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    _another_connection(demo_ledger, "INSERT INTO meta (key, value) VALUES ('sync.x', '1')")
    reads = _reads_of_the_next_put_back(station, demo_ledger)
    assert not [sql for sql in reads if "order_lines" in sql or "FROM orders" in sql], reads
    assert [sql for sql in reads if "FROM line_progress" in sql], reads
    assert demo_ledger.order("D-1002") == _uncached_order(demo_ledger, "D-1002")


def test_a_rolled_back_put_back_leaves_no_trace_in_what_the_next_action_reads(
    station: Station, demo_ledger: Ledger
) -> None:
    """An entry appended in a transaction that then fails never happened: the order the next
    action reads is the file's, not the one the failed entry left in memory.
    """
    station.open_order("D-1002")
    before = demo_ledger.order("D-1002")
    assert before is not None

    def append_then_fail() -> None:
        with demo_ledger.write() as tx:
            location = tx.location("A-01-01")
            product = tx.product("TSHIRT-BLK-M")
            assert location is not None
            assert product is not None
            draft = rules.put_back(before, 1, product, location, 1, tx)
            tx.append(draft, terminal="PACK-01", facility="STORE-01", operator="OP-0001")
            raise RuntimeError("power went")

    with pytest.raises(RuntimeError, match="power"):
        append_then_fail()
    assert demo_ledger.order("D-1002") == before == _uncached_order(demo_ledger, "D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    after = demo_ledger.order("D-1002")
    assert after == _uncached_order(demo_ledger, "D-1002")
    assert after is not None
    assert after.line(1).put_back == before.line(1).put_back + 1
    assert stock_of(demo_ledger, "TSHIRT-BLK-M")[0]["A-01-01"] >= 1


def test_a_pull_on_the_station_connection_is_seen_by_the_next_read(
    station: Station, demo_ledger: Ledger
) -> None:
    """A page of the changes feed applied on the station's own connection (the command-line
    sync does so) changes what the next action reads.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    with demo_ledger.write() as tx:
        apply_page(
            tx,
            cursor=0,
            next_cursor=1,
            has_more=False,
            applied_through_seq=0,
            orders=[],
            products=[],
            locations=[
                Location(
                    code="A-01-01",
                    facility="STORE-01",
                    kind=LocationKind.EXCEPTION,
                    barcode="LOC:A-01-01",
                )
            ],
            operators=[],
            qoh=[],
            atp=[],
            reconciled=[],
            roles=None,
        )
    assert station.location("A-01-01").kind is LocationKind.EXCEPTION


def test_cached_orders_equal_a_fresh_read_after_every_kind_of_entry(
    station: Station, demo_ledger: Ledger
) -> None:
    """Release, put-back, undo, line edits, cancel: what the ledger keeps in memory after
    each is exactly what a connection without a cache reads.
    """
    supervisor = Station(demo_ledger, station.settings)
    supervisor.sign_in("SV-0001")
    steps = [
        lambda: supervisor.open_order("D-1002"),
        lambda: supervisor.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01"),
        lambda: supervisor.put_back("D-1002", 2, "SOCKS-3PK", "EX-01"),
        lambda: supervisor.undo_last_put_back("D-1002"),
        lambda: supervisor.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2),
        lambda: supervisor.reduce_line("D-1005", 1, 1, "PRICE ERROR"),
        lambda: supervisor.force_cancel("D-1008"),
    ]
    for step in steps:
        with contextlib.suppress(Refused):  # a refused step must leave the cache exact too
            step()
        for order_id in ("D-1002", "D-1005", "D-1008"):
            assert demo_ledger.order(order_id) == _uncached_order(demo_ledger, order_id)
            with demo_ledger.read() as tx, demo_ledger.snapshot() as fresh:
                assert (tx.reconciled(order_id) is None) == (fresh.reconciled(order_id) is None)


_codes = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=12
) | st.text(alphabet=st.characters(codec="ascii"), min_size=1, max_size=12)
"""Codes of any character (the models refuse the controls), or of ASCII alone: a text past
ASCII is written one way, an ASCII one the other (rows.dump_changes)."""


@st.composite
def _changes(draw: st.DrawFn) -> tuple[StockChange, ...] | tuple[LineChange, ...]:
    """An entry's stock changes, or its line changes (an entry holds one tuple of each)."""
    stock = draw(st.booleans())
    out: list[StockChange | LineChange] = []
    for _ in range(draw(st.integers(0, 4))):
        try:
            if stock:
                located = draw(st.booleans())
                out.append(
                    StockChange(
                        sku=draw(_codes),
                        location=draw(_codes) if located else None,
                        qoh=draw(st.integers(-10**6, 10**6)) if located else 0,
                        atp=0 if located else draw(st.integers(-10**6, 10**6)),
                    )
                )
            else:
                out.append(
                    LineChange(
                        order_id=draw(_codes),
                        line_no=draw(st.integers(1, 999)),
                        released=draw(st.integers(-50, 50)),
                        rejected=draw(st.integers(-50, 50)),
                        put_back=draw(st.integers(-50, 50)),
                        withdrawn=draw(st.integers(-50, 50)),
                    )
                )
        except ValidationError:
            continue  # a code the models refuse (a control character): no change to write
    return tuple(out)  # type: ignore[return-value]  # one kind, as drawn


@given(_changes())
def test_changes_are_written_as_json_dumps_of_the_models_writes_them(
    changes: tuple[StockChange, ...] | tuple[LineChange, ...],
) -> None:
    """The changes' writer gives the very text the models' own dump gave."""
    assert dump_changes(changes) == json.dumps(
        [c.model_dump(exclude_defaults=True) for c in changes], separators=(",", ":")
    )


@st.composite
def _details(draw: st.DrawFn) -> EntryDetails:
    """Details of any kind of entry, with codes of any character the models take."""
    try:
        return EntryDetails(
            sku=draw(st.none() | _codes),
            quantity=draw(st.none() | st.integers(0, 10**9)),
            location=draw(st.none() | _codes),
            lot=draw(st.none() | _codes),
            reason=draw(st.none() | st.sampled_from(RejectReason)),
            reroute=draw(st.booleans()),
            order_status=draw(st.none() | st.sampled_from(OrderStatus)),
            message=draw(st.none() | _codes),
        )
    except ValidationError:
        assume(False)  # a code the models refuse (a control character)
        raise


@given(_details())
def test_details_are_written_as_the_models_dump_writes_them(details: EntryDetails) -> None:
    """An entry's details are stored as ``model_dump_json(exclude_defaults=True)`` wrote them."""
    assert dump_details(details) == details.model_dump_json(exclude_defaults=True)


def test_entry_ids_are_uuid_text(monkeypatch: pytest.MonkeyPatch) -> None:
    """New entry IDs read back as the UUIDv7 they are, in the canonical text form."""
    import uuid

    from putback_tui.domain import entries

    # The generator keeps the last millisecond it used: the last one of 48 bits would leave
    # every later ID of this process past it (and wrapped), so it is put back afterwards.
    monkeypatch.setattr(entries, "_last_ms", entries._last_ms)
    monkeypatch.setattr(entries, "_counter", entries._counter)
    for ms in (0, 1, 1_700_000_000_000, (1 << 48) - 1):
        value = new_entry_id(ms)
        parsed = uuid.UUID(value)
        assert str(parsed) == value
        assert parsed.version == 7


def test_the_cache_forgets_when_full() -> None:
    """Past its bound a kind starts again empty: memory stays bounded on a long shift."""
    from putback_tui.ledger.cache import MAX_ITEMS, ReadCache

    cache = ReadCache()
    for i in range(MAX_ITEMS + 10):
        cache.keep_location(f"L-{i}", None)
    assert len(cache.locations) <= MAX_ITEMS


def test_an_entry_by_names_not_checked_before_is_validated_whole(
    station: Station, demo_ledger: Ledger
) -> None:
    """The station's own terminal, facility and badge are checked at its first entry, and its
    next entries are built without checking them again; a name never checked (a control
    character in it) is still refused, and nothing of its entry is recorded.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    before = demo_ledger.order("D-1002")
    count = demo_ledger.last_seq()
    assert before is not None

    def append_by_an_unchecked_terminal() -> None:
        with demo_ledger.write() as tx:
            location = tx.location("A-02-01")
            product = tx.product("SOCKS-3PK")
            assert location is not None
            assert product is not None
            draft = rules.put_back(before, 2, product, location, 1, tx)
            tx.append(draft, terminal="PACK\x1b01", facility="STORE-01", operator="OP-0001")

    with pytest.raises(ValidationError):
        append_by_an_unchecked_terminal()
    assert demo_ledger.last_seq() == count
    assert demo_ledger.order("D-1002") == before == _uncached_order(demo_ledger, "D-1002")


def test_a_pull_of_an_order_whose_facts_did_not_change_keeps_them_cached(
    station: Station, demo_ledger: Ledger
) -> None:
    """The sync worker pulls D-1002 back after a drain: its progress moved, its central facts
    (status, label, lines) did not. The next put-back reads the order's progress, not its facts
    again, as after any commit that left them alone; one that changes a line is read again.
    """
    station.open_order("D-1002")
    station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    order = demo_ledger.order("D-1002")
    assert order is not None
    worker = Ledger(demo_ledger.path, create=False)
    with worker.write() as tx:
        apply_page(tx, cursor=1, next_cursor=2, has_more=False, applied_through_seq=0,
                   orders=[order])
    reads = _reads_of_the_next_put_back(station, demo_ledger)
    assert not [sql for sql in reads if "order_lines" in sql or "FROM orders" in sql], reads
    changed = order.model_copy(
        update={"lines": (order.lines[0].model_copy(update={"picked": 5}), *order.lines[1:])}
    )
    with worker.write() as tx:
        apply_page(tx, cursor=2, next_cursor=3, has_more=False, applied_through_seq=0,
                   orders=[changed])
    worker.close()
    after = demo_ledger.order("D-1002")
    assert after == _uncached_order(demo_ledger, "D-1002")
    assert after is not None
    assert after.line(1).picked == 5


def test_an_upsert_leaves_each_order_as_pulled(demo_ledger: Ledger) -> None:
    """Orders pulled again with a line changed and one gone, a line added, another status and
    label, or just as they were: the ledger then holds each exactly as pulled, and nothing of
    any other order moves.
    """
    ids = ("D-1002", "D-1003", "D-1004", "D-1005")
    facts = ("SELECT order_id, facility, status, has_label, status_changed_at FROM orders "
             "ORDER BY order_id")
    lines = ("SELECT order_id, line_no, sku, quantity, picked, pick_location, lot "
             "FROM order_lines ORDER BY order_id, line_no")
    with demo_ledger.read() as tx:
        read = [tx.order(o) for o in ids]
        before = (tx.conn.execute(facts).fetchall(), tx.conn.execute(lines).fetchall())
    d2, d3, d4, d5 = (o for o in read if o is not None)
    assert len(d2.lines) > 1
    pulled = [
        d2.model_copy(update={"lines": (d2.lines[0].model_copy(update={"quantity": 9}),)}),
        d3.model_copy(update={"lines": (*d3.lines, d3.lines[0].model_copy(update={"line_no": 9}))}),
        d4.model_copy(update={"status": OrderStatus.SHIPPED, "has_label": not d4.has_label}),
        d5,
    ]
    with demo_ledger.write() as tx:
        tx.upsert_orders(pulled)
    with demo_ledger.snapshot() as tx:
        got = (tx.conn.execute(facts).fetchall(), tx.conn.execute(lines).fetchall())
    assert [r for r in got[0] if r[0] not in ids] == [r for r in before[0] if r[0] not in ids]
    assert [r for r in got[1] if r[0] not in ids] == [r for r in before[1] if r[0] not in ids]
    assert [r[:4] for r in got[0] if r[0] in ids] == [
        (o.order_id, o.facility, o.status.value, int(o.has_label)) for o in pulled
    ]
    assert [r for r in got[1] if r[0] in ids] == [
        (o.order_id, x.line_no, x.sku, x.quantity, x.picked, x.pick_location, x.lot)
        for o in pulled
        for x in o.lines
    ]
