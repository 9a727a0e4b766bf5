"""Claims with two terminals against a real central store on loopback.

PACK-01 holds a claim (its claim keeper, or its app); PACK-02 runs the app with its sync worker
and its own keeper. What an operator notices: the claim on PACK-02's worklist, the question
asked once before opening a claimed order, the claim following the order in hand (taken over,
released on done, Esc and quit), ending by itself after the idle time, and an offline terminal
working as before with no claim anywhere.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator

import httpx
import pytest
from pydantic import SecretStr
from textual.pilot import Pilot

from putback_tui.central.app import create_app
from putback_tui.central.server import BackgroundServer
from putback_tui.config import ClaimSettings, SyncSettings
from putback_tui.launch import reporter
from putback_tui.sync.claims import ClaimKeeper
from putback_tui.sync.client import SyncClient
from putback_tui.sync.worker import SyncWorker
from putback_tui.tui.app import PutbackApp, make_app
from putback_tui.tui.dialogs.claimed import ClaimedDialog, claim_cell, claim_text
from putback_tui.tui.screens.order import OrderScreen
from putback_tui.tui.screens.put_back import PutBackScreen
from tests.central_support import Central, CentralClock, MakeTerminal, Terminal

from .conftest import FROZEN, SteppingClock, scan, screen_text, settle

ORDERS = [[f"D-100{n}"] for n in range(1, 9)]
"""The demo's order IDs, as the first word of a worklist row."""

pytestmark = pytest.mark.parametrize("store", ["sqlite"], indirect=True)
"""The engines are covered by tests/central/test_claims.py; here, the terminals."""

IDLE = ClaimSettings(idle_s=60)


@pytest.fixture
def central_clock() -> CentralClock:
    return CentralClock()


@pytest.fixture
def claims_server(central: Central, central_clock: CentralClock) -> Iterator[BackgroundServer]:
    srv = BackgroundServer(create_app(central.store, clock=central_clock))
    srv.start()
    yield srv
    srv.stop()


def holders(central: Central, clock: CentralClock) -> dict[str, tuple[str, str]]:
    """The facility's claims at the central store: order -> (terminal, operator)."""
    return {c.order_id: (c.terminal, c.operator) for c in central.store.claims("STORE-01", clock())}


def terminal_app(t: Terminal, url: str, token: str) -> tuple[PutbackApp, ClaimKeeper]:
    """A terminal's app with its sync worker and its claim keeper, wired as ``putback`` does."""
    sync = SyncSettings(url=url, token=SecretStr(token), interval_s=0.05)
    settings = t.settings.model_copy(update={"sync": sync, "claims": IDLE})
    worker = SyncWorker(t.path, sync, release_as=(settings.terminal.id, settings.terminal.facility))
    keeper = ClaimKeeper(sync, IDLE)
    app = make_app(
        t.ledger, settings, clock=lambda: FROZEN, monotonic=SteppingClock(),
        services=(worker, keeper),
    )
    worker.on_state = reporter(app)
    keeper.on_other = app.claim_held_elsewhere_from_thread
    return app, keeper


async def until(pilot: Pilot[int], check: Callable[[], object], rounds: int = 500) -> None:
    """Wait (on the app and its workers, never on a clock) until ``check()`` holds."""
    for _ in range(rounds):
        if check():
            return
        await pilot.pause(0.02)
        await pilot.app.workers.wait_for_complete()
    raise AssertionError("never happened")


async def signed_in(pilot: Pilot[int], badge: str = "SV-0001") -> None:
    await settle(pilot)
    await scan(pilot, badge)
    assert isinstance(pilot.app.screen, OrderScreen)


async def enter(pilot: Pilot[int]) -> None:
    """The operator's own Enter, a moment after the last scan (not a scanner's suffix)."""
    clock = pilot.app.monotonic
    assert isinstance(clock, SteppingClock)
    clock.advance(1)
    await pilot.press("enter")
    await settle(pilot)


def keeper_of(url: str, token: str) -> ClaimKeeper:
    """PACK-01 without its app: a keeper stepped by hand."""
    return ClaimKeeper(
        SyncSettings(url=url, token=SecretStr(token)), IDLE, monotonic=SteppingClock()
    )


async def test_the_other_terminals_claim_is_shown_and_opening_the_order_asks_once(
    claims_server: BackgroundServer,
    central: Central,
    central_clock: CentralClock,
    make_terminal: MakeTerminal,
) -> None:
    one = keeper_of(claims_server.url, central.tokens["PACK-01"])
    one.hold("D-1002", "OP-0001")
    one.step()
    assert holders(central, central_clock) == {"D-1002": ("PACK-01", "OP-0001")}
    [claim] = central.store.claims("STORE-01", central_clock())
    assert claim_text(claim).startswith("being cleared at PACK-01 by OP-0001 since ")
    shown = claim_cell(claim)
    assert shown.startswith("at PACK-01 · OP-0001 · since ")

    app, _ = terminal_app(make_terminal("PACK-02"), claims_server.url, central.tokens["PACK-02"])
    async with app.run_test(size=(120, 30)) as pilot:
        await signed_in(pilot)
        await until(pilot, lambda: shown in screen_text(app))
        rows = [ln for ln in screen_text(app).splitlines() if ln.split()[:1] in ORDERS]
        # D-1002, the most urgent, is being cleared at PACK-01: it comes after the three
        # orders nobody is clearing, and says so.
        assert [ln.split()[0] for ln in rows][-1] == "D-1002"
        assert len(rows) == 4
        assert shown in rows[-1]
        assert not any(shown in ln for ln in rows[:-1])

        # Enter on the claimed row: the question, and Esc goes back with nothing opened.
        await pilot.press("down", "down", "down")
        await enter(pilot)
        assert isinstance(app.screen, ClaimedDialog)
        text = screen_text(app)
        assert "Order D-1002 is being cleared at PACK-01" in text
        assert f"Order D-1002 is {claim_text(claim)}." in text
        await pilot.press("escape")
        await settle(pilot)
        assert isinstance(app.screen, OrderScreen)
        assert app.result is not None
        assert app.result.text == "Order D-1002 was not opened. Scan or choose another order."
        assert holders(central, central_clock) == {"D-1002": ("PACK-01", "OP-0001")}

        # Scanned this time: asked again (nothing was confirmed); Enter opens and takes over.
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, ClaimedDialog)
        await enter(pilot)
        assert isinstance(app.screen, PutBackScreen)
        await until(pilot, lambda: holders(central, central_clock) == {
            "D-1002": ("PACK-02", "SV-0001")
        })

        # PACK-01's next renewal finds it taken over, and does not take it back.
        step = one._monotonic
        assert isinstance(step, SteppingClock)
        step.advance(20)  # the operator at PACK-01 scans again, a renewal interval later
        one.activity()
        one.step()
        assert one.held is None
        assert holders(central, central_clock) == {"D-1002": ("PACK-02", "SV-0001")}

        # Esc out of the order releases it; opening it again asks nothing (asked once).
        await pilot.press("escape")
        await settle(pilot)
        await until(pilot, lambda: holders(central, central_clock) == {})
        await scan(pilot, "D-1002")
        assert isinstance(app.screen, PutBackScreen)
        await until(pilot, lambda: holders(central, central_clock) == {
            "D-1002": ("PACK-02", "SV-0001")
        })
    # Quitting with the order in hand releases it too.
    assert holders(central, central_clock) == {}
    one.stop()


async def test_done_and_sign_out_release_and_the_claim_follows_the_order_in_hand(
    claims_server: BackgroundServer,
    central: Central,
    central_clock: CentralClock,
    make_terminal: MakeTerminal,
) -> None:
    app, keeper = terminal_app(
        make_terminal("PACK-02"), claims_server.url, central.tokens["PACK-02"]
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1003")
        await until(pilot, lambda: holders(central, central_clock) == {
            "D-1003": ("PACK-02", "SV-0001")
        })
        # Another order scanned on the put-back screen: the claim moves with it.
        await scan(pilot, "D-1004")
        await until(pilot, lambda: holders(central, central_clock) == {
            "D-1004": ("PACK-02", "SV-0001")
        })
        # Done: D-1004 has one unit to put back.
        await scan(pilot, "96385074")  # BOTTLE-1L
        await scan(pilot, "LOC:B-01-01")
        await scan(pilot, "96385074")
        assert isinstance(app.screen, OrderScreen)
        assert app.result is not None
        assert app.result.text.startswith("Order D-1004 done")
        await until(pilot, lambda: holders(central, central_clock) == {})
        # Signing out from the order screen with an order in hand before: nothing held.
        await scan(pilot, "D-1002")
        await until(pilot, lambda: holders(central, central_clock) == {
            "D-1002": ("PACK-02", "SV-0001")
        })
        await pilot.press("escape")  # out of the order
        await pilot.press("escape")  # signed out
        await settle(pilot)
        assert app.station.operator is None
        await until(pilot, lambda: holders(central, central_clock) == {})
        assert keeper.held is None


async def test_a_claim_left_idle_ends_by_itself_and_leaves_the_other_worklist(
    claims_server: BackgroundServer,
    central: Central,
    central_clock: CentralClock,
    make_terminal: MakeTerminal,
) -> None:
    one = keeper_of(claims_server.url, central.tokens["PACK-01"])
    one.hold("D-1003", "OP-0001")
    one.step()
    app, _ = terminal_app(make_terminal("PACK-02"), claims_server.url, central.tokens["PACK-02"])
    async with app.run_test(size=(120, 30)) as pilot:
        await signed_in(pilot)
        await until(pilot, lambda: "at PACK-01 · OP-0001 · since" in screen_text(app))
        # PACK-01 went quiet (or died): 60 s on the central store's clock, no renewal.
        central_clock.advance(60)
        await until(pilot, lambda: "at PACK-01 ·" not in screen_text(app))
        assert app.claims == {}
        await scan(pilot, "D-1003")  # no question: nobody is clearing it now
        assert isinstance(app.screen, PutBackScreen)


async def test_activity_renews_the_claim_and_idleness_does_not(
    claims_server: BackgroundServer, central: Central, central_clock: CentralClock
) -> None:
    clock = SteppingClock()
    sync = SyncSettings(url=claims_server.url, token=SecretStr(central.tokens["PACK-01"]))
    keeper = ClaimKeeper(sync, IDLE, monotonic=clock)
    keeper.hold("D-1002", "OP-0001")
    keeper.step()
    [first] = central.store.claims("STORE-01", central_clock())
    central_clock.advance(40)
    clock.advance(40)
    keeper.step()  # no activity since the claim: no renewal
    [same] = central.store.claims("STORE-01", central_clock())
    assert same.expires_at == first.expires_at
    keeper.activity()
    keeper.step()
    [renewed] = central.store.claims("STORE-01", central_clock())
    assert renewed.expires_at > first.expires_at
    assert renewed.since == first.since
    keeper.release()
    keeper.step()
    assert central.store.claims("STORE-01", central_clock()) == ()
    keeper.stop()


async def test_an_offline_terminal_works_unhindered_and_claims_nothing(
    claims_server: BackgroundServer,
    central: Central,
    central_clock: CentralClock,
    make_terminal: MakeTerminal,
) -> None:
    # Nothing listens on port 9: every claim call fails at once; the operator notices nothing.
    app, keeper = terminal_app(make_terminal("PACK-02"), "http://127.0.0.1:9", "x")
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        assert isinstance(app.screen, PutBackScreen)
        await scan(pilot, "96385074")
        await scan(pilot, "LOC:B-01-01")
        await scan(pilot, "96385074")
        assert isinstance(app.screen, OrderScreen)
        assert app.result is not None
        assert app.result.text.startswith("Order D-1004 done")
        assert keeper.held is None
        assert app.claims == {}
    assert holders(central, central_clock) == {}



class StalledClaims(httpx.HTTPTransport):
    """A central store that takes its time over claims: each waits until the test lets it go."""

    def __init__(self) -> None:
        super().__init__()
        self.go = threading.Event()
        self.waiting = threading.Event()
        self.answered: list[str] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/v1/claims"):
            self.waiting.set()
            self.go.wait(30)
            response = super().handle_request(request)
            self.answered.append(request.method)
            return response
        return super().handle_request(request)


async def test_a_slow_central_store_holds_up_no_scan(
    claims_server: BackgroundServer,
    central: Central,
    central_clock: CentralClock,
    make_terminal: MakeTerminal,
) -> None:
    stalled = StalledClaims()
    app, keeper = terminal_app(
        make_terminal("PACK-02"), claims_server.url, central.tokens["PACK-02"]
    )
    keeper._client_factory = lambda url, token, timeout_s: SyncClient(
        url, token, timeout_s=timeout_s, transport=stalled
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await until(pilot, stalled.waiting.is_set)  # the claim call is out, and stuck
        # The whole put-back goes on meanwhile, each scan answered on screen.
        assert isinstance(app.screen, PutBackScreen)
        await scan(pilot, "96385074")
        await scan(pilot, "LOC:B-01-01")
        await scan(pilot, "96385074")
        assert isinstance(app.screen, OrderScreen)
        assert app.result is not None
        assert app.result.text.startswith("Order D-1004 done")
        assert holders(central, central_clock) == {}
        stalled.go.set()  # the central store answers at last: claimed, then released
        await until(pilot, lambda: stalled.answered == ["PUT", "DELETE"])
        assert holders(central, central_clock) == {}
        assert keeper.held is None


async def test_quitting_while_a_claim_is_in_flight_still_releases_it(
    claims_server: BackgroundServer,
    central: Central,
    central_clock: CentralClock,
    make_terminal: MakeTerminal,
) -> None:
    stalled = StalledClaims()
    app, keeper = terminal_app(
        make_terminal("PACK-02"), claims_server.url, central.tokens["PACK-02"]
    )
    keeper._client_factory = lambda url, token, timeout_s: SyncClient(
        url, token, timeout_s=timeout_s, transport=stalled
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await signed_in(pilot)
        await scan(pilot, "D-1004")
        await until(pilot, stalled.waiting.is_set)
        stalled.go.set()  # answered while the app quits
    assert stalled.answered == ["PUT", "DELETE"]
    assert holders(central, central_clock) == {}


async def test_a_kiosk_terminal_reads_the_claims_itself(
    claims_server: BackgroundServer, central: Central, central_clock: CentralClock
) -> None:
    """Where the sync worker runs in its own process, the keeper polls ``GET /v1/claims``."""
    one = keeper_of(claims_server.url, central.tokens["PACK-01"])
    one.hold("D-1007", "OP-0001")
    one.step()
    seen: list[tuple[str, ...] | None] = []
    sync = SyncSettings(url=claims_server.url, token=SecretStr(central.tokens["PACK-02"]))
    kiosk = ClaimKeeper(
        sync, IDLE, poll_s=2.0, monotonic=SteppingClock(),
        on_claims=lambda claims: seen.append(
            None if claims is None else tuple(f"{c.order_id} {c.terminal}" for c in claims)
        ),
    )
    kiosk.step()
    assert seen == [("D-1007 PACK-01",)]
    kiosk.step()  # not yet due again
    assert len(seen) == 1
    claims_server.stop()  # the central store goes away: the claims are no longer known
    clock = kiosk._monotonic
    assert isinstance(clock, SteppingClock)
    clock.advance(2)
    kiosk.step()
    assert seen[-1] is None
