"""The central store: clients, ingest, feeds and health, over either engine.

:class:`CentralStore` is the one object the API, the command line and the tests use. Its work
is split by concern, each module written once for both engines:

* :mod:`~putback_tui.central.engines`: SQLite and PostgreSQL behind the :class:`Engine`
  protocol (connection pool, the writers' turn, transactions, dialect);
* :mod:`~putback_tui.central.schema`: the migrations and their runner;
* :mod:`~putback_tui.central.state` and :mod:`~putback_tui.central.ingest`: a batch's state
  read in one go, then judged by a pure plan; :meth:`CentralStore.ingest` writes the plan;
* :mod:`~putback_tui.central.feeds`: the changes and events feeds, page by page;
* :mod:`~putback_tui.central.upstream`: reference data and stock from upstream systems;
* :mod:`~putback_tui.central.clients`: terminals, systems and viewers, and their tokens;
* :mod:`~putback_tui.central.backlog` and :mod:`~putback_tui.central.claims`: the network's
  backlog for dashboards, and who is clearing which order.

What stays here is the facade every caller uses, and the one write that is not a pure module's:
:meth:`CentralStore.ingest` writing a planned batch (entries, lines, orders, stock, revisions,
the backlog's bookkeeping) in its facility's transaction. Over 600 lines as one unit: the facade
lists every operation of the central store in one place, each a few lines over its module.

Transactions: one per batch, writers serialised (see :mod:`~putback_tui.central.engines`).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from putback_tui.central import backlog, clients, feeds, hot, upstream
from putback_tui.central import claims as claiming
from putback_tui.central.claims import ClaimRefused
from putback_tui.central.clients import Client, ClientExists, hash_token
from putback_tui.central.engines import (
    DRIVER_ERRORS,
    INTEGRITY_ERRORS,
    WAIT_S,
    Engine,
    PostgresEngine,
    SqliteEngine,
    StoreError,
    Tx,
    open_engine,
    redact,
)
from putback_tui.central.feeds import PAGE_BYTES
from putback_tui.central.hot import HotBatch
from putback_tui.central.ingest import ENTRY_COLUMNS, Writes, plan_batch, with_effects, writes_of
from putback_tui.central.releases import release_exceptions
from putback_tui.central.schema import MIGRATIONS, migrate
from putback_tui.central.state import load_hot_state, load_reasons, load_state, order_lines
from putback_tui.domain.derive import DEFAULT_LIMITS, Limits
from putback_tui.domain.entries import Entry, EntryKind
from putback_tui.domain.models import (
    Location,
    Operator,
    Order,
    OrderStatus,
    Permission,
    Product,
    iso_utc,
    now_utc,
)
from putback_tui.domain.reasons import SiteReasons
from putback_tui.domain.sla import PrioritySettings, SlaSettings
from putback_tui.wire import (
    Backlog,
    ChangesPage,
    Claim,
    ClaimAnswer,
    ClaimRequest,
    ClientKind,
    EntryResult,
    EventsPage,
    FacilityDetail,
    HistoryEntry,
    OrderHistory,
)

__all__ = [
    "PAGE_BYTES",
    "WAIT_S",
    "CentralStore",
    "ClaimRefused",
    "Client",
    "ClientExists",
    "Contact",
    "Engine",
    "Health",
    "IngestFailure",
    "PostgresEngine",
    "SqliteEngine",
    "StoreError",
    "Tx",
    "UnknownOrderError",
    "hash_token",
    "open_store",
]

CONTACT_EVERY_S = 10.0
"""How often a terminal's last contact is written at most, when its outbox did not change."""


@dataclass(frozen=True)
class Contact:
    """A terminal's call to be noted with its batch: its outbox as it reported it."""

    waiting: int | None
    """The entries it said were waiting to be sent (None: it did not say)."""

_KINDS = {k: k.value for k in EntryKind}
"""Each kind's stored text: a dict lookup is cheaper than an enum's ``.value`` per entry."""


class UnknownOrderError(StoreError):
    """No order has that ID."""


@dataclass(frozen=True)
class IngestFailure:
    """A batch whose ingest failed unexpectedly (rolled back, answered 503)."""

    failure_id: int
    at: datetime
    terminal: str
    entries: int
    entry_ids: tuple[str, ...]
    error: str


@dataclass(frozen=True)
class Health:
    """The central store's state as ``putback central doctor`` reports it."""

    engine: str
    schema_version: int
    latest_schema: int
    clients: list[tuple[str, str, str | None, int]]
    """(name, kind, facility, last seq) of every enrolled client."""
    entries: dict[str, int]
    """Recorded entries by outcome."""
    failures_total: int
    failures: list[IngestFailure]
    """The most recent failures, newest first."""
    sums_astray: tuple[int, list[str]] = (0, [])
    """Orders whose kept sums (units to put back, reserved) differ from their lines: how many,
    and the first IDs (see :func:`backlog.sums_astray`); none on a sound store."""


class CentralStore:
    """Every read and write of the central store, over either engine."""

    def __init__(self, engine: Engine, limits: Limits = DEFAULT_LIMITS) -> None:
        self.engine = engine
        self.limits = limits
        """The caps every entry is held to (:class:`~putback_tui.domain.derive.Limits`)."""
        self.sla = SlaSettings()
        """The SLA clocks the backlog judges waiting orders by (``serve --sla-config``)."""
        self.priority = PrioritySettings()
        """The score's weights the backlog ranks waiting orders by."""
        self._contacts: dict[str, tuple[float, int | None]] = {}

    @property
    def kind(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.name

    def close(self) -> None:
        """Close every connection."""
        self.engine.close()

    # -- schema --------------------------------------------------------------------------

    def migrate(self) -> list[int]:
        """Apply pending migrations, each in its own transaction.

        Returns:
            The versions applied now.
        """
        return migrate(self.engine)

    # -- clients -------------------------------------------------------------------------

    def add_client(
        self, name: str, kind: ClientKind, facility: str | None, *, replace: bool = False
    ) -> str:
        """Enrol a terminal or a system; see :func:`putback_tui.central.clients.add_client`."""
        return clients.add_client(self.engine, name, kind, facility, replace=replace)

    def add_viewer(
        self, name: str, facilities: Sequence[str] | None, *, replace: bool = False
    ) -> str:
        """Enrol a read-only viewer; see :func:`putback_tui.central.clients.add_viewer`."""
        return clients.add_viewer(self.engine, name, facilities, replace=replace)

    def authenticate(self, token: str) -> Client | None:
        """The client holding ``token``, or None."""
        return clients.authenticate(self.engine, token)

    def note_contact(self, client: Client, waiting_to_send: int | None) -> None:
        """Remember that terminal ``client`` called just now, with its outbox as it reported it.

        Written at most every :data:`CONTACT_EVERY_S` seconds per terminal and process unless
        the count changed: a pull every two seconds must not queue for the writers' turn. A
        batch notes it in its own transaction instead (``ingest``'s ``contact``).
        """
        if not self._contact_due(client, waiting_to_send):
            return
        # The terminal's facility's turn, not the network's: pulls of other facilities go on.
        with self.engine.write(client.facility) as tx:
            noted = self._contact_in(tx, client, Contact(waiting_to_send))
        self._remember_contact(client, noted)

    def _contact_due(self, client: Client, waiting_to_send: int | None) -> bool:
        """True when the terminal's contact is to be written now (see :meth:`note_contact`)."""
        was = self._contacts.get(client.name)
        return not (
            was is not None
            and was[1] == waiting_to_send
            and time.monotonic() - was[0] < CONTACT_EVERY_S
        )

    def _contact_in(
        self, tx: Tx, client: Client, contact: Contact | None
    ) -> tuple[float, int | None] | None:
        """Write the terminal's contact in ``tx`` when one is due.

        Returns:
            What :meth:`_remember_contact` keeps once ``tx`` commits; None when nothing was
            written (no ``contact``, or one written lately with the same outbox).
        """
        if contact is None or not self._contact_due(client, contact.waiting):
            return None
        tx.upsert_rows(
            "terminal_contacts",
            ("facility text", "last_contact text", "waiting_to_send bigint"),
            ("terminal text",),
            [(client.name, client.facility or "", iso_utc(now_utc()), contact.waiting)],
        )
        return (time.monotonic(), contact.waiting)

    def _remember_contact(self, client: Client, noted: tuple[float, int | None] | None) -> None:
        """After the commit: the contact :meth:`_contact_in` wrote is the terminal's latest."""
        if noted is not None:
            self._contacts[client.name] = noted

    # -- the backlog ---------------------------------------------------------------------

    def facilities(self) -> list[str]:
        """Every facility the central store knows (see :func:`backlog.known_facilities`)."""
        return backlog.known_facilities(self.engine)

    def facility_exists(self, facility: str) -> bool:
        """True when the central store knows ``facility``."""
        return backlog.facility_exists(self.engine, facility)

    def backlog(self, facilities: Sequence[str], now: datetime | None = None) -> Backlog:
        """The backlog of ``facilities``; see :mod:`putback_tui.central.backlog`."""
        return backlog.backlog(self.engine, facilities, self.sla, now or now_utc())

    def facility_detail(self, facility: str, now: datetime | None = None) -> FacilityDetail:
        """One facility's backlog with its waiting orders, most urgent first."""
        return backlog.facility_detail(
            self.engine, facility, self.sla, self.priority, now or now_utc()
        )

    def order_history(self, order_id: str, limit: int = 1000) -> OrderHistory | None:
        """The order and every entry recorded on it, in order (None: no such order)."""
        order = self.order(order_id)
        if order is None:
            return None
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT position, received_at, outcome, reason, body, effects FROM entries "
                "WHERE order_id = ? ORDER BY position LIMIT ?",
                (order_id, limit),
            )
        return OrderHistory(
            order=order,
            entries=tuple(
                HistoryEntry(
                    position=int(r[0]),
                    received_at=datetime.fromisoformat(r[1]),
                    outcome=r[2],
                    reason=r[3],
                    entry=with_effects(Entry.model_validate_json(r[4]), r[5]),
                )
                for r in rows
            ),
        )

    # -- ingest --------------------------------------------------------------------------

    def ingest(
        self,
        client: Client,
        entries: Sequence[Entry],
        *,
        bodies: Sequence[str] | None = None,
        contact: Contact | None = None,
    ) -> list[EntryResult]:
        """Judge and apply a terminal's batch: each entry at most once, in its sequence order.

        The caller has checked that every entry is the client's own, of its facility, and that
        sequence numbers strictly increase. No number the terminal sent is believed: each
        entry's effects are derived from its meaning by the domain's rules against the central
        store's own state (:mod:`putback_tui.central.ingest`), and what is derived is applied
        and recorded. Everything happens in one transaction: entries are recorded (applied or
        refused), and line progress, stock and order status change with them.

        The work is done per batch, not per entry: every row the batch needs is read first,
        the entries are judged and applied in memory in sequence order, and then each table
        is written once.

        Args:
            client: the terminal that sent the batch.
            entries: the batch, in sequence order.
            bodies: each entry's JSON exactly as received, which validated into ``entries``:
                kept as the entries' bodies. When None, each entry is serialised instead.
            contact: the terminal's outbox as it reported it with the batch: its contact is
                noted as :meth:`note_contact` would, in the batch's own transaction (one
                commit, not two, for the batch). None: not noted.

        Returns:
            One result per entry, in the batch's order.
        """
        received = iso_utc(now_utc())
        name = client.name
        facility = client.facility or ""
        # Before the writers' lock: whatever does not need the database should not hold it.
        if bodies is None:
            bodies = [e.model_dump_json() for e in entries]
        elif len(bodies) != len(entries):
            raise ValueError("one body per entry")
        with self.engine.write(facility) as tx:
            noted = self._contact_in(tx, client, contact)
            last_seq = int(tx.all("SELECT last_seq FROM clients WHERE name = ?", (name,))[0][0])
            existing: dict[str, tuple[str, str, str | None]] = {
                r[0]: (r[1], r[2], r[3])
                for r in tx.keyed(
                    "SELECT entry_id, terminal, outcome, reason FROM entries "
                    "WHERE entry_id IN ({keys})",
                    [e.entry_id for e in entries],
                )
            }
            state = load_state(tx, facility, entries)
            plan = plan_batch(
                name,
                entries,
                bodies,
                last_seq=last_seq,
                existing=existing,
                state=state,
                limits=self.limits,
            )
            if plan.recorded:
                _write(tx, name, facility, received, writes_of(plan, state))
        self._remember_contact(client, noted)
        return plan.results

    def ingest_hot(
        self, client: Client, batch: HotBatch, *, contact: Contact | None = None
    ) -> str | None:
        """Ingest a batch of put-backs and releases over plain rows (``central.hot``).

        The caller checked the batch with :func:`hot.admissible`. Returns the answer's JSON,
        every entry applied (as sent, or a release with nothing left to release), exactly as
        :meth:`ingest` would have answered and with the same rows written; or None, having
        written nothing, when the batch is anything else (a duplicate, a gap, an entry the
        rules refuse or derive otherwise...): then :meth:`ingest` judges it. ``contact``: as
        for :meth:`ingest` (not noted when None is returned: :meth:`ingest` notes it then).
        """
        received = iso_utc(now_utc())
        name = client.name
        facility = client.facility or ""
        try:
            with self.engine.write(facility) as tx:
                # Asked before the batch's state, read after it: on PostgreSQL the reads
                # travel together (Tx.ask).
                asked_seq = tx.ask("SELECT last_seq FROM clients WHERE name = ?", (name,))
                state = load_hot_state(tx, facility, batch)
                last_seq = int(asked_seq()[0][0])
                if batch.entries[0].seq != last_seq + 1:
                    return None
                planned = hot.plan(batch, state, last_seq=last_seq, limits=self.limits)
                if planned is None:
                    return None
                _write(tx, name, facility, received, planned.writes)
                noted = self._contact_in(tx, client, contact)
        except INTEGRITY_ERRORS:
            # An entry ID recorded before (a duplicate, or another terminal's ID): the entries'
            # unique keys refuse the insert and the whole transaction is rolled back, so nothing
            # was written, and the ordinary path answers it. The keys check every ID anyway;
            # looking them up first as well cost each batch a query (on PostgreSQL 1.6 ms for
            # 200 IDs) for what almost never happens.
            return None
        self._remember_contact(client, noted)
        return hot.answer_json(batch, planned.nothing_left)

    # -- feeds ---------------------------------------------------------------------------

    def changes(
        self,
        client: Client,
        cursor: int,
        limit: int,
        *,
        max_bytes: int = PAGE_BYTES,
        now: datetime | None = None,
    ) -> ChangesPage:
        """What changed for the client's facility after ``cursor``, at most ``limit`` items.

        With the facility's claims running at ``now`` (the central store's clock).
        See :func:`putback_tui.central.feeds.changes`.
        """
        return feeds.changes(
            self.engine, client.name, client.facility or "", cursor, limit,
            max_bytes=max_bytes, now=now or now_utc(),
        )

    # -- claims --------------------------------------------------------------------------

    def claim(
        self, client: Client, order_id: str, request: ClaimRequest, now: datetime | None = None
    ) -> ClaimAnswer:
        """Take or renew the terminal's claim on an order of its facility.

        See :func:`putback_tui.central.claims.take`.

        Raises:
            ClaimRefused: no such order (404), or an order of another facility (403).
        """
        return claiming.take(
            self.engine, client.name, client.facility or "", order_id, request, now or now_utc()
        )

    def release_claim(self, client: Client, order_id: str, now: datetime | None = None) -> bool:
        """End the terminal's claim on ``order_id``; False when it held none there."""
        return claiming.release(
            self.engine, client.name, client.facility or "", order_id, now or now_utc()
        )

    def claims(self, facility: str, now: datetime | None = None) -> tuple[Claim, ...]:
        """The facility's current claims, oldest first.

        Each with its order, terminal, operator, since and expires_at; claims past their
        expiry at ``now`` are left out. For the backlog and the dashboard as much as for
        terminals: one indexed read.
        """
        return claiming.read(self.engine, facility, now or now_utc())

    def events(
        self,
        cursor: int,
        limit: int,
        facility: str | None = None,
        *,
        max_bytes: int = PAGE_BYTES,
    ) -> EventsPage:
        """Applied entries after event position ``cursor`` (see :func:`feeds.publish`).

        See :func:`putback_tui.central.feeds.events`.
        """
        return feeds.events(self.engine, cursor, limit, facility, max_bytes=max_bytes)

    def last_seq(self, terminal: str) -> int:
        """The highest sequence number of ``terminal``'s entries recorded here (0: none)."""
        with self.engine.read() as tx:
            rows = tx.all("SELECT last_seq FROM clients WHERE name = ?", (terminal,))
        return int(rows[0][0]) if rows else 0

    def own_entries(
        self, terminal: str, after_seq: int, limit: int
    ) -> list[tuple[str, bool, str | None]]:
        """``terminal``'s recorded entries after ``after_seq``: (body JSON, refused, reason)."""
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT body, outcome, reason FROM entries WHERE terminal = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (terminal, after_seq, limit),
            )
        return [(str(r[0]), r[1] == "refused", r[2]) for r in rows]

    def recorded(self, terminal: str | None = None) -> list[tuple[str, str, str | None]]:
        """Every recorded entry as (entry_id, outcome, reason), in position order."""
        sql = "SELECT entry_id, outcome, reason FROM entries"
        params: tuple[Any, ...] = ()
        if terminal is not None:
            sql += " WHERE terminal = ?"
            params = (terminal,)
        with self.engine.read() as tx:
            return [(r[0], r[1], r[2]) for r in tx.all(sql + " ORDER BY position", params)]

    def stock(self, facility: str) -> tuple[dict[tuple[str, str], int], dict[str, int]]:
        """The facility's QOH by (sku, location) and ATP by sku."""
        with self.engine.read() as tx:
            qoh = {
                (r[0], r[1]): int(r[2])
                for r in tx.all(
                    "SELECT sku, location, qoh FROM stock_qoh WHERE facility = ?", (facility,)
                )
            }
            atp = {
                r[0]: int(r[1])
                for r in tx.all("SELECT sku, atp FROM stock_atp WHERE facility = ?", (facility,))
            }
        return qoh, atp

    def site_reasons(self) -> SiteReasons:
        """The reason lists every terminal and the central store judge by."""
        with self.engine.read() as tx:
            return load_reasons(tx)

    def order(self, order_id: str) -> Order | None:
        """The order with its central progress, or None."""
        with self.engine.read() as tx:
            rows = tx.all(
                "SELECT order_id, facility, status, has_label, status_changed_at FROM orders "
                "WHERE order_id = ?",
                (order_id,),
            )
            if not rows:
                return None
            lines = order_lines(tx, [order_id])
        r = rows[0]
        return Order(
            order_id=r[0],
            facility=r[1],
            status=OrderStatus(r[2]),
            has_label=bool(r[3]),
            status_changed_at=datetime.fromisoformat(r[4]) if r[4] else None,
            lines=tuple(lines.get(order_id, ())),
        )

    # -- failures and health -------------------------------------------------------------

    def record_failure(self, terminal: str, entry_ids: Sequence[str], error: str) -> int:
        """Keep a batch whose ingest failed unexpectedly, for ``putback central doctor``.

        Returns:
            The failure's number (also in the 503 answer and the log).
        """
        with self.engine.write() as tx:
            failure = int(
                tx.all("SELECT COALESCE(MAX(failure_id), 0) + 1 FROM ingest_failures")[0][0]
            )
            tx.run(
                "INSERT INTO ingest_failures "
                "(failure_id, at, terminal, entries, entry_ids, error) VALUES (?, ?, ?, ?, ?, ?)",
                (failure, iso_utc(now_utc()), terminal, len(entry_ids), " ".join(entry_ids),
                 error[:2000]),
            )
        return failure

    def health(self, *, failures: int = 20) -> Health:
        """What ``putback central doctor`` reports: schema, clients, counts, recent failures."""
        with self.engine.read() as tx:
            versions = [int(r[0]) for r in tx.all("SELECT version FROM central_schema")]
            clients = [
                (str(r[0]), str(r[1]), r[2], int(r[3]))
                for r in tx.all(
                    "SELECT name, kind, facility, last_seq FROM clients ORDER BY kind, name"
                )
            ]
            clients += [
                (str(r[0]), ClientKind.VIEWER.value,
                 ", ".join(json.loads(r[1])) if r[1] else "every facility", 0)
                for r in tx.all("SELECT name, facilities FROM viewers ORDER BY name")
            ]
            outcomes = {
                str(r[0]): int(r[1])
                for r in tx.all("SELECT outcome, COUNT(*) FROM entries GROUP BY outcome")
            }
            total = int(tx.all("SELECT COUNT(*) FROM ingest_failures")[0][0])
            astray = backlog.sums_astray(tx) if max(versions, default=0) >= 10 else (0, [])
            recent = [
                IngestFailure(int(r[0]), datetime.fromisoformat(r[1]), str(r[2]), int(r[3]),
                              tuple(str(r[4]).split()), str(r[5]))
                for r in tx.all(
                    "SELECT failure_id, at, terminal, entries, entry_ids, error "
                    "FROM ingest_failures ORDER BY failure_id DESC LIMIT ?",
                    (failures,),
                )
            ]
        return Health(
            engine=self.kind,
            schema_version=max(versions, default=0),
            latest_schema=MIGRATIONS[-1].version,
            clients=clients,
            entries=outcomes,
            failures_total=total,
            failures=recent,
            sums_astray=astray,
        )

    # -- upstream input ------------------------------------------------------------------

    def set_order_status(
        self, order_id: str, status: OrderStatus, changed_at: datetime | None = None
    ) -> Order:
        """Set an order's status as the OMS reports it.

        An order that becomes an exception has its unpicked units released at once, by an
        entry of the central store's own (:mod:`putback_tui.central.releases`), in the same
        transaction.

        Raises:
            UnknownOrderError: no such order.
        """
        at = iso_utc(changed_at or now_utc())
        with self.engine.read() as tx:
            rows = tx.all("SELECT facility FROM orders WHERE order_id = ?", (order_id,))
        if not rows:
            raise UnknownOrderError(f"No order {order_id}.")
        # The order's facility's writers take turns; the others go on. Should an import have
        # moved the order to another facility meanwhile, the network-wide write is always right.
        if not self._set_status(order_id, status, at, rows[0][0]) and not self._set_status(
            order_id, status, at, None
        ):
            raise UnknownOrderError(f"No order {order_id}.")
        order = self.order(order_id)
        assert order is not None
        return order

    def import_data(
        self,
        *,
        products: Iterable[Product] = (),
        locations: Iterable[Location] = (),
        operators: Iterable[Operator] = (),
        orders: Iterable[Order] = (),
        stock: Iterable[tuple[str, str, str, int]] = (),
        atp: Iterable[tuple[str, str, int]] = (),
        roles: Mapping[str, Iterable[Permission]] | None = None,
        reasons: SiteReasons | None = None,
    ) -> dict[str, int]:
        """Insert or replace reference data and set stock, in one transaction.

        See :func:`putback_tui.central.upstream.import_data`.

        Returns:
            How many of each kind were loaded.
        """
        return upstream.import_data(
            self.engine,
            products=products,
            locations=locations,
            operators=operators,
            orders=orders,
            stock=stock,
            atp=atp,
            roles=roles,
            reasons=reasons,
        )

    def _set_status(
        self, order_id: str, status: OrderStatus, at: str, facility: str | None
    ) -> bool:
        """Set the status in a write of ``facility`` (None: network-wide); False: not found."""
        with self.engine.write(facility) as tx:
            [rev] = tx.revisions(1)
            where = "order_id = ?" if facility is None else "order_id = ? AND facility = ?"
            found = tx.all(
                f"SELECT facility FROM orders WHERE {where}",
                (order_id, *([] if facility is None else [facility])),
            )
            if not found:
                return False
            tx.run(
                "UPDATE orders SET status = ?, status_changed_at = ? WHERE order_id = ?",
                (status.value, at, order_id),
            )
            backlog.set_order_rev(tx, str(found[0][0]), order_id, rev)
            if status.is_exception:
                release_exceptions(tx, [order_id])
        return True


def _write(tx: Tx, name: str, facility: str, received: str, w: Writes) -> None:
    """Write a planned batch: each table once (see :meth:`CentralStore.ingest`).

    What changes with every entry, an order's revision and its sums, is one small row of
    ``order_progress`` (migration 13); the order's own row is written only when its status,
    its reconciled or its first action changes (``w.first_actions`` holds only those).
    """
    # Every row written gets a revision of its own, in this order: entries, orders, QOH, ATP
    # (the changes feed's cursor moves over them; see engines.py).
    revs = iter(tx.revisions(len(w.entries) + len(w.orders) + len(w.qoh) + len(w.atp)))
    tx.insert_rows(
        "entries", ENTRY_COLUMNS, [(next(revs), *r[:8], received, *r[8:]) for r in w.entries]
    )
    tx.update_rows(
        "order_lines",
        ("released int", "rejected int", "put_back int", "withdrawn int"),
        ("order_id text", "line_no int"),
        w.lines,
    )
    # Each order's new revision, with its kept sums over its lines as just written.
    tx.update_rows(
        "order_progress",
        ("rev bigint", "units_to_put_back bigint", "units_reserved bigint"),
        ("facility text", "order_id text"),
        [(next(revs), *w.sums[oid], facility, oid) for oid in w.orders],
    )
    tx.many(
        "UPDATE orders SET status = ?, status_changed_at = ? WHERE order_id = ?",
        [(st, at, oid) for oid, (st, at) in w.statuses.items()],
    )
    tx.update_rows(
        "orders",
        ("reconciled_at text", "reconciled_by text", "reconciled_terminal text"),
        ("order_id text",),
        [(*(by or (None, None, None)), oid) for oid, by in sorted(w.reconciled.items())],
    )
    # After the statuses: a first action counts only on an exception order, since it became one.
    backlog.write_notes(tx, w.first_actions, w.reason_counts)
    tx.upsert_rows(
        "stock_qoh",
        ("qoh bigint", "rev bigint"),
        ("facility text", "sku text", "location text"),
        [(facility, sku, location, qoh, next(revs)) for sku, location, qoh in w.qoh],
    )
    tx.upsert_rows(
        "stock_atp",
        ("atp bigint", "rev bigint"),
        ("facility text", "sku text"),
        [(facility, sku, atp, next(revs)) for sku, atp in w.atp],
    )
    # many(), not run(): nothing waits for its count of rows (on PostgreSQL it goes with the
    # commit, not in a round trip of its own).
    tx.many("UPDATE clients SET last_seq = ? WHERE name = ?", [(w.last_seq, name)])


def open_store(url: str, *, migrate: bool = True, wait_s: float = WAIT_S) -> CentralStore:
    """Open the central store named by ``url`` and bring its schema up to date.

    ``postgresql://...`` (or ``postgres://``) is PostgreSQL; ``sqlite:///path``, or a plain
    path, is a SQLite file. ``wait_s``: how long a call waits for a pooled connection or for
    its turn to write before it fails with :class:`StoreError` (the API answers 503).

    Raises:
        StoreError: the database cannot be reached.
    """
    store = CentralStore(open_engine(url, wait_s=wait_s))
    if migrate:
        try:
            store.migrate()
        except DRIVER_ERRORS as exc:
            store.close()
            raise StoreError(f"Cannot open the central store at {redact(url)}: {exc}") from exc
    return store
