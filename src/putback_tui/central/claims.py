"""Claims: which terminal is clearing an exception order now, written once for both engines.

A claim is best effort and never a lock: no entry is ever refused because of one, and the
ingest checks stay the guarantee. A terminal takes the claim when its operator opens an
exception order for put-back, renews it while the operator works, and releases it when the
order is done or left. A claim not renewed for its idle time ends by itself: every read
ignores rows past ``expires_at`` (the central store's clock), so a dead terminal's claim
needs nobody to clear it; the next claim write of the facility sweeps such rows away.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from putback_tui.central.engines import Engine, Row, Tx
from putback_tui.domain.models import iso_utc
from putback_tui.wire import Claim, ClaimAnswer, ClaimRequest

_COLUMNS = "order_id, terminal, operator, since, expires_at"


class ClaimRefused(Exception):
    """A claim the caller may not make; the message says why (answered 4xx)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _claim(row: Row) -> Claim:
    return Claim(
        order_id=row[0],
        terminal=row[1],
        operator=row[2],
        since=datetime.fromisoformat(row[3]),
        expires_at=datetime.fromisoformat(row[4]),
    )


def current(tx: Tx, facility: str, now: datetime) -> tuple[Claim, ...]:
    """The facility's claims still running at ``now``, oldest first (one indexed read)."""
    rows = tx.all(
        f"SELECT {_COLUMNS} FROM claims WHERE facility = ? AND expires_at > ? "
        "ORDER BY since, order_id",
        (facility, iso_utc(now)),
    )
    return tuple(_claim(r) for r in rows)


def take(
    engine: Engine,
    terminal: str,
    facility: str,
    order_id: str,
    request: ClaimRequest,
    now: datetime,
) -> ClaimAnswer:
    """Take or renew ``terminal``'s claim on ``order_id`` (an order of ``facility``).

    Free, expired or already the caller's: the caller holds it, until ``now + idle_s``
    (``since`` is kept on a renewal). Held by another terminal: nothing changes and the answer
    says who holds it, unless ``request.take_over`` (the operator confirmed): then the caller
    takes it, ``since`` now.

    Raises:
        ClaimRefused: no such order (404), or an order of another facility (403).
    """
    at = iso_utc(now)
    expires = iso_utc(now + timedelta(seconds=request.idle_s))
    with engine.write(facility) as tx:
        rows = tx.all("SELECT facility FROM orders WHERE order_id = ?", (order_id,))
        if not rows:
            raise ClaimRefused(404, f"No order {order_id}: nothing to claim.")
        if rows[0][0] != facility:
            raise ClaimRefused(
                403, f"Order {order_id} is not of {facility}: {terminal} may not claim it."
            )
        tx.run("DELETE FROM claims WHERE facility = ? AND expires_at <= ?", (facility, at))
        found = tx.all(
            f"SELECT {_COLUMNS} FROM claims WHERE facility = ? AND order_id = ?",
            (facility, order_id),
        )
        if found and found[0][1] != terminal and not request.take_over:
            return ClaimAnswer(held=False, claim=_claim(found[0]))
        same = bool(found) and found[0][1] == terminal and found[0][2] == request.operator
        since = found[0][3] if same else at
        if found:
            tx.run(
                "UPDATE claims SET terminal = ?, operator = ?, since = ?, renewed_at = ?, "
                "expires_at = ? WHERE facility = ? AND order_id = ?",
                (terminal, request.operator, since, at, expires, facility, order_id),
            )
        else:
            tx.run(
                "INSERT INTO claims (facility, order_id, terminal, operator, since, renewed_at, "
                "expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (facility, order_id, terminal, request.operator, since, at, expires),
            )
    return ClaimAnswer(
        held=True,
        claim=_claim((order_id, terminal, request.operator, since, expires)),
    )


def release(engine: Engine, terminal: str, facility: str, order_id: str, now: datetime) -> bool:
    """End ``terminal``'s claim on ``order_id``; False when it held none there (nothing changes)."""
    with engine.write(facility) as tx:
        return bool(
            tx.run(
                "DELETE FROM claims WHERE facility = ? AND order_id = ? AND terminal = ? "
                "AND expires_at > ?",
                (facility, order_id, terminal, iso_utc(now)),
            )
        )


def read(engine: Engine, facility: str, now: datetime) -> tuple[Claim, ...]:
    """The facility's current claims (see :func:`current`)."""
    with engine.read() as tx:
        return current(tx, facility, now)
