"""The background sync worker: sends unsent entries in batches and pulls changes, in a thread.

The worker owns its own :class:`~putback_tui.ledger.Ledger` connection on the terminal's file
(WAL lets the station's connection and this one work side by side) and writes only sync
bookkeeping and the reference-data cache, each in one short transaction. An entry is marked
sent only when the central store's answer for it has arrived; a batch whose answer is lost is
simply sent again, and the central store answers "duplicate" for what it already has.

Nothing here blocks a UI: the app calls :meth:`SyncWorker.start` once and receives
:class:`SyncState` through ``on_state``, called **from the worker's thread** (a Textual app
forwards it with ``App.call_from_thread`` or ``post_message``).
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path

from putback_tui.config import SyncSettings
from putback_tui.domain.models import AwareDatetime, Frozen
from putback_tui.ledger import Ledger, LedgerError
from putback_tui.ledger import sync as book
from putback_tui.sync.client import (
    AnswerRefused,
    BatchAnswer,
    CentralRefused,
    CentralUnavailable,
    SyncClient,
    SyncError,
)
from putback_tui.wire import Claim, Outcome

log = logging.getLogger("putback.sync")

ClientFactory = Callable[[str, str], SyncClient]
"""Makes a client from (url, token); tests pass one with a fault-injecting transport."""


class SyncState(Frozen):
    """What the status bar shows about sync."""

    online: bool
    """The last round reached the central store and was accepted."""
    waiting: int
    """Entries not yet answered by the central store."""
    refused: int
    """Entries the central store refused (kept locally; a supervisor sees them)."""
    last_success: AwareDatetime | None = None
    """When a round last completed (push and pull)."""
    last_error: str | None = None
    """Why the last round failed, for the operator; None after a good round."""
    failing: str | None = None
    """A sync step failing round after round at the same place, naming the entry: the central
    store answers but cannot apply it (``sync.failure_rounds``), or sent a page out of bounds.
    Shown as a failure, not as "offline"."""
    claims: tuple[Claim, ...] | None = None
    """The facility's claims as the last pull read them: who is clearing which order now
    (this terminal's own among them). None when unknown: offline, or an older central store."""


class _Retry(SyncError):
    """The central store asked for entries again later (an earlier one is missing)."""


class SyncWorker:
    """Sends the ledger's unsent entries and pulls changes, in rounds, on its own thread.

    Args:
        db_path: the terminal's ledger file (the worker opens its own connection to it).
        settings: URL, token, batch size and idle interval; no URL or token means offline.
        on_state: called with the new state after every batch and every round, from the
            worker's thread. Must not block for long.
        client_factory: builds the HTTP client; the default is :class:`SyncClient`.
        page_size: items per page of the changes feed.
        backoff_base_s: first retry delay after a failed round; doubles on each failure.
        backoff_max_s: the longest retry delay.
        rng: randomness for the jitter (tests pass a seeded one).
        release_as: (terminal, facility): a pull that brings an exception order with unpicked
            units still reserved releases them at once, as this terminal (see
            :mod:`putback_tui.ledger.releases`); None leaves them for the station.
    """

    def __init__(
        self,
        db_path: Path,
        settings: SyncSettings,
        *,
        on_state: Callable[[SyncState], None] | None = None,
        client_factory: ClientFactory | None = None,
        page_size: int = 1000,
        backoff_base_s: float = 1.0,
        backoff_max_s: float = 60.0,
        rng: random.Random | None = None,
        release_as: tuple[str, str] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.db_path = db_path
        self._monotonic = monotonic
        self.settings = settings
        self.on_state = on_state
        self.page_size = page_size
        self.backoff_base_s = backoff_base_s
        self.backoff_max_s = backoff_max_s
        self._client_factory = client_factory or (lambda url, token: SyncClient(url, token))
        self._rng = rng or random.Random()
        self.release_as = release_as
        self._ledger: Ledger | None = None
        self._client: SyncClient | None = None
        self._round_lock = threading.Lock()
        self._stop = threading.Event()
        self._nudge = threading.Event()
        self._thread: threading.Thread | None = None
        self._recovered = False
        self._failures = 0
        self._state = SyncState(online=False, waiting=0, refused=0)
        self._claims: tuple[Claim, ...] | None = None

    # -- lifecycle -----------------------------------------------------------------------

    @property
    def state(self) -> SyncState:
        """The latest state."""
        return self._state

    @property
    def failures(self) -> int:
        """Failed rounds in a row (0 after a good round)."""
        return self._failures

    def start(self) -> None:
        """Start the background thread (rounds every ``interval_s``, backing off on failure)."""
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="putback-sync", daemon=True)
        self._thread.start()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Stop the thread after its current call, and close the connections."""
        self._stop.set()
        self._nudge.set()
        if self._thread is not None:
            self._thread.join(timeout_s)
            self._thread = None
        with self._round_lock:
            if self._client is not None:
                self._client.close()
                self._client = None
            if self._ledger is not None:
                self._ledger.close()
                self._ledger = None

    def nudge(self) -> None:
        """Start the next round now (after an action), unless the worker is backing off."""
        self._nudge.set()

    def backoff_delay(self, failures: int) -> float:
        """The wait after ``failures`` failed rounds in a row: exponential, with jitter.

        Half the capped exponential delay plus a random half, so terminals that lost the
        central store together do not all come back in the same instant.
        """
        cap = min(self.backoff_max_s, self.backoff_base_s * 2 ** max(failures - 1, 0))
        return self._rng.uniform(cap / 2, cap)

    def _loop(self) -> None:
        while not self._stop.is_set():
            state = self.run_once()
            if state.last_error is None:
                self._nudge.wait(self.settings.interval_s)
                self._nudge.clear()
            else:
                # Backing off: a nudge does not cut the wait short, only stop() does.
                self._stop.wait(self.backoff_delay(self._failures))

    # -- one round -----------------------------------------------------------------------

    def run_once(self) -> SyncState:
        """One round: push every unsent entry in batches, then pull changes until caught up.

        Never raises for network, central-store or ledger trouble: the returned state (also
        given to ``on_state``) says what happened.
        """
        with self._round_lock:
            error: str | None = None
            online = False
            try:
                ledger = self._open_ledger()
                client = self._open_client()
                if client is None:
                    error = "not connected: run 'putback connect URL --token TOKEN'"
                else:
                    if not self._recovered:
                        self._recover(ledger, client)
                        self._recovered = True
                    self._push(ledger, client)
                    self._pull(ledger, client)
                    with ledger.write() as tx:
                        book.mark_success(tx)
                    online = True
            except _Retry as exc:
                online, error = True, str(exc)
            except CentralRefused as exc:
                error = str(exc)
            except CentralUnavailable as exc:
                error = str(exc)
            except SyncError as exc:
                error = str(exc)
            except LedgerError as exc:
                # The station held the file locked, or it failed: try again next round.
                online, error = self._state.online, str(exc)
            except Exception as exc:  # a bug must not kill the worker thread silently
                log.exception("sync round failed")
                error = f"sync failed: {exc}"
            if error is not None:
                self._claims = None  # no longer known: a claim is never shown from memory
            self._failures = 0 if error is None else self._failures + 1
            return self._publish(online=online, error=error)

    def _open_ledger(self) -> Ledger:
        if self._ledger is None:
            self._ledger = Ledger(self.db_path, create=False)
        return self._ledger

    def _open_client(self) -> SyncClient | None:
        url, token = self.settings.url, self.settings.token
        if not url or token is None:
            return None
        if self._client is None:
            self._client = self._client_factory(url, token.get_secret_value())
        return self._client

    def _recover(self, ledger: Ledger, client: SyncClient) -> None:
        """Once per worker: learn what the central store already holds of this terminal's.

        After a restore from a backup (or a re-install), the ledger may lack answers the central
        store gave, or entries it made after the backup: both are taken from the central store
        instead of being sent again (answered "duplicate") or lost.
        """
        with ledger.read() as tx:
            after = book.acked_through(tx)
        if (client.whoami().last_seq or 0) <= after:
            return
        while not self._stop.is_set():
            page = client.own_entries(after)
            if page.entries:
                with ledger.write() as tx:
                    taken = book.adopt_own(
                        tx, [(o.entry, o.refused, o.reason) for o in page.entries]
                    )
                if taken:
                    log.warning(
                        "took back %d entries of this terminal from the central store", taken
                    )
                after = page.entries[-1].entry.seq
            if not page.has_more:
                return

    def _push(self, ledger: Ledger, client: SyncClient) -> None:
        """Send every unsent entry, one batch in flight at a time, oldest first.

        Pipelined: while the central store works on one batch, this thread records the
        answers to the previous one and reads the next from the ledger, so a backlog drains
        at the central store's pace rather than at the sum of both sides' work. A batch is
        sent only after the previous one was answered (the central store applies a terminal's
        entries in sequence order), and an answer is recorded only once it has arrived. The
        common answer, every entry applied, is read without a model per entry and recorded by
        one statement (:func:`book.record_applied`).

        A backlog's batches grow while the central store keeps up (:func:`next_batch_size`):
        the central store's work per batch is largely fixed, so after an outage a terminal
        drains its backlog in fewer, larger batches, and a slow answer brings the size back.
        """
        size = self.settings.batch_size
        with ledger.read() as tx:
            batch = book.unsent_json(tx, size)
            client.outbox = book.counts(tx).waiting
        if not batch.seqs:
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="putback-push") as sender:
            in_flight = sender.submit(client.push_json, batch.entry_ids, batch.entries_json)
            sent_at = self._monotonic()
            while True:
                with ledger.read() as tx:  # the next batch, read while this one is in flight
                    upcoming = book.outgoing(tx, batch.seqs[-1], size)
                try:
                    answer = in_flight.result()
                except CentralUnavailable as exc:
                    if exc.status is not None and exc.status >= 500:
                        # The central store answered but could not apply the batch: count the
                        # rounds it fails at this entry, to tell a failure from an outage.
                        with ledger.write() as tx:
                            book.note_failure(tx, "push", batch.entry_ids[0], str(exc))
                    raise
                took = self._monotonic() - sent_at
                # The batch read meanwhile is sent as read; the size applies to the one after.
                size = next_batch_size(size, took, len(upcoming.seqs) == size, self.settings)
                answers, retry = _answers(batch, answer)
                if retry is not None or self._stop.is_set():
                    upcoming = book.Outgoing((), (), ())
                if upcoming.seqs:
                    in_flight = sender.submit(
                        client.push_json, upcoming.entry_ids, upcoming.entries_json
                    )
                    sent_at = self._monotonic()
                with ledger.write() as tx:
                    if answers is None:
                        book.record_applied(tx, batch.seqs)
                    else:
                        book.record_answers(tx, answers)
                    book.clear_failure(tx, "push")
                self._publish(online=True, error=None)
                if retry is not None:
                    raise _Retry(retry)
                if not upcoming.seqs:
                    return
                batch = upcoming

    def _pull(self, ledger: Ledger, client: SyncClient) -> None:
        with ledger.read() as tx:
            cursor = book.pull_cursor(tx)
            client.outbox = book.counts(tx).waiting
        while not self._stop.is_set():
            try:
                page = client.changes(cursor, self.page_size)
            except AnswerRefused as exc:
                log.error("refused a changes page after cursor %d: %s", cursor, exc)
                with ledger.write() as tx:
                    book.note_failure(tx, "pull", f"cursor {cursor}", str(exc))
                raise
            with ledger.write() as tx:
                done = book.apply_page(
                    tx,
                    cursor=page.cursor,
                    next_cursor=page.next_cursor,
                    has_more=page.has_more,
                    applied_through_seq=page.applied_through_seq,
                    orders=page.orders,
                    products=page.products,
                    locations=page.locations,
                    operators=page.operators,
                    qoh=[(s.sku, s.location, s.quantity) for s in page.stock if s.location],
                    atp=[(s.sku, s.quantity) for s in page.stock if s.location is None],
                    reconciled=[
                        (r.order_id, r.at, r.operator, r.terminal) for r in page.reconciled
                    ],
                    roles=(
                        None
                        if page.roles is None
                        else {g.role: [p.value for p in g.permissions] for g in page.roles}
                    ),
                    release_as=self.release_as,
                    reasons=page.reasons,
                )
            cursor = page.next_cursor
            if done:
                self._claims = page.claims
                with ledger.write() as tx:
                    book.clear_failure(tx, "pull")
                return

    def _publish(self, *, online: bool, error: str | None) -> SyncState:
        counts = self._counts()
        failure = counts.failure if counts else None
        state = SyncState(
            online=online,
            waiting=counts.waiting if counts else self._state.waiting,
            refused=counts.refused if counts else self._state.refused,
            last_success=counts.last_success if counts else self._state.last_success,
            last_error=error,
            failing=(
                failure.describe()
                if failure and failure.shows(self.settings.failure_rounds)
                else None if counts else self._state.failing
            ),
            claims=self._claims,
        )
        self._state = state
        if self.on_state is not None:
            try:
                self.on_state(state)
            except Exception:  # the UI's problem must not stop sync
                log.exception("on_state callback failed")
        return state

    def _counts(self) -> book.SyncCounts | None:
        try:
            ledger = self._open_ledger()
            with ledger.read() as tx:
                return book.counts(tx)
        except LedgerError:
            return None


GROW_BELOW_S = 0.5
"""An answer within this many seconds, with more waiting, doubles the next batch."""
SHRINK_ABOVE_S = 2.0
"""An answer slower than this halves the next batch (never below ``sync.batch_size``)."""


def next_batch_size(size: int, took_s: float, more_waiting: bool, settings: SyncSettings) -> int:
    """The size of the next batch, after one of ``size`` entries was answered in ``took_s``.

    Doubled up to ``sync.max_batch_size`` when the answer came within :data:`GROW_BELOW_S` and
    a full batch waits behind it; halved, down to ``sync.batch_size``, when it took over
    :data:`SHRINK_ABOVE_S` (a busy central store, a slow link); else kept.
    """
    if took_s > SHRINK_ABOVE_S:
        return max(settings.batch_size, size // 2)
    if took_s < GROW_BELOW_S and more_waiting:
        return max(min(settings.max_batch_size, size * 2), size)
    return size


def _answers(
    batch: book.Outgoing, answer: BatchAnswer
) -> tuple[list[book.Answer] | None, str | None]:
    """The final answers of a batch, up to the first retryable refusal, and its reason.

    None for the answers when every entry was applied: :func:`book.record_applied` records
    them without a list.
    """
    if answer.result is None:
        return None, None
    answers: list[book.Answer] = []
    for seq, entry_id, r in zip(
        batch.seqs, batch.entry_ids, answer.result.results, strict=True
    ):
        if r.outcome is Outcome.REFUSED and r.retryable:
            return answers, r.reason or "the central store asked to send again later"
        refused = r.outcome is Outcome.REFUSED or r.recorded_as == "refused"
        answers.append(
            book.Answer(
                seq=seq, entry_id=entry_id, refused=refused,
                reason=r.reason if refused else None,
            )
        )
    return answers, None


def last_success_text(at: datetime | None) -> str:
    """``last sync 14:03:27`` in local time, or ``never synced``."""
    return f"last sync {at.astimezone():%H:%M:%S}" if at else "never synced"
