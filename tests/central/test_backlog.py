"""The backlog API and read-only viewers, on both engines, over a real server on loopback.

The figures are checked by hand on the demo data set with its orders' exception times moved
next to the test's clock: every expected number is written out below with why.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from putback_tui.central.app import create_app
from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import CentralStore, Client, Tx
from putback_tui.cli import cli
from putback_tui.dataset import DEMO_DIR, Dataset
from putback_tui.domain.models import RejectReason, now_utc
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.sync.worker import SyncWorker
from putback_tui.wire import OUTBOX_HEADER, ClientKind, EntryBatch, batch_json
from tests.central_support import MakeTerminal

MIN = timedelta(minutes=1)

# When each demo order became an exception, in minutes before the test's clock (NOW).
SINCE = {
    "D-1001": 400,  # cancelled, nothing picked: released at import, never waits
    "D-1002": 300,  # cancelled, 3 units picked: first action was due 270 min ago -> overdue
    "D-1003": 26,  # failed, 2 picked (1 unpicked released): first action due in 4 min,
    #                within the last 20% of its 30 min -> due soon
    "D-1004": 10,  # deleted, 1 picked: on time; PACK-01 puts it back below -> cleared
    "D-1007": 100,  # cancelled, 1 picked: first action was due 70 min ago -> overdue
}


@dataclass
class Net:
    store: CentralStore
    now: datetime
    url: str
    tokens: dict[str, str]


@pytest.fixture
def net(store: CentralStore) -> Iterator[Net]:
    now = now_utc()
    data = Dataset(DEMO_DIR)
    orders = [
        o.model_copy(update={"status_changed_at": now - SINCE[o.order_id] * MIN})
        if o.order_id in SINCE
        else o
        for o in data.orders()
    ]
    store.import_data(
        products=list(data.products()), locations=list(data.locations()),
        operators=list(data.operators()), orders=orders, stock=list(data.stock()),
        atp=list(data.atp()),
    )
    tokens = {
        "PACK-01": store.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01"),
        "PACK-02": store.add_client("PACK-02", ClientKind.TERMINAL, "STORE-01"),
        "FAR-01": store.add_client("FAR-01", ClientKind.TERMINAL, "STORE-99"),
        "OMS": store.add_client("OMS", ClientKind.SYSTEM, None),
        "ALL": store.add_viewer("WALL", None),
        "ONE": store.add_viewer("STORE-01-LEAD", ["STORE-01"]),
        "FAR": store.add_viewer("FAR-LEAD", ["STORE-99"]),
    }
    server = BackgroundServer(create_app(store))
    server.start()
    yield Net(store, now, server.url, tokens)
    server.stop()


def _http(net: Net, who: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {net.tokens[who]}"} if who else {}
    return httpx.Client(base_url=net.url, headers=headers, timeout=30)


def _work(net: Net, make_terminal: MakeTerminal) -> None:
    """PACK-01 clears D-1004 and rejects a damaged unit; PACK-02 puts D-1004 back again."""
    one = make_terminal("PACK-01")
    one.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    one.station.reject("D-1005", 1, RejectReason.DAMAGE, 1)
    net.store.ingest(Client("PACK-01", ClientKind.TERMINAL, "STORE-01"), one.ledger.entries())
    two = make_terminal("PACK-02")
    two.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")  # already done: refused
    net.store.ingest(Client("PACK-02", ClientKind.TERMINAL, "STORE-01"), two.ledger.entries())


def test_the_figures_worked_by_hand(net: Net, make_terminal: MakeTerminal) -> None:
    _work(net, make_terminal)
    with _http(net, "ONE") as http:
        answer = http.get("/v1/backlog")
    assert answer.status_code == 200, answer.text
    [store01] = answer.json()["facilities"]
    assert store01["facility"] == "STORE-01"
    # D-1002 (1 + 2 units), D-1003 (2), D-1007 (1); D-1004 was put back, D-1001 had nothing
    # picked.
    assert store01["waiting_orders"] == 3
    assert store01["units_to_put_back"] == 6
    # Unpicked units were released the moment each order became an exception (at import).
    assert store01["units_reserved_on_exceptions"] == 0
    assert (store01["overdue"], store01["due_soon"]) == (2, 1)  # D-1002, D-1007; D-1003
    assert datetime.fromisoformat(store01["oldest_since"]) == net.now - 300 * MIN  # D-1002
    # One order cleared in 24 hours, D-1004: 10 minutes from exception to its first (and
    # last) operator entry; the entry's time is the test's own, a few seconds after NOW.
    assert store01["first_response_median_minutes"] == pytest.approx(10, abs=0.5)
    assert store01["cycle_median_minutes"] == pytest.approx(10, abs=0.5)
    flow = store01["flow"]
    assert len(flow) == 24
    hours = [datetime.fromisoformat(h["hour"]) for h in flow]
    assert hours == [hours[-1] - h * 60 * MIN for h in range(23, -1, -1)]
    # Incoming: the four exception orders with picked units (not D-1001); cleared: D-1004.
    assert sum(h["incoming"] for h in flow) == 4
    assert sum(h["cleared"] for h in flow) == 1
    d1002_hour = (net.now - 300 * MIN).replace(minute=0, second=0, microsecond=0)
    assert flow[hours.index(d1002_hour)]["incoming"] >= 1
    assert store01["top_reasons"] == [
        {"kind": "reject", "reason": "DAMAGE", "entries": 1, "units": 1}
    ]
    # PACK-02's put-back of D-1004 came second: refused, waiting for a supervisor.
    assert store01["refused_waiting"] == 1
    assert [t["terminal"] for t in store01["terminals"]] == ["PACK-01", "PACK-02"]


def test_the_facility_detail_ranks_orders_as_the_worklist_does(
    net: Net, make_terminal: MakeTerminal
) -> None:
    _work(net, make_terminal)
    with _http(net, "ALL") as http:
        answer = http.get("/v1/backlog/STORE-01")
    assert answer.status_code == 200, answer.text
    detail = answer.json()
    orders = {o["order_id"]: o for o in detail["orders"]}
    assert list(orders) == ["D-1002", "D-1007", "D-1003"]  # score order, highest first
    d1002 = orders["D-1002"]
    # Overdue 270 min at 2 points a minute, 3 units at 1 point each.
    assert d1002["sla"] == "overdue"
    assert d1002["sla_text"] == "overdue 4 h 30"
    assert d1002["score"] == 543
    assert d1002["why"] == ["overdue 4 h 30 (+540)", "3 units to put back (+3)"]
    assert d1002["units_to_put_back"] == 3
    assert d1002["age_minutes"] == pytest.approx(300, abs=0.5)
    d1003 = orders["D-1003"]
    assert (d1003["sla"], d1003["sla_text"]) == ("due_soon", "due in 4 min")
    assert d1003["why"] == ["due in 4 min (+30)", "2 units to put back (+2)"]
    assert datetime.fromisoformat(d1003["due_at"]) == net.now + 4 * MIN
    [refused] = detail["refused"]
    assert (refused["terminal"], refused["kind"], refused["order_id"]) == (
        "PACK-02", "put_back", "D-1004"
    )
    assert detail["backlog"]["waiting_orders"] == 3


def test_a_viewer_reads_what_it_may_and_nothing_else(net: Net) -> None:
    with _http(net, "ONE") as http:
        assert http.get("/v1/whoami").json()["facilities"] == ["STORE-01"]
        assert http.get("/v1/events").status_code == 200  # its one facility
        assert http.get("/v1/orders/D-1002/history").status_code == 200
        other = http.get("/v1/backlog/STORE-99")
        assert other.status_code == 403
        assert other.json()["detail"] == (
            "STORE-01-LEAD may not read STORE-99: it may read only STORE-01"
        )
        assert http.get("/v1/events", params={"facility": "STORE-99"}).status_code == 403
    with _http(net, "FAR") as http:
        history = http.get("/v1/orders/D-1002/history")  # a STORE-01 order
        assert history.status_code == 403
        assert "may not read STORE-01" in history.json()["detail"]
        assert [f["facility"] for f in http.get("/v1/backlog").json()["facilities"]] == [
            "STORE-99"
        ]
    with _http(net, "ALL") as http:
        names = [f["facility"] for f in http.get("/v1/backlog").json()["facilities"]]
        assert names == ["STORE-01", "STORE-99"]  # the locations' and the terminals'


@pytest.mark.parametrize("who", ["ALL", "ONE"])
def test_every_write_is_refused_to_a_viewer(net: Net, who: str) -> None:
    batch = EntryBatch.model_json_schema()  # any body: the token is refused first
    calls = [
        ("POST", "/v1/entries", {"version": 1, "entries": []}),
        ("PUT", "/v1/orders/D-1005/status", {"status": "cancelled"}),
        ("GET", "/v1/changes", None),
        ("GET", "/v1/entries/own", None),
    ]
    assert batch
    with _http(net, who) as http:
        for method, path, body in calls:
            answer = http.request(method, path, json=body)
            assert answer.status_code == 403, (method, path, answer.text)
            assert "read-only viewer" in answer.json()["detail"]
    assert net.store.order("D-1005").status.value == "open"  # type: ignore[union-attr]


def test_unknown_facility_and_order_are_404_and_bad_tokens_401(net: Net) -> None:
    with _http(net, "ALL") as http:
        unknown = http.get("/v1/backlog/STORE-42")
        assert unknown.status_code == 404
        assert unknown.json()["detail"] == (
            "No facility STORE-42: no location, order or terminal names it."
        )
        assert http.get("/v1/orders/NOPE/history").json()["detail"] == "No order NOPE."
    for token in (None, "pbk_not-a-token"):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        with httpx.Client(base_url=net.url, headers=headers) as http:
            for path in ("/v1/backlog", "/v1/backlog/STORE-01", "/v1/orders/D-1002/history"):
                assert http.get(path).status_code == 401, (token, path)


def test_a_terminal_and_a_system_read_the_backlog_within_their_scope(net: Net) -> None:
    with _http(net, "FAR-01") as http:
        assert [f["facility"] for f in http.get("/v1/backlog").json()["facilities"]] == [
            "STORE-99"
        ]
        assert http.get("/v1/backlog/STORE-01").status_code == 403
    with _http(net, "OMS") as http:
        assert http.get("/v1/backlog/STORE-01").status_code == 200


def test_terminals_report_their_outbox_and_last_contact(
    net: Net, make_terminal: MakeTerminal
) -> None:
    with _http(net, "PACK-02") as http:
        pulled = http.get("/v1/changes", headers={OUTBOX_HEADER: "17"})
        assert pulled.status_code == 200
        bad = http.get("/v1/changes", headers={OUTBOX_HEADER: "-1"})
        assert bad.status_code == 422
    # The real sync worker: sends its entries, then reports an empty outbox.
    t = make_terminal("PACK-01")
    t.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    worker = SyncWorker(t.path, t.sync_settings(net.url, net.tokens["PACK-01"]))
    assert worker.run_once().last_error is None
    with _http(net, "ONE") as http:
        terminals = {
            t["terminal"]: t for t in http.get("/v1/backlog").json()["facilities"][0]["terminals"]
        }
    assert terminals["PACK-02"]["waiting_to_send"] == 17
    assert terminals["PACK-01"]["waiting_to_send"] == 0
    assert terminals["PACK-01"]["last_seq"] > 0
    for name in ("PACK-01", "PACK-02"):
        seen = datetime.fromisoformat(terminals[name]["last_contact"])
        assert seen >= net.now


def test_an_order_history_says_who_did_what_where(net: Net, make_terminal: MakeTerminal) -> None:
    _work(net, make_terminal)
    with _http(net, "ONE") as http:
        history = http.get("/v1/orders/D-1004/history").json()
    done = [(e["entry"]["terminal"], e["entry"]["kind"], e["outcome"]) for e in history["entries"]]
    assert done == [("PACK-01", "put_back", "applied"), ("PACK-02", "put_back", "refused")]
    assert history["entries"][0]["entry"]["operator"] == "SV-0001"
    assert history["entries"][1]["reason"]


def test_add_viewer_prints_a_token_that_reads_the_backlog(tmp_path: Path) -> None:
    db = str(tmp_path / "central.sqlite3")
    runner = CliRunner()
    done = runner.invoke(
        cli, ["central", "add-viewer", "--db", db, "--facility", "STORE-01", "WALL"]
    )
    assert done.exit_code == 0, done.output
    token = done.stdout.strip()
    assert token.startswith("pbk_")
    again = runner.invoke(cli, ["central", "add-viewer", "--db", db, "WALL"])
    assert again.exit_code == 1
    assert "WALL is already enrolled" in again.output
    clash = runner.invoke(
        cli, ["central", "add-terminal", "--db", db, "--facility", "STORE-01", "WALL"]
    )
    assert clash.exit_code == 1
    assert "already enrolled as a viewer" in clash.output
    bad = runner.invoke(cli, ["central", "add-viewer", "--db", db, "--facility", "A\x1bB", "X"])
    assert bad.exit_code == 2
    assert "control character" in bad.output


def test_replace_gives_a_viewer_a_new_token_and_scope_and_doctor_lists_it(
    tmp_path: Path,
) -> None:
    db = str(tmp_path / "central.sqlite3")
    runner = CliRunner()
    first = runner.invoke(cli, ["central", "add-viewer", "--db", db, "WALL"]).stdout.strip()
    second = runner.invoke(
        cli, ["central", "add-viewer", "--db", db, "--replace", "--facility", "STORE-02", "WALL"]
    )
    assert second.exit_code == 0, second.output
    from putback_tui.central.storage import open_store

    store = open_store(db)
    try:
        assert store.authenticate(first) is None  # the old token stopped working
        viewer = store.authenticate(second.stdout.strip())
        assert viewer is not None
        assert (viewer.kind, viewer.facilities) == (ClientKind.VIEWER, ("STORE-02",))
    finally:
        store.close()
    doctor = runner.invoke(cli, ["central", "doctor", "--db", db])
    assert "viewer WALL at STORE-02" in doctor.output


def test_the_largest_outbox_a_terminal_may_report_is_shown_as_documented(net: Net) -> None:
    """Schemathesis found it: the header takes up to the largest sequence number while the
    backlog's figure was documented up to 10^9, so the answer broke its own schema.
    """
    huge = 2**53 - 1
    with _http(net, "PACK-02") as http:
        assert http.get("/v1/changes", headers={OUTBOX_HEADER: str(huge)}).status_code == 200
        assert http.get("/v1/changes", headers={OUTBOX_HEADER: str(huge + 1)}).status_code == 422
    with _http(net, "ONE") as http:
        answer = http.get("/v1/backlog")
    assert answer.status_code == 200, answer.text
    terminals = {t["terminal"]: t for t in answer.json()["facilities"][0]["terminals"]}
    assert terminals["PACK-02"]["waiting_to_send"] == huge
    with _http(net, None) as http:
        schema = http.get("/openapi.json").json()["components"]["schemas"]["TerminalContact"]
    documented = schema["properties"]["waiting_to_send"]["anyOf"][0]
    assert documented["maximum"] >= huge  # the answer is as documented


def _outgoing_body(path: Path) -> bytes:
    """The terminal's unsent entries as the sync worker sends them, one batch."""
    ledger = Ledger(path)
    with ledger.read() as tx:
        page = book.outgoing(tx, 0, 200)
    ledger.close()
    return batch_json(list(page.entries_json)).encode()


def test_a_batch_notes_the_terminals_contact_in_its_own_transaction(
    net: Net, make_terminal: MakeTerminal, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A drain's outbox count changes with every batch, so every batch notes the contact: in
    # the batch's transaction, one commit for the batch, not a second transaction of its own.
    writes: list[str | None] = []
    write = net.store.engine.write

    def counted(facility: str | None = None) -> AbstractContextManager[Tx]:
        writes.append(facility)
        return write(facility)

    monkeypatch.setattr(net.store.engine, "write", counted)
    t = make_terminal("PACK-01")
    t.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
    body = _outgoing_body(t.path)
    headers = {"Content-Type": "application/json"}
    with _http(net, "PACK-01") as http:
        # A plain put-back (the hot path), then the same batch again (duplicates: the hot
        # path's transaction finds them and rolls back, then the ordinary path's), each with
        # the outbox the terminal reports.
        for waiting, outcome, transactions in ((5, "applied", 1), (3, "duplicate", 2)):
            answer = http.post(
                "/v1/entries", content=body, headers={**headers, OUTBOX_HEADER: str(waiting)}
            )
            assert [r["outcome"] for r in answer.json()["results"]] == [outcome]
            assert writes == ["STORE-01"] * transactions, waiting
            writes.clear()
            with _http(net, "ONE") as viewer:
                terminals = {
                    t["terminal"]: t
                    for t in viewer.get("/v1/backlog").json()["facilities"][0]["terminals"]
                }
            assert terminals["PACK-01"]["waiting_to_send"] == waiting
            assert datetime.fromisoformat(terminals["PACK-01"]["last_contact"]) >= net.now


def test_a_batch_is_handed_to_the_thread_pool_only_to_authenticate_and_to_be_applied(
    net: Net,
) -> None:
    # Every plain function FastAPI calls for a request is a hand-over to its thread pool and
    # back, which cost more CPU than applying a one-entry batch; the checks that do no I/O
    # are coroutines, and the batch is validated on the thread that applies it.
    app = create_app(net.store)
    route = next(
        r
        for r in app.routes
        if isinstance(r, APIRoute) and r.path == "/v1/entries" and "POST" in r.methods
    )

    def plain(dependant: Dependant) -> list[str]:
        call = dependant.call
        found = [] if call is None or _is_coroutine(call) else [getattr(call, "__name__", "?")]
        for sub in dependant.dependencies:
            found += plain(sub)
        return found

    assert sorted(plain(route.dependant)) == ["client", "post_entries"]


def _is_coroutine(call: object) -> bool:
    return inspect.iscoroutinefunction(call) or inspect.iscoroutinefunction(
        type(call).__call__  # a dependency object (HTTPBearer): its __call__
    )


def test_a_batch_is_answered_in_the_same_order_of_checks(
    net: Net, make_terminal: MakeTerminal
) -> None:
    # The token, then the body, then the outbox header: the order the answers always came in.
    bad = {"Content-Type": "application/json", OUTBOX_HEADER: "-1"}
    with httpx.Client(base_url=net.url) as anonymous:
        assert anonymous.post("/v1/entries", content=b"{}", headers=bad).status_code == 401
    with _http(net, "ALL") as viewer:
        assert viewer.post("/v1/entries", content=b"{}", headers=bad).status_code == 403
    with _http(net, "PACK-01") as http:
        not_utf8 = http.post("/v1/entries", content=b"\xff", headers=bad)
        assert (not_utf8.status_code, not_utf8.json()["detail"]) == (
            400,
            "the body is not UTF-8 JSON",
        )
        no_batch = http.post("/v1/entries", content=b"{}", headers=bad)
        assert no_batch.status_code == 422
        assert no_batch.json()["detail"][0]["loc"][0] == "body"
        t = make_terminal("PACK-01")
        t.station.put_back("D-1004", 1, "BOTTLE-1L", "B-01-01")
        refused = http.post("/v1/entries", content=_outgoing_body(t.path), headers=bad)
        assert refused.status_code == 422
        assert refused.json()["detail"][0]["loc"] == ["header", OUTBOX_HEADER]
    assert net.store.last_seq("PACK-01") == 0


def test_a_token_is_looked_up_in_one_statement_without_a_transaction(
    net: Net, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Every request authenticates: one statement over terminals, systems and viewers, not a
    # read transaction around two (on PostgreSQL three round trips instead of one).
    def no_transaction() -> None:
        raise AssertionError("authentication opened a transaction")

    monkeypatch.setattr(net.store.engine, "read", no_transaction)
    found = {
        who: net.store.authenticate(net.tokens[who]) for who in ("PACK-01", "OMS", "ONE", "ALL")
    }
    assert {who: (c.name, c.kind, c.facility, c.facilities) for who, c in found.items() if c} == {
        "PACK-01": ("PACK-01", ClientKind.TERMINAL, "STORE-01", None),
        "OMS": ("OMS", ClientKind.SYSTEM, None, None),
        "ONE": ("STORE-01-LEAD", ClientKind.VIEWER, None, ("STORE-01",)),
        "ALL": ("WALL", ClientKind.VIEWER, None, None),
    }
    assert net.store.authenticate("pbk_not-a-token") is None
    net.store.add_viewer("STORE-01-LEAD", ["STORE-99"], replace=True)
    assert net.store.authenticate(net.tokens["ONE"]) is None  # the old token stops at once
