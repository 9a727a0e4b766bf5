"""A pull round recomputes only the rows it can change; the result must equal the full rebuild.

On the large data set a full recompute read every stock row (about 30 s for a million products,
holding the ledger's write lock, so scans failed as "locked"); the round now rebuilds just the
keys the pulled rows and the unabsorbed entries touch. Random actions and random pulls here,
and after every pull the projections must be exactly the baseline plus the entries after it,
computed here independently of the ledger's own rebuild; a rebuild of every key then finds
nothing to change, and each location's ``since`` moved only where a pull filled an empty one.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from putback_tui.config import Settings
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.entries import Entry
from putback_tui.domain.errors import Refused
from putback_tui.domain.models import Order
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.ledger.load import load_dataset
from putback_tui.station import Station

ACTIONS = [
    ("open", "D-1002"), ("open", "D-1003"), ("open", "D-1004"), ("open", "D-1001"),
    ("put", ("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")), ("put", ("D-1002", 2, "SOCKS-3PK", "EX-01")),
    ("put", ("D-1003", 1, "MUG-WHT", "A-01-02")), ("put", ("D-1004", 1, "BOTTLE-1L", "EX-01")),
    ("undo", "D-1002"), ("undo", "D-1004"), ("move", ("SOCKS-3PK", "EX-01", "A-02-01")),
    ("cancel_line", ("D-1008", 1, "CUSTOMER REQUEST")), ("reduce", ("D-1005", 1, 1, "PRICE ERROR")),
]
SKUS = ["TSHIRT-BLK-M", "MUG-WHT", "SOCKS-3PK", "BOTTLE-1L"]
LOCATIONS = ["A-01-01", "A-01-02", "A-02-01", "EX-01", "B-01-01"]

DEMO_ORDERS = {o.order_id: o for o in Dataset(DEMO_DIR).orders()}
ORDERS = sorted(o for o, order in DEMO_ORDERS.items() if order.facility == "STORE-01")

pull = st.tuples(
    st.lists(st.tuples(st.sampled_from(SKUS), st.sampled_from(LOCATIONS), st.integers(0, 12)),
             max_size=4),
    st.lists(st.tuples(st.sampled_from(SKUS), st.integers(0, 12)), max_size=3),
    st.integers(0, 6),  # how many of the newest entries the central store has not applied yet
    st.lists(st.sampled_from(ORDERS), max_size=2, unique=True),
    st.booleans(),  # a full snapshot (cursor 0): every order, and these stock rows, are all
)
steps = st.lists(st.one_of(st.sampled_from(ACTIONS), pull.map(lambda p: ("pull", p))),
                 min_size=1, max_size=20)

Qoh = dict[tuple[str, str], int]
Atp = dict[str, int]
Progress = dict[tuple[str, int], tuple[int, int, int, int]]


def projections(ledger: Ledger) -> tuple[Qoh, Atp, Progress]:
    qoh, atp = ledger.stock()
    with ledger.read() as tx:
        progress = {
            (r[0], r[1]): (r[2], r[3], r[4], r[5])
            for r in tx.conn.execute(
                "SELECT order_id, line_no, released, rejected, put_back, withdrawn "
                "FROM line_progress"
            )
        }
    return {(s, loc): n for s, loc, n in qoh}, dict(atp), progress


def since_and_rows(ledger: Ledger) -> tuple[dict[tuple[str, str], tuple[int, str | None]],
                                           Atp, Progress]:
    """Every projection row as stored, ``since`` included."""
    with ledger.read() as tx:
        qoh = {(r[0], r[1]): (r[2], r[3])
               for r in tx.conn.execute("SELECT sku, location, qoh, since FROM stock_qoh")}
        atp = dict(tx.conn.execute("SELECT sku, atp FROM stock_atp").fetchall())
    return qoh, atp, projections(ledger)[2]


def replay(
    qoh: Qoh, atp: Atp, progress: Progress, entries: list[Entry]
) -> tuple[Qoh, Atp, Progress]:
    """Figures plus every entry's changes, in order, each figure stopping at zero (SPEC 9)."""
    qoh, atp, lines = dict(qoh), dict(atp), {k: list(v) for k, v in progress.items()}
    for entry in entries:
        for c in entry.changes:
            if c.location is not None:
                qoh[(c.sku, c.location)] = max(0, qoh.get((c.sku, c.location), 0) + c.qoh)
            else:
                atp[c.sku] = max(0, atp.get(c.sku, 0) + c.atp)
        for lc in entry.line_changes:
            p = lines.setdefault((lc.order_id, lc.line_no), [0, 0, 0, 0])
            for i, delta in enumerate((lc.released, lc.rejected, lc.put_back, lc.withdrawn)):
                p[i] = max(0, p[i] + delta)
    return qoh, atp, {k: (v[0], v[1], v[2], v[3]) for k, v in lines.items()}


def _orders_with_progress(order_ids: set[str], progress: Progress) -> list[Order]:
    """The orders as the central store sends them: its facts, with its line progress."""
    out = []
    for order in DEMO_ORDERS.values():
        if order.order_id in order_ids:
            lines = []
            for line in order.lines:
                rel, rej, put, wd = progress.get((order.order_id, line.line_no), (0, 0, 0, 0))
                lines.append(line.model_copy(update={"released": rel, "rejected": rej,
                                                     "put_back": put, "withdrawn": wd}))
            out.append(order.model_copy(update={"lines": tuple(lines)}))
    return out


@settings(max_examples=30, suppress_health_check=list(HealthCheck))
@given(steps)
def test_projections_equal_the_full_rebuild_after_every_pull(
    tmp_path_factory: object, script: list[tuple[str, object]]
) -> None:
    """After every pull the projections are the baseline this test pulled plus every entry the
    baseline does not include, computed here from the entries themselves.

    The "central store" below is random in its stock figures (other terminals' work) but
    consistent in what a real one always is: when it says this terminal's entries are applied
    through seq N, the orders those entries touched come with line progress that includes them.
    """
    path = Path(tmp_path_factory.mktemp("pull")) / "putback.sqlite3"  # type: ignore[attr-defined]
    ledger = Ledger(path)
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    # The baseline as this test knows it: the data set's stock, no progress, no entry included.
    base_qoh, base_atp, _ = projections(ledger)
    base_progress: Progress = {}
    base_seq = 0
    cursor = 1  # not a full snapshot: the incremental path
    try:
        for kind, arg in script:
            try:
                if kind == "open":
                    station.open_order(arg)  # type: ignore[arg-type]
                elif kind == "put":
                    station.put_back(*arg)  # type: ignore[misc]
                elif kind == "undo":
                    station.undo_last_put_back(arg)  # type: ignore[arg-type]
                elif kind == "move":
                    station.move_out(*arg)  # type: ignore[misc]
                elif kind == "cancel_line":
                    station.cancel_line(*arg)  # type: ignore[misc]
                elif kind == "reduce":
                    station.reduce_line(*arg)  # type: ignore[misc]
            except Refused:
                pass  # the only outcome besides success; a refusal changes nothing
            if kind != "pull":
                continue
            qoh, atp, lag, more_orders, full = arg  # type: ignore[misc]
            entries = ledger.entries()
            through = max(0, len(entries) - lag)
            new_seq = max(base_seq, through)
            # The central store's progress: every entry it applied, from the data set's zero.
            _, _, central_progress = replay({}, {}, {}, entries[:new_seq])
            touched = {lc.order_id for e in entries[base_seq:new_seq] for lc in e.line_changes}
            sent = set(ORDERS) if full else touched | set(more_orders)
            before, pulled_at = since_and_rows(ledger)[0], datetime.now().astimezone()
            with ledger.write() as tx:
                book.apply_page(
                    tx, cursor=0 if full else cursor, next_cursor=cursor + 1, has_more=False,
                    applied_through_seq=through, qoh=qoh, atp=atp,
                    orders=_orders_with_progress(sent, central_progress),
                )
            cursor += 1
            if full:
                base_qoh, base_atp, base_progress = {}, {}, {}
            base_qoh.update({(s, loc): n for s, loc, n in qoh})
            base_atp.update(dict(atp))
            base_progress.update(
                {k: v for k, v in central_progress.items() if k[0] in sent}
            )
            for order_id in sent:
                for line in DEMO_ORDERS[order_id].lines:
                    base_progress.setdefault((order_id, line.line_no), (0, 0, 0, 0))
            base_seq = new_seq
            want = replay(base_qoh, base_atp, base_progress, entries[base_seq:])
            assert projections(ledger) == want
            assert projections(ledger)[:2] == ledger.rebuild_stock()
            after = since_and_rows(ledger)
            for key, (figure, since) in after[0].items():
                old_figure, old_since = before.get(key, (0, None))
                if (old_figure == 0 and figure != 0) or key not in before:
                    assert since is not None
                    assert datetime.fromisoformat(since) >= pulled_at
                else:  # a figure kept, or changed while the location held units: its age kept
                    assert since == old_since
            with ledger.write() as tx:  # a rebuild of every key finds nothing to change
                book.recompute_projections(tx)
            assert since_and_rows(ledger) == after
    finally:
        ledger.close()


def test_a_release_the_central_store_had_made_is_not_counted_twice_once_answered(
    tmp_path: Path,
) -> None:
    """The terminal releases D-1001's units, then pulls the order as the central store holds
    it, released by the central store itself; then the central store answers the terminal's
    release "already released" and sends nothing of the order again (nothing of it changed).
    The release, now behind the baseline, must leave the line's projection: the units are
    released once, as the central store says.
    """
    ledger = Ledger(tmp_path / "putback.sqlite3")
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    station = Station(ledger, Settings())
    station.sign_in("SV-0001")
    station.open_order("D-1001")
    [release] = ledger.entries()
    central = {(c.order_id, c.line_no): (c.released, 0, 0, 0) for c in release.line_changes}
    with ledger.write() as tx:  # the order as released by the central store; not acknowledged
        book.apply_page(tx, cursor=1, next_cursor=2, has_more=False, applied_through_seq=0,
                        orders=_orders_with_progress({"D-1001"}, central))
    with ledger.write() as tx:  # the release answered: nothing of the order changed
        book.apply_page(tx, cursor=2, next_cursor=3, has_more=False,
                        applied_through_seq=release.seq)
    progress = projections(ledger)[2]
    assert {k: v for k, v in progress.items() if k[0] == "D-1001"} == central


def test_a_pull_dates_a_location_from_when_it_stopped_being_empty(tmp_path: Path) -> None:
    """``since`` (the exception area's ageing) through pulls: a location the central store
    fills from empty, or that appears, is dated by the pull; one whose units only change, or
    stay, keeps its date; one emptied keeps it too, until it fills again.
    """
    ledger = Ledger(tmp_path / "putback.sqlite3")
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    cursor = 1

    def pull(*qoh: tuple[str, str, int]) -> datetime:
        nonlocal cursor
        at = datetime.now().astimezone()
        with ledger.write() as tx:
            book.apply_page(tx, cursor=cursor, next_cursor=cursor + 1, has_more=False,
                            applied_through_seq=0, qoh=list(qoh))
        cursor += 1
        return at

    def since(sku: str, location: str) -> datetime:
        with ledger.read() as tx:
            (value,) = tx.conn.execute(
                "SELECT since FROM stock_qoh WHERE sku = ? AND location = ?", (sku, location)
            ).fetchone()
        return datetime.fromisoformat(value)

    first = pull(("MUG-WHT", "EX-01", 3), ("SOCKS-3PK", "EX-01", 0))
    assert since("MUG-WHT", "EX-01") >= first
    assert since("SOCKS-3PK", "EX-01") >= first
    mug, socks = since("MUG-WHT", "EX-01"), since("SOCKS-3PK", "EX-01")
    pull(("MUG-WHT", "EX-01", 7), ("SOCKS-3PK", "EX-01", 0))
    assert (since("MUG-WHT", "EX-01"), since("SOCKS-3PK", "EX-01")) == (mug, socks)
    pull(("MUG-WHT", "EX-01", 0))
    assert since("MUG-WHT", "EX-01") == mug
    filled = pull(("MUG-WHT", "EX-01", 2), ("SOCKS-3PK", "EX-01", 4))
    assert since("MUG-WHT", "EX-01") >= filled > mug
    assert since("SOCKS-3PK", "EX-01") >= filled > socks
    ledger.close()
