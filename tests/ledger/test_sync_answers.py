"""The sync worker's record of a batch answered "all applied": the same rows and the same
``sync.acked_through`` as the answers recorded one by one (``record_answers``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from putback_tui.domain.entries import EntryDetails, EntryDraft, EntryKind
from putback_tui.domain.models import LineChange, StockChange
from putback_tui.ledger import Ledger
from putback_tui.ledger import sync as book
from putback_tui.ledger.transaction import Transaction

AT = datetime(2026, 12, 7, 5, 0, tzinfo=UTC)


class RolledBack(Exception):
    """Raised to leave a write transaction without committing it."""


def put_back(i: int) -> EntryDraft:
    return EntryDraft(
        kind=EntryKind.PUT_BACK, order_id=f"O{i % 5}",
        details=EntryDetails(sku="SKU-1", quantity=1, location="A-01"),
        changes=(StockChange(sku="SKU-1", location="A-01", qoh=1), StockChange(sku="SKU-1", atp=1)),
        line_changes=(LineChange(order_id=f"O{i % 5}", line_no=1, put_back=1),),
    )


@pytest.fixture
def ledger(tmp_path: Path) -> Ledger:
    """A terminal's ledger holding 12 entries made offline, none answered yet."""
    ledger = Ledger(tmp_path / "terminal.sqlite3")
    with ledger.write() as tx:
        for i in range(12):
            tx.append(put_back(i), terminal="T1", facility="F1", operator="OP-1")
    return ledger


def recorded(tx: Transaction) -> tuple[list[tuple[object, ...]], int]:
    rows = tx.conn.execute(
        "SELECT seq, entry_id, outcome, reason, answered_at FROM sync_answers ORDER BY seq"
    ).fetchall()
    return [tuple(r) for r in rows], book.acked_through(tx)


def both_ways(ledger: Ledger, after: int, size: int) -> tuple[object, object]:
    """What each way records for the batch of ``size`` entries after ``after``, rolled back."""
    seen = []
    for way in ("one by one", "all applied"):
        try:
            with ledger.write() as tx:
                batch = book.outgoing(tx, after, size)
                if way == "one by one":
                    book.record_answers(
                        tx,
                        [book.Answer(s, e, refused=False)
                         for s, e in zip(batch.seqs, batch.entry_ids, strict=True)],
                        at=AT,
                    )
                else:
                    book.record_applied(tx, batch.seqs, at=AT)
                seen.append(recorded(tx))
                raise RolledBack
        except RolledBack:
            pass
    return seen[0], seen[1]


@pytest.mark.parametrize(("answered", "after", "size"), [
    (0, 0, 5),    # the first batch
    (4, 4, 5),    # the next one
    (4, 4, 100),  # the last one, shorter than the batch size
    (6, 3, 5),    # sent again: three of its entries were answered before (kept as they were)
    (0, 7, 5),    # answers arriving for a later batch: sync.acked_through stays put
])
def test_a_batch_all_applied_is_recorded_as_the_answers_one_by_one(
    ledger: Ledger, answered: int, after: int, size: int
) -> None:
    with ledger.write() as tx:
        entries = book.outgoing(tx, 0, answered)
        book.record_answers(
            tx,
            [book.Answer(s, e, refused=s == 2, reason="over-picked" if s == 2 else None)
             for s, e in zip(entries.seqs, entries.entry_ids, strict=True)],
            at=datetime(2026, 12, 6, tzinfo=UTC),
        )
    one_by_one, all_applied = both_ways(ledger, after, size)
    assert all_applied == one_by_one
    rows, _ = one_by_one  # type: ignore[misc]
    assert len(rows) == len({*range(1, answered + 1), *range(after + 1, min(after + size, 12) + 1)})


def test_an_empty_batch_records_nothing(ledger: Ledger) -> None:
    with ledger.write() as tx:
        book.record_applied(tx, (), at=AT)
        assert recorded(tx) == ([], 0)


def test_waiting_counts_every_entry_after_the_last_answered_without_a_gap(ledger: Ledger) -> None:
    """Read from the last sequence number, it is the count of the rows it used to be."""

    def waiting() -> tuple[int, int]:
        with ledger.read() as tx:
            counted = tx.conn.execute(
                "SELECT COUNT(*) FROM entries WHERE seq > ?", (book.acked_through(tx),)
            ).fetchone()[0]
            return book.counts(tx).waiting, counted

    assert waiting() == (12, 12)
    with ledger.write() as tx:
        book.record_applied(tx, book.outgoing(tx, 0, 5).seqs, at=AT)
    assert waiting() == (7, 7)
    with ledger.write() as tx:  # answers for a later batch first: 6 to 8 still wait
        book.record_applied(tx, book.outgoing(tx, 8, 100).seqs, at=AT)
    assert waiting() == (7, 7)
    with ledger.write() as tx:
        tx.append(put_back(12), terminal="T1", facility="F1", operator="OP-1")
        book.record_applied(tx, book.outgoing(tx, 5, 3).seqs, at=AT)
    assert waiting() == (5, 5)
