"""Loading a data set into a new ledger: reference data and the facility's stock, in one go."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from putback_tui.dataset import Dataset, DatasetError
from putback_tui.domain.models import Order
from putback_tui.ledger.releases import release_all_known
from putback_tui.ledger.store import Ledger


def load_dataset(
    ledger: Ledger,
    dataset: Dataset,
    facility: str,
    *,
    roles: Iterable[str] | None = None,
    release_as: str | None = None,
) -> dict[str, int]:
    """Load a data set's reference data and the facility's stock into a new ledger.

    Everything is one transaction: a bad row, or a data set with nothing for ``facility``,
    leaves the ledger as it was.

    Args:
        ledger: a ledger with no entries yet.
        dataset: the data set directory.
        facility: the terminal's facility; only its orders and stock are loaded.
        roles: the roles operators may have (the configured ``[roles]``); default: the built-in.
        release_as: this terminal's ID: loading then counts as learning of the data set's
            exception orders, whose unpicked units are released at once, in the same
            transaction, by automatic entries of that terminal (counted as ``released orders``).

    Raises:
        DatasetError: a bad file or row, or no order, stock or ATP row for ``facility``.
        LedgerError: the ledger already has entries.
    """
    if roles is not None:
        dataset = replace(dataset, roles=frozenset(roles))
    facilities: set[str] = set()
    mine = {"stock": 0, "atp": 0}

    def for_facility(rows: Iterable[tuple[Any, ...]], kind: str) -> Iterator[tuple[Any, ...]]:
        for fac, *rest in rows:
            facilities.add(fac)
            if fac == facility:
                mine[kind] += 1
                yield tuple(rest)

    def orders_for_facility() -> Iterator[Order]:
        for order in dataset.orders():
            facilities.add(order.facility)
            if order.facility == facility:
                yield order

    with ledger.write() as tx:
        counts = {
            "products": tx.upsert_products(dataset.products()),
            "locations": tx.upsert_locations(dataset.locations()),
            "operators": tx.upsert_operators(dataset.operators()),
            "orders": tx.upsert_orders(orders_for_facility()),
        }
        tx.set_baseline(for_facility(dataset.stock(), "stock"), for_facility(dataset.atp(), "atp"))
        if not counts["orders"] and not mine["stock"] and not mine["atp"]:
            others = ", ".join(sorted(facilities)) or "none"
            raise DatasetError(
                f"{dataset.root} has no orders, stock or ATP for facility {facility} (it has: "
                f"{others}). Set terminal.facility in the configuration to this terminal's "
                "facility, or use the data set for it; nothing was loaded."
            )
        tx.set_meta("facility", facility)
        tx.set_meta("dataset", dataset.info.name)
        released = (
            {}
            if release_as is None
            else {
                "released orders": len(
                    release_all_known(tx, terminal=release_as, facility=facility)
                )
            }
        )
    return {**counts, "stock rows": mine["stock"], "ATP rows": mine["atp"], **released}
