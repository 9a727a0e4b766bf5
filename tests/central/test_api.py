"""The HTTP API on a real server on loopback: auth, refusals of bad requests, OMS input."""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest

import putback_tui
from putback_tui.central.server import BackgroundServer, free_port
from putback_tui.central.storage import PostgresEngine
from putback_tui.domain.entries import Entry
from putback_tui.domain.models import Location, LocationKind, Order, OrderLine, OrderStatus
from putback_tui.wire import MAX_BATCH_ENTRIES, EntryBatch
from tests.central_support import Central, MakeTerminal, from_terminals

JSON = {"Content-Type": "application/json"}


def _http(server: BackgroundServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def _body(entries: list[Entry]) -> str:
    return EntryBatch(entries=tuple(entries)).model_dump_json()


@pytest.fixture
def entries(make_terminal: MakeTerminal) -> list[Entry]:
    t = make_terminal("PACK-01")
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01")
    return t.ledger.entries()


def test_every_call_needs_a_valid_token(server: BackgroundServer) -> None:
    calls = [("GET", "/v1/whoami"), ("POST", "/v1/entries"), ("GET", "/v1/changes"),
             ("GET", "/v1/events"), ("PUT", "/v1/orders/D-1001/status"),
             ("GET", "/v1/entries/own"), ("GET", "/v1/backlog"), ("GET", "/v1/backlog/STORE-01"),
             ("GET", "/v1/orders/D-1002/history")]
    for token in (None, "pbk_not-a-token"):
        with _http(server, token) as http:
            for method, path in calls:
                response = http.request(method, path, json={})
                assert response.status_code == 401, (token, method, path)
                assert response.headers["www-authenticate"] == "Bearer"


def test_openapi_is_published_with_versioned_paths(server: BackgroundServer) -> None:
    with _http(server, None) as http:
        doc = http.get("/openapi.json").json()
    assert doc["paths"]
    assert all(p.startswith("/v1/") for p in doc["paths"])


def test_every_whole_number_in_a_query_is_documented_with_its_bounds(
    server: BackgroundServer,
) -> None:
    # A client (and schemathesis) reads the bounds from the OpenAPI: written as JSON Schema's
    # minimum and maximum, never as the parameter's own ge/le, which no client understands.
    with _http(server, None) as http:
        doc = http.get("/openapi.json").json()
    numbers = {
        (path, p["name"]): p["schema"]
        for path, item in doc["paths"].items()
        for op in item.values()
        for p in op.get("parameters", ())
        if p["in"] == "query" and p["schema"].get("type") == "integer"
    }
    assert ("/v1/events", "cursor") in numbers
    for where, schema in numbers.items():
        assert {"minimum", "maximum"} <= schema.keys(), where
        assert not {"ge", "le"} & schema.keys(), where


def test_push_and_answer(server: BackgroundServer, central: Central, entries: list[Entry]) -> None:
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", content=_body(entries), headers=JSON)
    assert response.status_code == 200
    assert [r["outcome"] for r in response.json()["results"]] == ["applied"] * len(entries)


@pytest.mark.parametrize(
    ("token", "expect"),
    [("PACK-02", "PACK-02 at STORE-01"),  # another terminal's entries
     ("FAR-01", "FAR-01 at STORE-99"),  # another facility
     ("OMS", "not a terminal")],
)
def test_a_terminal_pushes_only_its_own_entries(
    server: BackgroundServer, central: Central, entries: list[Entry], token: str, expect: str
) -> None:
    with _http(server, central.tokens[token]) as http:
        response = http.post("/v1/entries", content=_body(entries), headers=JSON)
    assert response.status_code == 403
    assert expect in response.json()["detail"]
    assert from_terminals(central.store) == []


def test_facility_data_is_private(server: BackgroundServer, central: Central) -> None:
    with _http(server, central.tokens["PACK-01"]) as http:
        assert http.get("/v1/events", params={"facility": "STORE-99"}).status_code == 403
        assert http.get("/v1/events").status_code == 200
        refused = http.put("/v1/orders/D-1005/status", json={"status": "cancelled"})
        assert refused.status_code == 403
    with _http(server, central.tokens["OMS"]) as http:
        assert http.get("/v1/changes").status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "{}",
        '{"entries": []}',
        '{"version": 2, "entries": []}',
    ],
)
def test_malformed_batches_are_refused_whole(
    server: BackgroundServer, central: Central, body: str
) -> None:
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", content=body,
                             headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"]
    assert from_terminals(central.store) == []


def test_a_batch_with_one_bad_entry_applies_nothing(
    server: BackgroundServer, central: Central, entries: list[Entry]
) -> None:
    doc = json.loads(_body(entries))
    doc["entries"][-1]["surprise"] = 1
    with _http(server, central.tokens["PACK-01"]) as http:
        assert http.post("/v1/entries", json=doc).status_code == 422
        doc = json.loads(_body(entries[::-1]))
        response = http.post("/v1/entries", json=doc)
    assert response.status_code == 422
    assert "increasing seq" in response.json()["detail"][0]["msg"]
    assert from_terminals(central.store) == []


def test_too_many_entries_is_refused(
    server: BackgroundServer, central: Central, entries: list[Entry]
) -> None:
    doc = json.loads(_body(entries[:1]))
    doc["entries"] = doc["entries"] * (MAX_BATCH_ENTRIES + 1)
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", json=doc)
    assert response.status_code == 422
    assert from_terminals(central.store) == []


def test_oversized_bodies_are_refused_before_reading_them(
    server: BackgroundServer, central: Central
) -> None:
    big = b"x" * (9 * 1024 * 1024)

    def chunks() -> Iterator[bytes]:
        for i in range(0, len(big), 1 << 20):
            yield big[i : i + (1 << 20)]

    with _http(server, central.tokens["PACK-01"]) as http:
        sized = http.post("/v1/entries", content=big,
                          headers={"Content-Type": "application/json"})
        streamed = http.post("/v1/entries", content=chunks(),
                             headers={"Content-Type": "application/json"})
    assert sized.status_code == 413
    assert streamed.status_code == 413
    assert "smaller batches" in streamed.json()["detail"]


def test_oms_sets_an_orders_status_and_terminals_see_it(
    server: BackgroundServer, central: Central
) -> None:
    with _http(server, central.tokens["PACK-01"]) as terminal:
        cursor = terminal.get("/v1/changes").json()["next_cursor"]
    with _http(server, central.tokens["OMS"]) as oms:
        response = oms.put("/v1/orders/D-1005/status", json={"status": "failed"})
        assert response.status_code == 200
        assert response.json()["status"] == "failed"
        assert oms.put("/v1/orders/NOPE/status", json={"status": "failed"}).status_code == 404
        assert oms.put("/v1/orders/D-1005/status", json={"status": "shipped"}).status_code == 422
    with _http(server, central.tokens["PACK-01"]) as terminal:
        page = terminal.get("/v1/changes", params={"cursor": cursor}).json()
    assert [(o["order_id"], o["status"]) for o in page["orders"]] == [("D-1005", "failed")]


def test_an_order_id_with_a_slash_works_on_every_path_that_names_an_order(
    server: BackgroundServer, central: Central
) -> None:
    """Order IDs may hold any printable character; clients send "/" as %2F. The status, the
    claim and the history of "WEB/2026/77" reach that order (they were "Not Found" before).
    """
    order_id = "WEB/2026/77"
    central.store.import_data(orders=[Order(
        order_id=order_id, facility="STORE-01", status=OrderStatus.IN_PROGRESS,
        lines=(OrderLine(line_no=1, sku="MUG-WHT", quantity=1, picked=1),),
    )])
    path = quote(order_id, safe="")
    viewer = central.store.add_viewer("WALL", None)
    with _http(server, central.tokens["OMS"]) as oms:
        answer = oms.put(f"/v1/orders/{path}/status", json={"status": "cancelled"})
        assert answer.status_code == 200, answer.text
        assert (answer.json()["order_id"], answer.json()["status"]) == (order_id, "cancelled")
    with _http(server, central.tokens["PACK-01"]) as terminal:
        claim = terminal.put(f"/v1/claims/{path}", json={"operator": "OP-0001"})
        assert claim.status_code == 200, claim.text
        assert claim.json()["claim"]["order_id"] == order_id
        assert terminal.delete(f"/v1/claims/{path}").status_code == 200
    with _http(server, viewer) as wall:
        history = wall.get(f"/v1/orders/{path}/history")
        assert history.status_code == 200, history.text
        assert history.json()["order"]["order_id"] == order_id
        assert history.json()["order"]["status"] == "cancelled"
        # The order's own name is still needed in full: a prefix of it is no order.
        assert wall.get(f"/v1/orders/{quote('WEB/2026', safe='')}/history").status_code == 404


def test_a_facility_code_with_a_slash_has_its_backlog(
    server: BackgroundServer, central: Central
) -> None:
    central.store.import_data(locations=[Location(
        code="EU-A-01", facility="EU/WEST-1", kind=LocationKind.STORAGE, barcode="LOC:EU-A-01"
    )])
    viewer = central.store.add_viewer("WALL", None)
    with _http(server, viewer) as wall:
        answer = wall.get(f"/v1/backlog/{quote('EU/WEST-1', safe='')}")
    assert answer.status_code == 200, answer.text
    assert answer.json()["backlog"]["facility"] == "EU/WEST-1"


def test_a_terminal_reads_back_only_its_own_entries(
    server: BackgroundServer, central: Central, entries: list[Entry]
) -> None:
    with _http(server, central.tokens["PACK-01"]) as http:
        http.post("/v1/entries", content=_body(entries), headers=JSON)
        page = http.get("/v1/entries/own", params={"after_seq": 0, "limit": 1}).json()
    assert [o["entry"]["entry_id"] for o in page["entries"]] == [entries[0].entry_id]
    assert page["entries"][0]["refused"] is False
    assert page["has_more"] is True
    with _http(server, central.tokens["PACK-02"]) as http:
        assert http.get("/v1/entries/own").json()["entries"] == []
    with _http(server, central.tokens["OMS"]) as http:
        assert http.get("/v1/entries/own").status_code == 403


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid``."""
    out = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # gone meanwhile
        if int(fields[1]) == pid:
            out.add(int(stat.parent.name))
    return out


def _serving_process(server_port: int, client_port: int, candidates: set[int]) -> int:
    """Which of ``candidates`` holds the server's end of the connection from ``client_port``.

    The kernel's socket table gives the inode of that end; the process with a descriptor on it
    accepted the connection (the parent only holds the listening socket).
    """
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, remote = fields[1], fields[2]
            if (int(local.rsplit(":", 1)[1], 16), int(remote.rsplit(":", 1)[1], 16)) == (
                server_port, client_port
            ):
                inodes.add(f"socket:[{fields[9]}]")
    assert inodes, f"no server socket for the connection from port {client_port}"
    holders = set()
    for pid in candidates:
        for fd in Path(f"/proc/{pid}/fd").glob("*"):
            with contextlib.suppress(OSError):
                if os.readlink(fd) in inodes:
                    holders.add(pid)
    assert len(holders) == 1, (holders, candidates)
    return holders.pop()


def test_serve_with_several_workers_shares_one_store(
    central: Central, entries: list[Entry], tmp_path: Path
) -> None:
    """Both worker processes answer the same batch: the first answer applies it, every later
    one, from either process, finds it already there. Which process answered each request is
    read from the kernel (the process holding the server's end of the connection).
    """
    engine = central.store.engine
    db = engine.url if isinstance(engine, PostgresEngine) else str(engine.path)
    port = free_port()
    log = tmp_path / "serve.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-c", "from putback_tui.cli import main; main()", "central",
             "serve", "--db", db, "--port", str(port), "--workers", "2"],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            # This checkout's code, whatever the venv has installed.
            env={**os.environ, "PYTHONPATH": str(Path(putback_tui.__file__).parents[1])},
        )
    body = _body(entries).encode()
    headers = {**JSON, "Authorization": f"Bearer {central.tokens['PACK-01']}"}
    answers: list[tuple[int, list[str]]] = []  # (serving process, outcomes)
    try:
        deadline = time.monotonic() + 120
        # Each worker logs this once it accepts connections.
        while log.read_text().count("Application startup complete") < 2:
            assert proc.poll() is None, f"central serve --workers 2 exited: {log.read_text()}"
            assert time.monotonic() < deadline, f"the workers did not start: {log.read_text()}"
            time.sleep(0.1)
        # A new connection for each request: either worker may accept it. Both have answered
        # after a few; a run of 50 from one process means the other does not serve.
        while len({pid for pid, _ in answers}) < 2 or len(answers) < 4:
            assert len(answers) < 50, f"one process answered every request: {answers[:3]}..."
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                conn.request("POST", "/v1/entries", body=body, headers=headers)
                response = conn.getresponse()
                assert response.status == 200, response.read()
                results = json.loads(response.read())["results"]
                # The connection is still open (keep-alive): find who holds its other end.
                serving = _children(proc.pid) | {proc.pid}
                pid = _serving_process(port, conn.sock.getsockname()[1], serving)
            finally:
                conn.close()
            answers.append((pid, [r["outcome"] for r in results]))
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    assert len({pid for pid, _ in answers}) == 2
    assert answers[0][1] == ["applied"] * len(entries)
    for _, later in answers[1:]:
        assert later == ["duplicate"] * len(entries)
    assert len(from_terminals(central.store)) == len(entries)


def test_a_line_break_in_an_order_id_is_a_clear_422_on_every_path_that_names_one(
    server: BackgroundServer, central: Central
) -> None:
    """Schemathesis sent DELETE /v1/claims/%0A...: "Not Found" from no route, not the 422
    that names the bound (a line break is a control character, which no code may hold).
    """
    bad = quote("D-1\n002", safe="")
    with _http(server, central.tokens["PACK-01"]) as terminal:
        for method, path in (("DELETE", f"/v1/claims/{bad}"), ("PUT", f"/v1/claims/{bad}")):
            answer = terminal.request(method, path, json={"operator": "OP-0001"})
            assert answer.status_code == 422, (method, answer.text)
    with _http(server, central.tokens["OMS"]) as oms:
        answer = oms.put(f"/v1/orders/{bad}/status", json={"status": "failed"})
        assert answer.status_code == 422, answer.text
