"""The hot path (central/hot.py) against the ordinary path, which is the rule.

A batch of plain put-backs is judged over plain rows instead of the domain's models. That is a
second way to the same answer, so it is held to the first one here: over generated orders,
products, locations, operators, stock and batches, whenever the ordinary path
(``plan_batch``, ``derive``, the domain's rules) applies every entry as sent, the hot path
plans exactly the same rows and answers the same bytes; and whenever the ordinary path does
anything else (a refusal, effects other than claimed, a gap), the hot path declines. Its
decoder reads a subset of what pydantic accepts, into the same values.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import psycopg
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from putback_tui.central import hot
from putback_tui.central.app import cut_batch, split_batch
from putback_tui.central.ingest import BatchState, Stock, plan_batch, writes_of
from putback_tui.central.limits import CentralLimits
from putback_tui.central.storage import CentralStore, Client, open_store
from putback_tui.domain.derive import Limits
from putback_tui.domain.entries import Entry, EntryDetails, EntryKind, new_entry_id
from putback_tui.domain.models import (
    LineChange,
    Location,
    LocationKind,
    Operator,
    Order,
    OrderLine,
    OrderStatus,
    Product,
    StockChange,
    iso_utc,
)
from putback_tui.domain.permissions import DEFAULT_ROLES
from putback_tui.wire import BatchResult, ClientKind, Outcome, ResultCode, batch_json
from tests.central_support import put_back_entry
from tests.support.throwaway_pg import ThrowawayPostgres

F = "F1"
SKUS = ["S1", "S2", "S3"]
LOCATIONS = [
    Location(code="L-ST", facility=F, kind=LocationKind.STORAGE, barcode="LOC:L-ST"),
    Location(code="L-EX", facility=F, kind=LocationKind.EXCEPTION, barcode="LOC:L-EX"),
    Location(code="L-PK", facility=F, kind=LocationKind.PACKING, barcode="LOC:L-PK"),
    Location(code="L-F2", facility="F2", kind=LocationKind.STORAGE, barcode="LOC:L-F2"),
]
OPERATORS = [
    Operator(badge="OP-1", name="One", role="operator", facility=F),
    Operator(badge="OP-2", name="Two", role="supervisor"),
    Operator(badge="OP-3", name="Three", role="operator", active=False),
    Operator(badge="OP-4", name="Four", role="operator", facility="F2"),
    Operator(badge="OP-5", name="Five", role="viewer"),
]
LIMITS = Limits(max_stock=1000)
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@st.composite
def lines(draw: st.DrawFn) -> tuple[OrderLine, ...]:
    out = []
    for n in range(1, draw(st.integers(1, 3)) + 1):
        quantity = draw(st.integers(0, 6))
        picked = draw(st.sampled_from([6, 6, 6, 4, 1, 0]))
        out.append(OrderLine(
            line_no=n,
            sku=draw(st.sampled_from(SKUS)),  # S3 may be unknown: see worlds()
            quantity=quantity,
            picked=picked,
            lot=draw(st.sampled_from([None, None, None, "", "LOT-A"])),
            released=draw(st.integers(0, 2)),
            rejected=draw(st.integers(0, 2)),
            put_back=draw(st.sampled_from([0, 0, 0, 1, picked])) if picked else 0,
            withdrawn=draw(st.integers(0, 3)),
        ))
    return tuple(out)


@st.composite
def worlds(draw: st.DrawFn) -> dict[str, object]:
    orders = [
        Order(
            order_id=f"O{i}",
            facility=draw(st.sampled_from([F] * 6 + ["F2"])),
            status=draw(st.sampled_from([*[OrderStatus.CANCELLED] * 6, *OrderStatus])),
            lines=draw(lines()),
        )
        for i in range(draw(st.integers(1, 4)))
    ]
    products = [
        Product(sku=s, description=s, lot_tracked=draw(st.integers(0, 3)) == 3) for s in SKUS
        if s != "S3" or draw(st.booleans())
    ]
    qoh = {
        (s, loc.code): draw(st.sampled_from([0, 5, 998, 1000]))
        for s in SKUS for loc in LOCATIONS if loc.facility == F and draw(st.booleans())
    }
    atp = {s: draw(st.sampled_from([0, 7, 999])) for s in SKUS if draw(st.booleans())}
    reconciled = {
        o.order_id: ("2026-12-01T00:00:00.000000+00:00", "OP-1", "T0")
        for o in orders if draw(st.booleans())
    }
    # Each order's status time and first action as stored: a batch sets the first action
    # only where it comes after the one and before the other (backlog.first_action_due).
    times = [None, "2026-12-06T11:00:00.000000+00:00", "2026-12-06T11:58:30.000000+00:00",
             "2026-12-06T12:30:00.000000+00:00"]
    first = {
        o.order_id: (draw(st.sampled_from(times)), draw(st.sampled_from(times))) for o in orders
    }
    return {"orders": orders, "products": products, "qoh": qoh, "atp": atp,
            "reconciled": reconciled, "first": first}


@st.composite
def batches(draw: st.DrawFn, world: dict[str, object]) -> list[Entry]:
    orders: list[Order] = world["orders"]  # type: ignore[assignment]
    n = draw(st.sampled_from([1, 1, 2, 3, 6]))
    first = 2 if draw(st.integers(0, 19)) == 19 else 1
    out = []
    mine = [o for o in orders if o.facility == F] or orders
    for i in range(n):
        # Mostly what an honest terminal sends; now and then anything at all.
        honest = draw(st.integers(0, 3)) < 3
        order = draw(st.sampled_from(mine if honest else orders))
        line = draw(st.sampled_from(order.lines))
        order_id = order.order_id if honest else draw(st.sampled_from([order.order_id, "O-X"]))
        sku = line.sku if honest else draw(st.sampled_from(SKUS))
        location = draw(st.sampled_from(
            ["L-ST", "L-EX"] if honest else [loc.code for loc in LOCATIONS] + ["L-X"]
        ))
        quantity = draw(st.sampled_from([1, 1, 1, 2, 3]))
        operator = "OP-1" if honest else draw(st.sampled_from([o.badge for o in OPERATORS] + ["X"]))
        storage = location in ("L-ST", "L-F2")
        changes = [StockChange(sku=sku, location=location, qoh=quantity)]
        if storage:
            changes.append(StockChange(sku=sku, atp=quantity))
        if draw(st.integers(0, 19)) == 19:  # a terminal that worked out something else
            changes = draw(st.sampled_from([changes[:1], changes[::-1], [], changes * 2]))
        line_change = LineChange(order_id=order_id, line_no=line.line_no, put_back=quantity)
        if draw(st.integers(0, 19)) == 19:
            line_change = draw(st.sampled_from([
                LineChange(order_id=order_id, line_no=line.line_no, put_back=quantity + 1),
                LineChange(order_id=order_id, line_no=line.line_no, put_back=quantity,
                           released=1),
                LineChange(order_id="O-OTHER", line_no=line.line_no, put_back=quantity),
                LineChange(order_id=order_id, line_no=99, put_back=quantity),
            ]))
        out.append(Entry(
            kind=EntryKind.PUT_BACK,
            entry_id=new_entry_id(),
            seq=first + i,
            terminal="T1",
            facility=F,
            operator=operator,
            created_at=NOW - timedelta(minutes=n - i, microseconds=draw(st.integers(0, 999))),
            order_id=order_id,
            details=EntryDetails(
                sku=sku, quantity=quantity, location=location,
                lot=(line.lot or "LOT-A") if honest
                else draw(st.sampled_from([None, "LOT-A", "LOT-B", ""])),
            ),
            changes=tuple(changes),
            line_changes=(line_change,) if draw(st.integers(0, 29)) < 29 else (),
        ))
    return out


def _states(world: dict[str, object]) -> tuple[BatchState, hot.HotState]:
    """The same world as the ordinary path's models and as the hot path's plain rows."""
    orders: list[Order] = world["orders"]  # type: ignore[assignment]
    products: list[Product] = world["products"]  # type: ignore[assignment]
    qoh: dict[tuple[str, str], int] = world["qoh"]  # type: ignore[assignment]
    atp: dict[str, int] = world["atp"]  # type: ignore[assignment]
    reconciled: dict[str, tuple[str, str, str]] = world["reconciled"]  # type: ignore[assignment]
    first: dict[str, tuple[str | None, str | None]] = world.get(  # type: ignore[assignment]
        "first", {})
    mine = [o for o in orders if o.facility == F]
    slow = BatchState(
        facility=F,
        stock=Stock(dict(qoh), dict(atp)),
        orders={o.order_id: o for o in mine},
        reconciled={o.order_id: reconciled.get(o.order_id) for o in mine},
        first_response={
            o.order_id: (o.status.value, *first.get(o.order_id, (None, None))) for o in mine
        },
        products={p.sku: p for p in products},
        locations={loc.code: loc for loc in LOCATIONS if loc.facility == F},
        operators={o.badge: o for o in OPERATORS},
        role_map=DEFAULT_ROLES,
    )
    fast = hot.HotState(
        facility=F,
        orders={
            o.order_id: hot.HotOrder(
                o.status.value,
                {ln.line_no: [ln.sku, ln.quantity, ln.picked, ln.lot, ln.released, ln.rejected,
                              ln.put_back, ln.withdrawn] for ln in o.lines},
                reconciled.get(o.order_id),
                first.get(o.order_id, (None, None)),
            )
            for o in mine
        },
        lot_tracked={p.sku: p.lot_tracked for p in products},
        location_kinds={loc.code: loc.kind.value for loc in LOCATIONS if loc.facility == F},
        operators={o.badge: o for o in OPERATORS},
        roles=DEFAULT_ROLES,
        qoh=dict(qoh),
        atp=dict(atp),
    )
    return slow, fast


def _one_put_back() -> Entry:
    """Terminal T1's first entry: one unit of S1 put back to storage L-ST, for line 1 of O1."""
    return put_back_entry("T1", F, 1, "O1", "S1", "L-ST", created_at=NOW)


def _bodies(entries: list[Entry], plain: bool) -> list[str]:
    # As a terminal's ledger sends them (defaults left out), or every field written.
    return [e.model_dump_json(exclude_defaults=plain) for e in entries]


# The same instant written three ways: pydantic's "Z"; as iso_utc writes it, which is how a
# terminal's ledger sends it (the hot path takes that text as the stored time); and at another
# offset, as long but not UTC.
TIME_SHAPES = {
    "Z": None,
    "iso_utc": iso_utc,
    "+02:00": lambda at: at.astimezone(timezone(timedelta(hours=2))).isoformat(
        timespec="microseconds"),
}


def _timed(bodies: list[str], entries: list[Entry], shape: str) -> list[str]:
    """``bodies`` with each entry's time written in ``shape`` (see :data:`TIME_SHAPES`)."""
    write = TIME_SHAPES[shape]
    if write is None:
        return bodies
    out = []
    for body, e in zip(bodies, entries, strict=True):
        fields = json.loads(body)
        fields["created_at"] = write(e.created_at)
        out.append(json.dumps(fields, separators=(",", ":")))
    return out


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_the_hot_path_plans_what_the_ordinary_path_plans_or_declines(data: st.DataObject) -> None:
    world = data.draw(worlds())
    entries = data.draw(batches(world))
    bodies = _timed(_bodies(entries, data.draw(st.booleans())), entries,
                    data.draw(st.sampled_from(sorted(TIME_SHAPES))))
    slow_state, fast_state = _states(world)
    plan = plan_batch("T1", entries, bodies, last_seq=0, existing={}, state=slow_state,
                      limits=LIMITS)
    batch = hot.decode(bodies)
    assert batch is not None
    assert hot.admissible(batch, "T1", F, CentralLimits(), NOW)
    fast = hot.plan(batch, fast_state, last_seq=0, limits=LIMITS)
    as_sent = all(
        r.outcome is Outcome.APPLIED and r.code is ResultCode.APPLIED for r in plan.results
    )
    event(f"applied as sent: {as_sent}")
    if not as_sent:
        assert fast is None
        return
    assert fast is not None
    assert fast == writes_of(plan, slow_state)
    answer = BatchResult.model_construct(results=tuple(plan.results)).model_dump_json()
    assert hot.answer_json(batch) == answer


@settings(max_examples=300, deadline=None)
@given(data=st.data())
def test_the_decoder_reads_what_pydantic_reads_or_leaves_it(data: st.DataObject) -> None:
    entries = data.draw(batches(data.draw(worlds())))
    value = json.loads(entries[0].model_dump_json())
    # Change one field to something else a hostile or odd terminal might send.
    where = data.draw(st.sampled_from([
        ("seq",), ("entry_id",), ("created_at",), ("kind",), ("terminal",), ("order_id",),
        ("details", "quantity"), ("details", "sku"), ("details", "reroute"),
        ("details", "message"), ("details", "reason"), ("changes",), ("line_changes",),
        ("extra",), ("details", "extra"),
    ]))
    odd = data.draw(st.one_of(
        st.none(), st.booleans(), st.integers(-(2**70), 2**70), st.floats(allow_nan=False),
        st.text(max_size=70), st.sampled_from([
            "1", "1.0", 1.0, "yes", "2026-12-06T12:00:00Z", "2026-12-06T12:00:00",
            "2026-12-06 12:00:00+00:00", "2026-12-06T12:00:00.1234567+00:00",
            "1999-12-31T23:59:59Z",
            "2200-01-01T00:00:00+00:00", "2199-12-31T23:30:00-01:00", "put_back", "undo",
            "a\n", "a\u0085", "a\x7f", "\ud800", "x" * 64, "x" * 65, "0" * 36, [], [{}], {},
            [{"sku": "S1", "location": "L", "atp": 1}], [{"order_id": "O", "line_no": -1}],
        ]),
    ))
    target = value
    for key in where[:-1]:
        target = target.setdefault(key, {})
    target[where[-1]] = odd
    body = json.dumps(value, ensure_ascii=data.draw(st.booleans()))
    batch = hot.decode([body])
    try:
        entry = Entry.model_validate_json(body)
    except ValueError:
        assert batch is None  # pydantic refuses it: so does the decoder
        return
    if batch is None:
        event("left to pydantic")
        return
    event("read by the decoder")
    [e] = batch.entries
    assert batch.created[0] == entry.created_at
    # Field by field, the same values.
    fast = {
        "kind": e.kind, "entry_id": e.entry_id, "seq": e.seq, "terminal": e.terminal,
        "facility": e.facility, "operator": e.operator, "order_id": e.order_id,
        "details": {f: getattr(e.details, f) for f in EntryDetails.model_fields},
        "changes": [(c.sku, c.location, c.qoh, c.atp) for c in e.changes],
        "line_changes": [
            (c.order_id, c.line_no, c.released, c.rejected, c.put_back, c.withdrawn)
            for c in e.line_changes
        ],
    }
    slow = {
        "kind": entry.kind, "entry_id": entry.entry_id, "seq": entry.seq,
        "terminal": entry.terminal, "facility": entry.facility, "operator": entry.operator,
        "order_id": entry.order_id,
        "details": {f: getattr(entry.details, f) for f in EntryDetails.model_fields},
        "changes": [(c.sku, c.location, c.qoh, c.atp) for c in entry.changes],
        "line_changes": [
            (c.order_id, c.line_no, c.released, c.rejected, c.put_back, c.withdrawn)
            for c in entry.line_changes
        ],
    }
    assert fast == slow


@pytest.mark.parametrize(
    "when",
    ["2026-12-06T12:00:0\uff12.000001+00:00", "2026-12-06T12:00:0\u0668.000001+00:00",
     "2026-02-31T12:00:00.000001+00:00", "2025-02-29T12:00:00.000001+00:00"],
    ids=["fullwidth digit", "arabic-indic digit", "31 February", "29 February 2025"],
)
def test_a_time_no_calendar_reads_is_left_to_pydantic(when: str) -> None:
    r"""Other scripts' digits (the timestamp's shape read them with \d) and 31 February.

    datetime.fromisoformat refuses both: the decoder must not raise.
    """
    entry = _one_put_back()
    value = json.loads(entry.model_dump_json())
    assert hot.decode([json.dumps(value)]) is not None  # as sent, it is read
    value["created_at"] = when
    for ascii_only in (True, False):
        assert hot.decode([json.dumps(value, ensure_ascii=ascii_only)]) is None


def test_the_structs_mirror_the_models_field_for_field() -> None:
    pairs = [(hot.HotEntry, Entry), (hot.HotDetails, EntryDetails),
             (hot.HotStockChange, StockChange), (hot.HotLineChange, LineChange)]
    for struct, model in pairs:
        assert set(struct.__struct_fields__) == set(model.model_fields), struct


# -- through the database: the loader, the writes, the answer ----------------------------------


def _store(root: Path, name: str, world: dict[str, object]) -> CentralStore:
    store = open_store(str(root / f"{name}.sqlite3"))
    _load(store, world)
    return store


def _load(store: CentralStore, world: dict[str, object]) -> None:
    store.limits = LIMITS
    orders: list[Order] = world["orders"]  # type: ignore[assignment]
    qoh: dict[tuple[str, str], int] = world["qoh"]  # type: ignore[assignment]
    atp: dict[str, int] = world["atp"]  # type: ignore[assignment]
    store.import_data(
        products=world["products"],  # type: ignore[arg-type]
        locations=LOCATIONS,
        operators=OPERATORS,
        orders=orders,
        stock=[(F, s, loc, q) for (s, loc), q in qoh.items()],
        atp=[(F, s, a) for s, a in atp.items()],
    )
    store.add_client("T1", ClientKind.TERMINAL, F)


def _tables(store: CentralStore) -> dict[str, list[tuple[object, ...]]]:
    with store.engine.read() as tx:
        return {
            "entries": tx.all(
                "SELECT position, entry_id, terminal, facility, seq, kind, order_id, outcome, "
                "reason, body, effects, ref FROM entries ORDER BY position"),
            "order_lines": tx.all("SELECT * FROM order_lines ORDER BY order_id, line_no"),
            "orders": tx.all("SELECT * FROM orders ORDER BY order_id"),
            "order_progress": tx.all("SELECT * FROM order_progress ORDER BY order_id"),
            "qoh": tx.all("SELECT * FROM stock_qoh ORDER BY facility, sku, location"),
            "atp": tx.all("SELECT * FROM stock_atp ORDER BY facility, sku"),
            "clients": tx.all("SELECT name, last_seq FROM clients ORDER BY name"),
        }


def _world_and_batch(data: st.DataObject) -> tuple[dict[str, object], str]:
    world = data.draw(worlds())
    world["reconciled"] = {}
    return world, batch_json(_bodies(data.draw(batches(world)), True))


def _both_paths_agree(fast_store: CentralStore, slow_store: CentralStore, text: str) -> None:
    """The hot path on one store, the ordinary path on its copy: same answer, same rows."""
    client = Client("T1", ClientKind.TERMINAL, F)
    fast_store.limits = slow_store.limits = LIMITS
    pieces = cut_batch(text)
    assert pieces is not None
    batch = hot.decode(pieces)
    assert batch is not None
    before = _tables(fast_store)
    answer = fast_store.ingest_hot(client, batch)
    received = split_batch(text)
    assert received is not None
    results = slow_store.ingest(client, received.entries, bodies=received.bodies)
    if answer is None:
        event("declined")
        assert not all(r.code is ResultCode.APPLIED for r in results)
        assert _tables(fast_store) == before  # nothing written
        return
    event("hot")
    assert answer == BatchResult.model_construct(results=tuple(results)).model_dump_json()
    assert _tables(fast_store) == _tables(slow_store)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_through_the_database_both_paths_write_and_answer_the_same(data: st.DataObject) -> None:
    world, text = _world_and_batch(data)
    with tempfile.TemporaryDirectory() as root:
        # One import, copied: both stores start the same to the byte (the import's releases
        # make entries of their own, with new IDs and times).
        _store(Path(root), "fast", world).close()
        shutil.copy(Path(root) / "fast.sqlite3", Path(root) / "slow.sqlite3")
        fast_store = open_store(str(Path(root) / "fast.sqlite3"))
        slow_store = open_store(str(Path(root) / "slow.sqlite3"))
        try:
            _both_paths_agree(fast_store, slow_store, text)
        finally:
            fast_store.close()
            slow_store.close()


@pytest.mark.postgres
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_on_postgresql_both_paths_write_and_answer_the_same(
    pg_cluster: ThrowawayPostgres, data: st.DataObject
) -> None:
    """The same on PostgreSQL, whose reads of a batch's orders and lines are its own SQL."""
    world, text = _world_and_batch(data)
    fast_url = pg_cluster.create_database("hot_fast")
    slow_url = fast_url.rsplit("/", 1)[0] + "/" + fast_url.rsplit("/", 1)[1] + "_copy"
    try:
        store = open_store(fast_url)
        _load(store, world)
        store.close()  # no session on the template while it is copied
        with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
            conn.execute(
                f'CREATE DATABASE "{slow_url.rsplit("/", 1)[1]}" '
                f'TEMPLATE "{fast_url.rsplit("/", 1)[1]}"'
            )
        fast_store, slow_store = open_store(fast_url), open_store(slow_url)
        try:
            _both_paths_agree(fast_store, slow_store, text)
        finally:
            fast_store.close()
            slow_store.close()
    finally:
        pg_cluster.drop_database(slow_url)
        pg_cluster.drop_database(fast_url)


def test_an_entry_sent_twice_in_one_batch_goes_the_ordinary_way(tmp_path: Path) -> None:
    world: dict[str, object] = {
        "orders": [Order(order_id="O1", facility=F, status=OrderStatus.CANCELLED,
                         lines=(OrderLine(line_no=1, sku="S1", quantity=5, picked=5),))],
        "products": [Product(sku="S1", description="S1")],
        "qoh": {}, "atp": {}, "reconciled": {},
    }
    entry = _one_put_back()
    again = entry.model_copy(update={"seq": 2})
    batch = hot.decode(_bodies([entry, again], True))
    assert batch is not None
    assert not hot.admissible(batch, "T1", F, CentralLimits(), NOW)
    store = _store(tmp_path, "c", world)
    try:
        results = store.ingest(Client("T1", ClientKind.TERMINAL, F), [entry, again])
    finally:
        store.close()
    assert [r.code for r in results] == [ResultCode.APPLIED, ResultCode.DUPLICATE]


@pytest.mark.parametrize("whose", ["own", "another terminal's"])
def test_an_entry_id_recorded_before_goes_the_ordinary_way_and_writes_nothing(
    store: CentralStore, whose: str
) -> None:
    """The entries' unique keys find it: the hot path writes nothing, the ordinary path answers."""
    store.import_data(
        products=[Product(sku="S1", description="S1")],
        locations=[Location(code="L-ST", facility=F, kind=LocationKind.STORAGE, barcode="L-ST")],
        operators=[Operator(badge="OP-1", name="Op", role="operator")],
        orders=[Order(order_id="O1", facility=F, status=OrderStatus.CANCELLED,
                      lines=(OrderLine(line_no=1, sku="S1", quantity=5, picked=5),))],
        stock=[], atp=[],
    )
    store.add_client("T1", ClientKind.TERMINAL, F)
    store.add_client("T2", ClientKind.TERMINAL, F)

    def put_back(terminal: str, seq: int, entry_id: str | None = None) -> Entry:
        return put_back_entry(terminal, F, seq, "O1", "S1", "L-ST", created_at=NOW,
                              entry_id=entry_id)

    first = put_back("T1" if whose == "own" else "T2", 1)
    sender = Client(first.terminal, ClientKind.TERMINAL, F)
    assert store.ingest_hot(sender, hot.decode(_bodies([first], True))) is not None
    seq = 2 if whose == "own" else 1
    entries = [put_back("T1", seq), put_back("T1", seq + 1, first.entry_id)]
    batch = hot.decode(_bodies(entries, True))
    assert batch is not None
    assert hot.admissible(batch, "T1", F, CentralLimits(), NOW)
    before = _tables(store)
    client = Client("T1", ClientKind.TERMINAL, F)
    assert store.ingest_hot(client, batch) is None
    assert _tables(store) == before  # nothing written
    results = store.ingest(client, entries)
    assert results[0].code is ResultCode.APPLIED
    assert results[1].code is not ResultCode.APPLIED
