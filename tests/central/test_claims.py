"""Claims at the central store, over HTTP on loopback, on both engines: take, renew, take over,
release, expiry by the central store's clock, and every bad request a clear 4xx.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from putback_tui.central.app import create_app
from putback_tui.central.server import BackgroundServer
from tests.central_support import Central, CentralClock

START = datetime(2026, 11, 20, 10, 31, tzinfo=UTC)


@pytest.fixture
def central_clock() -> CentralClock:
    return CentralClock(START)


@pytest.fixture
def claims_server(central: Central, central_clock: CentralClock) -> Iterator[BackgroundServer]:
    srv = BackgroundServer(create_app(central.store, clock=central_clock))
    srv.start()
    yield srv
    srv.stop()


def _http(server: BackgroundServer, token: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=server.url, headers=headers, timeout=30)


def _claim(
    http: httpx.Client, order: str, operator: str = "OP-0001", **extra: object
) -> httpx.Response:
    return http.put(f"/v1/claims/{order}", json={"operator": operator, "idle_s": 60, **extra})


def test_a_claim_is_seen_by_the_other_terminal_and_taken_over_only_when_asked(
    claims_server: BackgroundServer, central: Central
) -> None:
    with (
        _http(claims_server, central.tokens["PACK-01"]) as one,
        _http(claims_server, central.tokens["PACK-02"]) as two,
    ):
        first = _claim(one, "D-1002", "OP-0001")
        assert first.status_code == 200, first.text
        assert first.json()["held"] is True
        mine = first.json()["claim"]
        assert (mine["terminal"], mine["operator"]) == ("PACK-01", "OP-0001")

        # The other terminal learns of it: the list, and every page of the changes feed.
        listed = two.get("/v1/claims").json()
        assert listed["facility"] == "STORE-01"
        assert [(c["order_id"], c["terminal"], c["operator"]) for c in listed["claims"]] == [
            ("D-1002", "PACK-01", "OP-0001")
        ]
        page = two.get("/v1/changes", params={"limit": 1}).json()
        assert [c["terminal"] for c in page["claims"]] == ["PACK-01"]

        # Claiming it without taking over changes nothing and says who holds it.
        refused = _claim(two, "D-1002", "OP-0002")
        assert refused.status_code == 200
        assert refused.json()["held"] is False
        assert refused.json()["claim"]["terminal"] == "PACK-01"
        assert [c.terminal for c in central.store.claims("STORE-01", START)] == ["PACK-01"]

        taken = _claim(two, "D-1002", "OP-0002", take_over=True)
        assert taken.json()["held"] is True
        [claim] = central.store.claims("STORE-01", START)
        assert (claim.order_id, claim.terminal, claim.operator) == ("D-1002", "PACK-02", "OP-0002")

        # The first terminal's renewal now finds it taken: it does not take it back.
        renewal = _claim(one, "D-1002", "OP-0001")
        assert renewal.json() == {**renewal.json(), "held": False}
        assert renewal.json()["claim"]["terminal"] == "PACK-02"


def test_a_renewal_keeps_since_and_moves_the_expiry(
    claims_server: BackgroundServer, central: Central, central_clock: CentralClock
) -> None:
    with _http(claims_server, central.tokens["PACK-01"]) as one:
        first = _claim(one, "D-1003").json()["claim"]
        central_clock.advance(50)
        again = _claim(one, "D-1003").json()["claim"]
    assert again["since"] == first["since"]
    assert datetime.fromisoformat(again["expires_at"]) == START + timedelta(seconds=110)
    [claim] = central.store.claims("STORE-01", START + timedelta(seconds=100))
    assert (claim.since, claim.expires_at) == (START, START + timedelta(seconds=110))


def test_an_idle_claim_ends_by_itself_and_the_order_is_free_again(
    claims_server: BackgroundServer, central: Central, central_clock: CentralClock
) -> None:
    with (
        _http(claims_server, central.tokens["PACK-01"]) as one,
        _http(claims_server, central.tokens["PACK-02"]) as two,
    ):
        assert _claim(one, "D-1002").json()["held"] is True
        central_clock.advance(59)
        assert len(two.get("/v1/claims").json()["claims"]) == 1
        central_clock.advance(1)  # 60 s without a renewal: over
        assert two.get("/v1/claims").json()["claims"] == []
        assert two.get("/v1/changes").json()["claims"] == []
        assert central.store.claims("STORE-01", central_clock.now) == ()
        free = _claim(two, "D-1002", "OP-0002")
        assert free.json()["held"] is True
        assert datetime.fromisoformat(free.json()["claim"]["since"]) == central_clock.now
        # The expired claim is no longer the first terminal's to release.
        assert one.delete("/v1/claims/D-1002").json() == {"version": 1, "released": False}


def test_release_ends_only_the_callers_own_claim(
    claims_server: BackgroundServer, central: Central
) -> None:
    with (
        _http(claims_server, central.tokens["PACK-01"]) as one,
        _http(claims_server, central.tokens["PACK-02"]) as two,
    ):
        _claim(one, "D-1002")
        assert two.delete("/v1/claims/D-1002").json()["released"] is False
        assert [c.terminal for c in central.store.claims("STORE-01", START)] == ["PACK-01"]
        assert one.delete("/v1/claims/D-1002").json()["released"] is True
        assert central.store.claims("STORE-01", START) == ()
        assert one.delete("/v1/claims/D-1002").json()["released"] is False


@pytest.mark.parametrize(
    ("who", "method", "path", "body", "status", "says"),
    [
        ("PACK-01", "PUT", "/v1/claims/NO-SUCH", {"operator": "OP-0001"}, 404, "No order"),
        ("FAR-01", "PUT", "/v1/claims/D-1002", {"operator": "OP-0001"}, 403, "not of STORE-99"),
        ("OMS", "PUT", "/v1/claims/D-1002", {"operator": "OP-0001"}, 403, "not a terminal"),
        ("OMS", "GET", "/v1/claims", None, 403, "not a terminal"),
        ("OMS", "DELETE", "/v1/claims/D-1002", None, 403, "not a terminal"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {"operator": "OP-0001", "idle_s": 5}, 422,
         "greater than or equal to 10"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {"operator": "OP-0001", "idle_s": 10**30}, 422,
         "less than or equal to 28800"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {"operator": "OP\x1b[2J"}, 422, "control"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {"operator": ""}, 422, "at least 1"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {"operator": "A" * 65}, 422, "at most 64"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {"operator": "OP-0001", "boss": 1}, 422,
         "Extra inputs"),
        ("PACK-01", "PUT", "/v1/claims/D-1002", {}, 422, "Field required"),
        ("PACK-01", "PUT", "/v1/claims/" + "D" * 65, {"operator": "OP-0001"}, 422, "at most 64"),
        ("PACK-01", "GET", "/v1/claims?page=2", None, 422, "unknown query parameter"),
        (None, "GET", "/v1/claims", None, 401, "missing or unknown token"),
        (None, "PUT", "/v1/claims/D-1002", {"operator": "OP-0001"}, 401, "missing or unknown"),
    ],
)
def test_bad_claims_are_a_clear_4xx_and_change_nothing(
    claims_server: BackgroundServer,
    central: Central,
    who: str | None,
    method: str,
    path: str,
    body: object,
    status: int,
    says: str,
) -> None:
    with _http(claims_server, central.tokens[who] if who else None) as http:
        response = http.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert says in response.text
    assert central.store.claims("STORE-01", START) == ()


def test_the_backlog_shows_who_is_clearing_each_waiting_order(
    claims_server: BackgroundServer, central: Central
) -> None:
    with _http(claims_server, central.tokens["PACK-01"]) as one:
        assert _claim(one, "D-1003", "OP-0001").json()["held"] is True
    detail = central.store.facility_detail("STORE-01", START)
    claims = {o.order_id: o.claim for o in detail.orders}
    assert set(claims) == {"D-1002", "D-1003", "D-1004", "D-1007"}
    claim = claims.pop("D-1003")
    assert claim is not None
    assert (claim.terminal, claim.operator, claim.since) == ("PACK-01", "OP-0001", START)
    assert set(claims.values()) == {None}
