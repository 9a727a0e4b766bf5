"""Bounds at the edge, on a real server over both engines: every hostile value is a 422 naming
its field (or a 404), never a 500, and nothing of its batch is applied.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest

from putback_tui.central.app import create_app
from putback_tui.central.limits import CentralLimits
from putback_tui.central.server import BackgroundServer
from putback_tui.domain.models import now_utc
from tests.central_support import Central, MakeTerminal, from_terminals

JSON = {"Content-Type": "application/json"}
Doc = dict[str, Any]


def _http(server: BackgroundServer, token: str) -> httpx.Client:
    return httpx.Client(
        base_url=server.url, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )


@pytest.fixture
def put_back(make_terminal: MakeTerminal) -> Doc:
    """An honest put-back entry of PACK-01, as JSON."""
    t = make_terminal("PACK-01")
    t.station.open_order("D-1002")
    entry = t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    doc: Doc = json.loads(entry.model_dump_json())
    return doc


def _set(doc: Doc, path: str, value: Any) -> Doc:
    """``doc`` with the field at the dotted ``path`` set to ``value`` (a deep copy)."""
    doc = json.loads(json.dumps(doc))
    *parents, last = path.split(".")
    node: Any = doc
    for part in parents:
        node = node[int(part)] if part.isdigit() else node[part]
    node[int(last) if last.isdigit() else last] = value
    return doc


NUL = "\u0000"

# (field path in the entry, hostile value, the field the answer must name)
HOSTILE: list[tuple[str, Any]] = [
    ("seq", float("nan")),
    ("seq", float("inf")),
    ("seq", 2**63),
    ("seq", 0),
    ("entry_id", "0190a000-0000-7000-8000-00000000000" + NUL),
    ("order_id", "D-1002" + NUL),
    ("order_id", "D" * 65),
    ("operator", "SV-0001\x1b[31m"),
    ("created_at", "9999-12-31T23:59:59-14:00"),
    ("created_at", "0001-01-01T00:00:00+14:00"),
    ("details.sku", "TSHIRT" + NUL),
    ("details.quantity", 10**12),
    ("details.quantity", -1),
    ("details.note", "x" * 1001),
    ("details.message", "bell\x07"),
    ("changes.0.sku", "'; DROP TABLE x;--" + NUL),
    ("changes.0.qoh", 2**63 - 1),
    ("changes.0.atp", -(10**9) - 1),
    ("changes.0.qoh", 1.5),
    ("line_changes.0.put_back", 2**62),
    ("line_changes.0.line_no", 2**40),
]


def _raw(doc: Doc, *, plain: bool = False) -> str:
    """A batch of one entry, NaN and Infinity written as the hostile JSON dialect has them.

    ``plain``: without spaces, as terminals send a batch, which the hot path's decoder reads
    first (central/hot.py); with them, the batch goes straight to pydantic.
    """
    separators = (",", ":") if plain else None
    return json.dumps({"version": 1, "entries": [doc]}, allow_nan=True, separators=separators)


@pytest.mark.parametrize("plain", [False, True], ids=["spaced", "plain"])
@pytest.mark.parametrize(("path", "value"), HOSTILE, ids=[f"{p}={v!r:.30}" for p, v in HOSTILE])
def test_a_hostile_field_is_a_422_naming_it_and_nothing_is_applied(
    server: BackgroundServer, central: Central, put_back: Doc, path: str, value: Any, plain: bool
) -> None:
    before = central.store.stock("STORE-01")
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post(
            "/v1/entries", content=_raw(_set(put_back, path, value), plain=plain), headers=JSON
        )
    assert response.status_code == 422, response.text
    where = [".".join(str(p) for p in e["loc"]) for e in response.json()["detail"]]
    assert f"body.entries.0.{path}" in where
    assert from_terminals(central.store) == []
    assert central.store.stock("STORE-01") == before


@pytest.mark.parametrize(
    "when",
    ["\uff12026-12-07T07:11:08.776575+00:00", "2026-12-07T07:11:0\u0668.776575+00:00",
     "2026-02-31T07:11:08.776575+00:00", "2025-02-29T07:11:08.776575+00:00"],
    ids=["fullwidth digit", "arabic-indic digit", "31 February", "29 February 2025"],
)
def test_a_time_no_calendar_reads_is_a_422_in_the_terminals_own_shape(
    server: BackgroundServer, central: Central, put_back: Doc, when: str
) -> None:
    """Sent as terminals send a batch (no spaces: the hot path reads it first), not a 500."""
    body = json.dumps(
        {"version": 1, "entries": [_set(put_back, "created_at", when)]}, separators=(",", ":")
    )
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", content=body, headers=JSON)
    assert response.status_code == 422, response.text
    where = [".".join(str(p) for p in e["loc"]) for e in response.json()["detail"]]
    assert "body.entries.0.created_at" in where
    assert from_terminals(central.store) == []


def test_the_honest_entry_of_those_tests_is_applied(
    server: BackgroundServer, central: Central, put_back: Doc
) -> None:
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", content=_raw(put_back), headers=JSON)
    assert response.status_code == 200
    assert response.json()["results"][0]["outcome"] == "applied"


@pytest.mark.parametrize(
    ("method", "path", "body", "field"),
    [
        ("PUT", "/v1/orders/D-1005/status", '{"status": NaN}', "body.status"),
        ("PUT", "/v1/orders/D-1005/status", '{"status": Infinity}', "body.status"),
        ("PUT", "/v1/orders/D-1005/status",
         '{"status": "failed", "changed_at": "9999-12-31T23:59:59-14:00"}', "body.changed_at"),
        ("PUT", "/v1/orders/D-1005/status",
         '{"status": "failed", "changed_at": "2010-01-01T00:00:00+00:00"}', "body.changed_at"),
        ("PUT", "/v1/orders/D-10%0005/status", '{"status": "failed"}', "path.order_id"),
        ("PUT", "/v1/orders/" + "D" * 65 + "/status", '{"status": "failed"}', "path.order_id"),
        ("GET", "/v1/events?facility=STORE%00", None, "query.facility"),
        ("GET", "/v1/events?cursor=1e400", None, "query.cursor"),
        ("GET", "/v1/events?cursor=NaN", None, "query.cursor"),
        # Pydantic's lax int reads these as numbers; a query's whole number is digits alone.
        ("GET", "/v1/events?cursor=0.0", None, "query.cursor"),
        ("GET", "/v1/events?cursor=%2B1", None, "query.cursor"),
        ("GET", "/v1/events?cursor=%201", None, "query.cursor"),
        ("GET", "/v1/events?cursor=1_0", None, "query.cursor"),
        ("GET", "/v1/events?limit=5.0", None, "query.limit"),
    ],
)
def test_a_hostile_value_from_a_system_is_a_422_naming_it(
    server: BackgroundServer,
    central: Central,
    method: str,
    path: str,
    body: str | None,
    field: str,
) -> None:
    with _http(server, central.tokens["OMS"]) as http:
        response = http.request(method, path, content=body, headers=JSON)
    assert response.status_code == 422, response.text
    assert field in [".".join(str(p) for p in e["loc"]) for e in response.json()["detail"]]
    order = central.store.order("D-1005")
    assert order is not None
    assert order.status.value == "open"


@pytest.fixture
def limited_server(central: Central) -> Iterator[Callable[[CentralLimits], BackgroundServer]]:
    started: list[BackgroundServer] = []

    def start(limits: CentralLimits) -> BackgroundServer:
        srv = BackgroundServer(create_app(central.store, limits=limits))
        srv.start()
        started.append(srv)
        return srv

    yield start
    for srv in started:
        srv.stop()


@pytest.mark.parametrize(
    ("shift", "words"),
    [(timedelta(hours=25), "ahead of the central store's clock"),
     (timedelta(days=-400), "before the central store's clock")],
)
def test_an_entry_time_far_from_the_servers_clock_is_a_422(
    limited_server: Callable[[CentralLimits], BackgroundServer],
    central: Central,
    put_back: Doc,
    shift: timedelta,
    words: str,
) -> None:
    server = limited_server(CentralLimits())
    doc = _set(put_back, "created_at", (now_utc() + shift).isoformat())
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", content=_raw(doc), headers=JSON)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"] == ["body", "entries", 0, "created_at"]
    assert words in error["msg"]
    assert from_terminals(central.store) == []


def test_the_sites_maximum_quantity_is_a_422_naming_the_quantity(
    limited_server: Callable[[CentralLimits], BackgroundServer],
    central: Central,
    put_back: Doc,
) -> None:
    server = limited_server(CentralLimits(max_quantity=1))
    two = _set(_set(put_back, "details.quantity", 2), "changes.0.qoh", 2)
    with _http(server, central.tokens["PACK-01"]) as http:
        refused = http.post("/v1/entries", content=_raw(two), headers=JSON)
        applied = http.post("/v1/entries", content=_raw(put_back), headers=JSON)
    assert refused.status_code == 422
    [error] = refused.json()["detail"]
    assert error["loc"] == ["body", "entries", 0, "details", "quantity"]
    assert "1 to 1 units" in error["msg"]
    assert applied.status_code == 200


def test_limits_come_from_the_environment_central_serve_sets() -> None:
    limits = CentralLimits(max_quantity=50, max_ahead=timedelta(minutes=5),
                           max_age=timedelta(days=30))
    assert CentralLimits.from_environment(limits.environment()) == limits
    assert CentralLimits.from_environment({}) == CentralLimits()
    with pytest.raises(ValueError, match="max_quantity"):
        CentralLimits(max_quantity=10_001)


def test_a_control_character_is_named_with_its_position(
    server: BackgroundServer, central: Central, put_back: Doc
) -> None:
    doc = _set(put_back, "details.note", "fine\tso far\x1b[2J")
    with _http(server, central.tokens["PACK-01"]) as http:
        response = http.post("/v1/entries", content=_raw(_set(doc, "order_id", "D-10\x0002")),
                             headers=JSON)
    errors = {".".join(map(str, e["loc"])): e["msg"] for e in response.json()["detail"]}
    assert errors["body.entries.0.order_id"] == (
        "control character U+0000 at position 4: not allowed"
    )
    assert errors["body.entries.0.details.note"] == (
        "control character U+001B at position 11: not allowed"
    )
