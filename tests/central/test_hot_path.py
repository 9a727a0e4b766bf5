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
from putback_tui.central.ingest import BatchState, Plan, Stock, plan_batch, writes_of
from putback_tui.central.limits import CentralLimits
from putback_tui.central.server import BackgroundServer
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
from putback_tui.wire import BatchResult, ClientKind, ResultCode, batch_json
from tests.central_support import Central, MakeTerminal, put_back_entry
from tests.support.throwaway_pg import ThrowawayPostgres
from tests.sync.test_worker import assert_synced, worker_for

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
HOT_CODES = {ResultCode.APPLIED, ResultCode.ALREADY_RELEASED}
"""The answers of a batch the hot path takes: applied as sent, or a release with nothing left."""
NOW = datetime(2026, 12, 6, 12, 0, tzinfo=UTC)


@st.composite
def lines(draw: st.DrawFn, picked_from: tuple[int, ...]) -> tuple[OrderLine, ...]:
    out = []
    for n in range(1, draw(st.integers(1, 3)) + 1):
        quantity = draw(st.integers(0, 6))
        picked = draw(st.sampled_from(picked_from))
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
def worlds(draw: st.DrawFn, picked_from: tuple[int, ...] = (6, 6, 6, 4, 1, 0)) -> dict[str, object]:
    """Orders, products, stock and operators; ``picked_from``: each line's picked units."""
    orders = [
        Order(
            order_id=f"O{i}",
            facility=draw(st.sampled_from([F] * 6 + ["F2"])),
            status=draw(st.sampled_from([*[OrderStatus.CANCELLED] * 6, *OrderStatus])),
            lines=draw(lines(picked_from)),
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
def batches(draw: st.DrawFn, world: dict[str, object], release_odds: int = 3) -> list[Entry]:
    """Put-backs and releases (one in ``release_odds``) in sequence, of terminal T1."""
    orders: list[Order] = world["orders"]  # type: ignore[assignment]
    n = draw(st.sampled_from([1, 1, 2, 3, 6]))
    first = 2 if draw(st.integers(0, 19)) == 19 else 1
    out = []
    mine = [o for o in orders if o.facility == F] or orders
    for i in range(n):
        # Mostly what an honest terminal sends; now and then anything at all.
        honest = draw(st.integers(0, 3)) < 3
        if draw(st.integers(1, release_odds)) == 1:
            # An honest terminal releases an exception order of its own facility.
            exceptions = [o for o in mine if o.status.is_exception] or mine
            out.append(draw(releases(exceptions if honest else orders, honest, first + i)))
            continue
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


def release_effects(order: Order) -> tuple[list[StockChange], list[LineChange]]:
    """What ``rules.release`` derives for ``order`` as it stands, written out by hand."""
    atp: dict[str, int] = {}
    line_changes = []
    for ln in order.lines:
        left = max(max(ln.quantity - ln.picked, 0) - ln.released - ln.rejected, 0)
        if left:
            atp[ln.sku] = atp.get(ln.sku, 0) + left
            line_changes.append(LineChange(order_id=order.order_id, line_no=ln.line_no,
                                           released=left))
    return [StockChange(sku=s, atp=n) for s, n in atp.items()], line_changes


@st.composite
def releases(draw: st.DrawFn, orders: list[Order], honest: bool, seq: int) -> Entry:
    """A release as a terminal sends it: of an order as the terminal last saw it (before this
    batch; the central store may have released it since), by the automatic operator or the
    operator signed in; now and then with other effects, another order or another operator.
    """
    order = draw(st.sampled_from(orders))
    changes, line_changes = release_effects(order)
    order_id = order.order_id if honest else draw(st.sampled_from([order.order_id, "O-X"]))
    if draw(st.integers(0, 3)) == 3:  # a terminal that worked out something else
        mangle = draw(st.sampled_from(["lines", "stock", "units", "atp", "nothing", "other"]))
        if mangle == "lines":
            line_changes = line_changes[::-1] if len(line_changes) > 1 else line_changes * 2
        elif mangle == "stock":
            changes = [*changes, StockChange(sku="S1", atp=1)]
        elif mangle == "units" and line_changes:
            line_changes[0] = line_changes[0].model_copy(
                update={"released": line_changes[0].released + 1})
        elif mangle == "atp" and changes:
            changes[0] = changes[0].model_copy(update={"atp": changes[0].atp + 1})
        elif mangle == "nothing":
            changes, line_changes = [], []
        elif mangle == "other" and line_changes:
            line_changes[0] = line_changes[0].model_copy(update={"rejected": 1})
    operator = draw(st.sampled_from(
        ["system", "OP-1"] if honest else ["system", *(o.badge for o in OPERATORS), "X"]
    ))
    units = sum(c.released for c in line_changes)
    return Entry(
        kind=EntryKind.RELEASE,
        entry_id=new_entry_id(),
        seq=seq,
        terminal="T1",
        facility=F,
        operator=operator,
        created_at=NOW - timedelta(minutes=10 - seq, microseconds=draw(st.integers(0, 999))),
        order_id=order_id,
        details=EntryDetails(quantity=units or None),
        changes=tuple(changes),
        line_changes=tuple(line_changes),
    )


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
                # Lines in no particular order, as the database may return them.
                {ln.line_no: [ln.sku, ln.quantity, ln.picked, ln.lot, ln.released, ln.rejected,
                              ln.put_back, ln.withdrawn] for ln in reversed(o.lines)},
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
    _plans_agree(world, entries, bodies)


def _both_plans(
    world: dict[str, object], entries: list[Entry], bodies: list[str]
) -> tuple[Plan, hot.HotPlan | None, BatchState, hot.HotBatch]:
    """The batch planned both ways over the same world: the ordinary plan, the hot plan (None:
    declined), the ordinary path's state after it, and the batch as the hot path read it.
    """
    slow_state, fast_state = _states(world)
    plan = plan_batch("T1", entries, bodies, last_seq=0, existing={}, state=slow_state,
                      limits=LIMITS)
    batch = hot.decode(bodies)
    assert batch is not None
    assert hot.admissible(batch, "T1", F, CentralLimits(), NOW)
    return plan, hot.plan(batch, fast_state, last_seq=0, limits=LIMITS), slow_state, batch


def _plans_agree(world: dict[str, object], entries: list[Entry], bodies: list[str]) -> None:
    """The hot path plans the ordinary path's rows and answer, or declines where it does not
    apply every entry (as sent, or a release with nothing left).
    """
    plan, fast, slow_state, batch = _both_plans(world, entries, bodies)
    as_sent = all(r.code in HOT_CODES for r in plan.results)
    event(f"applied as sent: {as_sent}")
    for e, r in zip(entries, plan.results, strict=True):
        event(f"{e.kind.value}: {r.code.value if r.code else None}")
    if not as_sent:
        assert fast is None
        return
    assert fast is not None
    assert fast.writes == writes_of(plan, slow_state)
    answer = BatchResult.model_construct(results=tuple(plan.results)).model_dump_json()
    assert hot.answer_json(batch, fast.nothing_left) == answer


@settings(max_examples=800, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_releases_the_hot_path_plans_what_the_ordinary_path_plans_or_declines(
    data: st.DataObject,
) -> None:
    """The same, over orders with unpicked units still reserved and batches mostly of releases."""
    world = data.draw(worlds(picked_from=(0, 0, 1, 4, 6)))
    entries = data.draw(batches(world, release_odds=2))
    _plans_agree(world, entries, _bodies(entries, data.draw(st.booleans())))


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
    if world.get("unreleased"):
        # The import released every exception order's reserved units (central/releases.py);
        # put the lines and ATP back as the world has them, as a store holds an order a
        # terminal learned of first, so that a terminal's release frees units here too.
        with store.engine.write(F) as tx:
            tx.many(
                "UPDATE order_lines SET released = ? WHERE order_id = ? AND line_no = ?",
                [(ln.released, o.order_id, ln.line_no) for o in orders for ln in o.lines],
            )
            tx.many(
                "UPDATE stock_atp SET atp = ? WHERE facility = ? AND sku = ?",
                [(atp.get(sku, 0), F, sku) for sku in SKUS],
            )


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
    world = data.draw(worlds(picked_from=data.draw(st.sampled_from(
        [(6, 6, 6, 4, 1, 0), (0, 0, 1, 4, 6)]))))
    world["reconciled"] = {}
    world["unreleased"] = data.draw(st.booleans())
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
        assert not all(r.code in HOT_CODES for r in results)
        assert _tables(fast_store) == before  # nothing written
        return
    event("hot")
    for r in results:
        event(f"hot, {r.code.value if r.code else None}")
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


# -- releases ------------------------------------------------------------------------------------

_OPEN = Order(
    order_id="O1", facility=F, status=OrderStatus.CANCELLED,
    lines=(
        OrderLine(line_no=1, sku="S1", quantity=5, picked=2),
        OrderLine(line_no=2, sku="S2", quantity=3, picked=0),
        OrderLine(line_no=3, sku="S1", quantity=2, picked=0),
    ),
)
"""A cancelled order with unpicked units still reserved on every line: a release frees 3 + 2
units of S1 (lines 1 and 3) and 3 of S2 (line 2)."""


def _release(changes: list[StockChange], line_changes: list[LineChange], seq: int = 1) -> Entry:
    return Entry(
        kind=EntryKind.RELEASE, entry_id=new_entry_id(), seq=seq, terminal="T1", facility=F,
        operator="OP-1", created_at=NOW, order_id="O1",
        details=EntryDetails(quantity=sum(c.released for c in line_changes) or None),
        changes=tuple(changes), line_changes=tuple(line_changes),
    )


def _plan_both(world: dict[str, object], entries: list[Entry]) -> tuple[list[ResultCode], bool]:
    """The ordinary path's answer codes, and whether the hot path took the batch."""
    plan, fast, _, _ = _both_plans(world, entries, _bodies(entries, True))
    return [r.code for r in plan.results if r.code is not None], fast is not None


def test_a_release_as_the_rules_derive_it_is_planned_the_hot_way_and_frees_every_unit() -> None:
    world = {"orders": [_OPEN], "products": [], "qoh": {}, "atp": {"S1": 7}, "reconciled": {}}
    changes, line_changes = release_effects(_OPEN)
    assert changes == [StockChange(sku="S1", atp=5), StockChange(sku="S2", atp=3)]
    fast_state = _states(world)[1]
    entries = [_release(changes, line_changes)]
    fast = hot.plan(hot.decode(_bodies(entries, True)), fast_state, last_seq=0, limits=LIMITS)
    assert fast is not None
    assert fast.writes.atp == [("S1", 12), ("S2", 3)]
    assert [ln[:3] for ln in fast.writes.lines] == [(3, 0, 0), (3, 0, 0), (2, 0, 0)]
    assert fast.writes.sums == {"O1": (2, 0)}  # the 2 picked units still to put back
    assert fast.nothing_left == frozenset()
    assert _plan_both(world, entries) == ([ResultCode.APPLIED], True)


@pytest.mark.parametrize("claimed", [
    "lines in another order", "an ATP change too many", "a line's units one more",
    "an ATP change one more", "no effects", "a line rejected", "no S2",
])
def test_a_release_claiming_other_effects_than_the_rules_goes_the_ordinary_way(
    claimed: str,
) -> None:
    """The ordinary path answers it with the effects it derived; the hot path declines."""
    changes, line_changes = release_effects(_OPEN)
    if claimed == "lines in another order":
        line_changes = line_changes[::-1]
    elif claimed == "an ATP change too many":
        changes = [*changes, StockChange(sku="S3", atp=1)]
    elif claimed == "a line's units one more":
        line_changes[0] = line_changes[0].model_copy(update={"released": 4})
    elif claimed == "an ATP change one more":
        changes[1] = StockChange(sku="S2", atp=4)
    elif claimed == "no effects":
        changes, line_changes = [], []
    elif claimed == "a line rejected":
        line_changes[2] = line_changes[2].model_copy(update={"rejected": 1})
    else:
        changes = changes[:1]
    world = {"orders": [_OPEN], "products": [], "qoh": {}, "atp": {}, "reconciled": {}}
    entries = [_release(changes, line_changes)]
    assert _plan_both(world, entries) == ([ResultCode.APPLIED_AS_DERIVED], False)


@pytest.mark.parametrize(("why", "code"), [
    ("ATP at the cap", ResultCode.REFUSED),
    ("a live order", ResultCode.REFUSED),
    ("an operator not known here", ResultCode.REFUSED),
])
def test_a_release_the_rules_refuse_goes_the_ordinary_way(why: str, code: ResultCode) -> None:
    live = why == "a live order"
    order = _OPEN.model_copy(update={"status": OrderStatus.OPEN}) if live else _OPEN
    atp = {"S2": 998} if why == "ATP at the cap" else {}
    world = {"orders": [order], "products": [], "qoh": {}, "atp": atp, "reconciled": {}}
    entry = _release(*release_effects(_OPEN))
    if why == "an operator not known here":
        entry = entry.model_copy(update={"operator": "OP-4"})  # works at F2
    assert _plan_both(world, [entry]) == ([code], False)


def test_a_second_release_of_an_order_in_one_batch_is_applied_with_nothing_left() -> None:
    changes, line_changes = release_effects(_OPEN)
    world = {"orders": [_OPEN], "products": [], "qoh": {}, "atp": {}, "reconciled": {}}
    entries = [_release(changes, line_changes), _release(changes, line_changes, seq=2)]
    assert _plan_both(world, entries) == (
        [ResultCode.APPLIED, ResultCode.ALREADY_RELEASED], True
    )


@pytest.mark.parametrize("reserved", [True, False], ids=["units reserved", "released already"])
def test_a_release_is_written_the_hot_way_freeing_what_is_still_reserved(
    store: CentralStore, reserved: bool
) -> None:
    """Through the database: the ATP of a release's SKUs is read only for an order still
    holding reserved units, and the release frees them once.
    """
    world: dict[str, object] = {
        "orders": [_OPEN], "products": [Product(sku="S1", description="S1")], "qoh": {},
        "atp": {"S1": 7}, "reconciled": {}, "unreleased": reserved,
    }
    _load(store, world)
    before = store.stock(F)[1]
    assert before == ({"S1": 7, "S2": 0} if reserved else {"S1": 12, "S2": 3})
    entry = _release(*release_effects(_OPEN))
    batch = hot.decode(_bodies([entry], True))
    assert batch is not None
    answer = store.ingest_hot(Client("T1", ClientKind.TERMINAL, F), batch)
    assert answer is not None
    [result] = BatchResult.model_validate_json(answer).results
    assert result.code is (ResultCode.APPLIED if reserved else ResultCode.ALREADY_RELEASED)
    assert store.stock(F)[1] == {"S1": 12, "S2": 3}


def test_a_terminals_drain_of_opened_orders_goes_the_hot_way_and_releases_nothing_twice(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Opening D-1001 and D-1003 releases their unpicked units on the terminal; the central
    store released them when the demo was imported. Every batch is taken by the hot path, the
    releases are answered "already released", and both sides hold the same stock.
    """
    t = make_terminal()
    t.station.open_order("D-1001")
    t.station.open_order("D-1003")
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    kinds = [e.kind for e in t.ledger.entries()]
    assert kinds.count(EntryKind.RELEASE) == 2
    ordinary: list[int] = []
    ingest = central.store.ingest

    def counted(*args: object, **kwargs: object) -> object:
        ordinary.append(1)
        return ingest(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(central.store, "ingest", counted)
    worker = worker_for(t, server, central)
    try:
        state = worker.run_once()
    finally:
        worker.stop()
    assert (state.online, state.last_error, state.waiting, state.refused) == (True, None, 0, 0)
    assert ordinary == []
    assert_synced(t, central, len(kinds))
    with t.ledger.read() as tx:
        answered = tx.conn.execute(
            "SELECT e.kind, a.outcome FROM sync_answers a JOIN entries e USING (seq) "
            "ORDER BY a.seq"
        ).fetchall()
    assert [tuple(r) for r in answered] == [(k.value, "applied") for k in kinds]
