"""ClaimKeeper: this terminal's claim on the order in hand, kept at the central store, best effort.

The app says which exception order is in hand (:meth:`ClaimKeeper.hold`, :meth:`release`) and
that the operator is active (:meth:`activity`); each of those only records the wish and returns
at once. The keeper's own thread makes the calls, with a short timeout: a claim is taken when an
order is opened, renewed while the operator works on it (at most every quarter of the idle
time, and only after activity), and released when the order is left. A central store that is
slow or unreachable only means the claim is missing; nothing on the scan path ever waits for it.

Where the sync worker does not run in this process (a kiosk's ``putback-sync.service``), the
keeper also reads the facility's claims every ``poll_s`` seconds (``GET /v1/claims``);
otherwise they come with the sync worker's pull.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from putback_tui.config import ClaimSettings, SyncSettings
from putback_tui.sync.client import SyncClient, SyncError
from putback_tui.wire import Claim

log = logging.getLogger("putback.claims")

T = TypeVar("T")

ClientFactory = Callable[[str, str, float], SyncClient]
"""Makes a client from (url, token, timeout in seconds)."""


@dataclass(frozen=True)
class _Wish:
    order_id: str
    operator: str
    take_over: bool
    number: int
    """Counts the wishes: a new one is claimed at once."""


def _client(url: str, token: str, timeout_s: float) -> SyncClient:
    return SyncClient(url, token, timeout_s=timeout_s)


class ClaimKeeper:
    """Takes, renews and releases this terminal's claim, on its own thread.

    Args:
        sync: where the central store is (no URL or token: the keeper does nothing).
        settings: the idle time and the calls' timeout (``[claims]``).
        on_other: called from the keeper's thread when another terminal holds the claim on the
            order in hand (a claim or renewal answered "held elsewhere"); with that claim.
        on_claims: called from the keeper's thread with the facility's claims each time they
            are read (``poll_s``), or None when they could not be.
        poll_s: read the facility's claims this often (None: never; the sync worker brings them).
        client_factory: builds the HTTP client (tests pass one with a fault-injecting transport).
        monotonic: the clock for renewals (tests step it).
    """

    def __init__(
        self,
        sync: SyncSettings,
        settings: ClaimSettings,
        *,
        on_other: Callable[[Claim], None] | None = None,
        on_claims: Callable[[tuple[Claim, ...] | None], None] | None = None,
        poll_s: float | None = None,
        client_factory: ClientFactory = _client,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.sync = sync
        self.settings = settings
        self.on_other = on_other
        self.on_claims = on_claims
        self.poll_s = poll_s
        self.renew_every_s = settings.idle_s / 4
        """A renewal goes out at most this often, and only after activity: the claim then
        never ends while the operator is active, and ends at most this much after idle_s."""
        self._client_factory = client_factory
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._client: SyncClient | None = None
        self._wish: _Wish | None = None
        self._wishes = 0
        self._done_for = 0
        """The number of the wish the last claim call was made for."""
        self._held: str | None = None
        """The order whose claim the central store last confirmed as this terminal's."""
        self._called_at = float("-inf")
        self._active_at = float("-inf")
        self._polled_at = float("-inf")
        self._other: Claim | None = None
        """The last claim of another terminal reported through ``on_other``."""

    @property
    def enabled(self) -> bool:
        """True when claims are on and a central store is configured."""
        return bool(self.settings.enabled and self.sync.url and self.sync.token)

    @property
    def held(self) -> str | None:
        """The order this terminal holds the claim on, as far as the central store said."""
        return self._held

    # -- what the app says (never blocks) -----------------------------------------------------

    def hold(self, order_id: str, operator: str, *, take_over: bool = False) -> None:
        """The operator has ``order_id`` in hand: claim it (taking it over if confirmed)."""
        with self._lock:
            wish = self._wish
            same = wish is not None and (wish.order_id, wish.operator) == (order_id, operator)
            if same and wish is not None and (wish.take_over or not take_over):
                return
            self._wishes += 1
            self._wish = _Wish(order_id, operator, take_over, self._wishes)
        self._wake.set()

    def release(self) -> None:
        """No order in hand any more (done, left, signed out): end the claim."""
        with self._lock:
            if self._wish is None:
                return
            self._wish = None
        self._wake.set()

    def activity(self, at: float | None = None) -> None:
        """The operator did something: the claim is renewed (soon, not necessarily now)."""
        self._active_at = self._monotonic() if at is None else at

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        """Start the keeper's thread (nothing happens until a wish, or a poll, is due)."""
        if self._thread is not None or not self.enabled:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="putback-claims", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 5.0) -> None:
        """Release the claim held (one last call, if online), stop, and close the client."""
        self.release()
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        if self._client is not None:
            self._client.close()
            self._client = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.step()
            self._wake.wait(self._next_wait())
            self._wake.clear()
        # Stopping: release what is held, even a claim whose answer came in while stopping.
        self.step()

    def _next_wait(self) -> float:
        waits = [60.0]
        now = self._monotonic()
        if self._wish is not None:
            # Activity since the last call: renew when the interval is up; without activity,
            # look again after an interval (activity sets no event: it costs a key nothing).
            waits.append(max(self._called_at + self.renew_every_s - now, 0.05))
            waits.append(self.renew_every_s)
        if self.poll_s is not None:
            waits.append(max(self._polled_at + self.poll_s - now, 0.05))
        return min(waits)

    # -- one step (the thread's; tests call it directly) ---------------------------------------

    def step(self) -> None:
        """Make whichever calls are due now: release, claim or renew, read the claims.

        Never raises: a failed call leaves the claim missing, and is tried again on the next
        activity after an interval (or on the next order opened).
        """
        if not self.enabled:
            return
        with self._lock:
            wish = self._wish
        now = self._monotonic()
        if self._held is not None and (wish is None or wish.order_id != self._held):
            order_id, self._held = self._held, None
            self._call("release", lambda c: c.release_claim(order_id))
        if wish is not None and not self._stop.is_set():
            fresh = wish.number != self._done_for
            due = self._active_at > self._called_at and now - self._called_at >= self.renew_every_s
            if fresh or due:
                self._claim(wish, fresh=fresh, now=now)
        if self.poll_s is not None and now - self._polled_at >= self.poll_s:
            self._polled_at = now
            page = self._call("read claims", lambda c: c.claims())
            if self.on_claims is not None:
                self.on_claims(None if page is None else page.claims)

    def _claim(self, wish: _Wish, *, fresh: bool, now: float) -> None:
        self._done_for = wish.number
        self._called_at = now
        answer = self._call(
            "claim",
            lambda c: c.claim(
                wish.order_id,
                wish.operator,
                idle_s=self.settings.idle_s,
                take_over=wish.take_over and fresh,
            ),
        )
        if answer is None:
            return
        if answer.held:
            self._held = wish.order_id
            self._other = None
            return
        if self._held == wish.order_id:
            self._held = None
        claim = answer.claim
        if self.on_other is not None and (
            self._other is None
            or (self._other.order_id, self._other.terminal, self._other.since)
            != (claim.order_id, claim.terminal, claim.since)
        ):
            self._other = claim
            self.on_other(claim)

    def _call(self, what: str, call: Callable[[SyncClient], T]) -> T | None:
        url, token = self.sync.url, self.sync.token
        if not url or token is None:
            return None
        if self._client is None:
            self._client = self._client_factory(
                url, token.get_secret_value(), self.settings.timeout_s
            )
        try:
            return call(self._client)
        except SyncError as exc:
            # Offline is the sync state's to show; a line per try would fill the log in an outage.
            log.debug("claims: %s failed: %s", what, exc)
        except Exception:  # a bug must not kill the keeper's thread; the claim is best effort
            log.exception("claims: %s failed", what)
        return None
