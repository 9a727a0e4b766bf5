"""Revisions on PostgreSQL: each batch's come back in one row, and are the ones the sequence gave.

``_PgTx.revisions`` reads the lowest and highest of a run of consecutive values, or every value
when another writer's were taken between them (engines.py).
"""

from __future__ import annotations

import pytest

from putback_tui.central.engines import _revisions_of
from putback_tui.central.storage import CentralStore


@pytest.mark.postgres
def test_a_batch_s_revisions_are_the_next_values_read_in_one_row(pg_store: CentralStore) -> None:
    rows: list[int] = []
    with pg_store.engine.write("F1") as tx:
        before = tx.revision()
        real = tx._execute  # type: ignore[attr-defined]

        def watched(sql: str, params: object = ()) -> object:
            cursor = real(sql, params)
            if "nextval" in sql:
                rows.append(-1)  # replaced by the row count once read
                watched.cursor = cursor  # type: ignore[attr-defined]
            return cursor

        tx._execute = watched  # type: ignore[attr-defined]
        revisions = tx.revisions(2400)
        rows[-1] = watched.cursor.rowcount  # type: ignore[attr-defined]
        after = tx.revision()
    assert revisions == list(range(before + 1, before + 2401))
    assert after == before + 2400  # one nextval a value, no more
    assert rows == [1]


@pytest.mark.postgres
def test_revisions_of_writers_in_turn_never_repeat(pg_store: CentralStore) -> None:
    taken: list[int] = []
    for facility in ("F1", "F2", "F1", None):
        with pg_store.engine.write(facility) as tx:
            taken += tx.revisions(7)
    assert taken == sorted(taken)
    assert len(set(taken)) == 28


def test_a_run_of_revisions_is_read_from_its_ends() -> None:
    assert _revisions_of(5, 9, None) == [5, 6, 7, 8, 9]


def test_revisions_with_another_writer_s_between_are_read_one_by_one() -> None:
    assert _revisions_of(5, 12, [5, 6, 9, 12]) == [5, 6, 9, 12]
    assert _revisions_of(3, 8, [8, 3, 4]) == [3, 4, 8]
