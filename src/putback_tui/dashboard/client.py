"""The dashboard's calls to the backlog API, on the sync client's HTTP and error handling.

The dashboard reuses :class:`~putback_tui.sync.client.SyncClient` (its timeouts, its errors,
its refusal of answers out of bounds) so that one module of the project talks HTTP; it only adds
the read calls a viewer token may make.
"""

from __future__ import annotations

from urllib.parse import quote

from putback_tui.sync.client import SyncClient
from putback_tui.wire import Backlog, FacilityDetail, OrderHistory

__all__ = ["Backlog", "BacklogClient", "FacilityDetail", "OrderHistory"]


def _segment(value: str) -> str:
    """A facility or order code as one path segment (a ``/`` in it stays inside)."""
    return quote(value, safe="")


class BacklogClient(SyncClient):
    """Read calls of a viewer (or system) token: the backlog and order histories.

    Args:
        base_url: e.g. ``http://central.local:8700``.
        token: a viewer token from ``putback central add-viewer``.
        timeout_s: for connecting and for each answer.
    """

    def network(self) -> Backlog:
        """``GET /v1/backlog``: every facility the token may read.

        Raises:
            CentralUnavailable, CentralRefused, SyncError.
        """
        return self._call(Backlog, "GET", "/backlog")

    def facility(self, facility: str) -> FacilityDetail:
        """``GET /v1/backlog/{facility}``: one facility's figures and waiting orders.

        Raises:
            CentralUnavailable, CentralRefused (403: not this viewer's facility), SyncError.
        """
        return self._call(FacilityDetail, "GET", f"/backlog/{_segment(facility)}")

    def order_history(self, order_id: str) -> OrderHistory:
        """``GET /v1/orders/{order_id}/history``: the order and every entry on it, in order.

        Raises:
            CentralUnavailable, CentralRefused (404: unknown order), SyncError.
        """
        return self._call(OrderHistory, "GET", f"/orders/{_segment(order_id)}/history")
