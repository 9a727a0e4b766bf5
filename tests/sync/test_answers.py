"""The answer "every entry applied", read without the wire models (``sync/answers.py``): only
ever where the models read the same answer and find every entry applied; anything else is left
to the models, which refuse what they refuse with the words they always used.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from putback_tui.central.server import BackgroundServer
from putback_tui.sync.answers import applied_ids
from putback_tui.sync.client import BatchAnswer, SyncClient
from putback_tui.wire import BatchResult, Outcome
from tests.central_support import Central, MakeTerminal, Terminal
from tests.sync.test_worker import assert_synced, work, worker_for

ID = "01a24eb8-ea1d-7000-b63c-41062c28f948"


def applied(entry_id: str = ID, seq: int = 1, **fields: Any) -> dict[str, Any]:
    """One result as the central store writes it for an entry applied as sent."""
    return {"entry_id": entry_id, "seq": seq, "outcome": "applied", "recorded_as": "applied",
            "reason": None, "retryable": False, "code": "applied", "changes": None,
            "line_changes": None, **fields}


def body(*results: dict[str, Any], **top: Any) -> bytes:
    return json.dumps({"version": 1, "results": list(results), **top}).encode()


def models_say_all_applied(raw: bytes) -> tuple[str, ...] | None:
    """The entry IDs if the wire models read ``raw`` and every entry was applied for good."""
    try:
        result = BatchResult.model_validate_json(raw, extra="ignore")
    except ValidationError:
        return None
    for r in result.results:
        if r.outcome is Outcome.REFUSED or r.recorded_as == "refused":
            return None
    return tuple(r.entry_id for r in result.results)


def test_the_central_stores_answer_for_applied_entries_and_their_duplicates_is_read_fast() -> None:
    duplicate = applied(seq=2, entry_id=ID[:-1] + "9", outcome="duplicate", code="duplicate")
    raw = body(applied(), duplicate)
    assert applied_ids(raw) == (ID, ID[:-1] + "9") == models_say_all_applied(raw)


def test_a_release_the_central_store_found_released_already_is_read_fast() -> None:
    """Most releases a draining terminal sends: applied, nothing left, no effects."""
    nothing_left = applied(
        seq=2, entry_id=ID[:-1] + "9", code="already_released", changes=[], line_changes=[],
        reason="Order D-1001 had nothing left to release: already released.",
    )
    raw = body(applied(), nothing_left)
    assert applied_ids(raw) == (ID, ID[:-1] + "9") == models_say_all_applied(raw)


@pytest.mark.parametrize("raw", [
    body(applied(outcome="refused", recorded_as=None, reason="over-picked", code="refused")),
    body(applied(outcome="duplicate", recorded_as="refused", reason="over-picked")),
    body(applied(outcome="refused", recorded_as=None, reason="seq 1 missing", retryable=True)),
    body(applied(code="applied_as_derived", changes=[{"sku": "S", "atp": 1}])),
    body(applied(line_changes=[{"order_id": "O", "line_no": 1, "put_back": 1}])),
    body(applied(reason="noted")),
    body(applied(code="already_released", reason=7, changes=[], line_changes=[])),
    body(applied(code="already_released", changes=[{"sku": "S", "atp": 1}])),
    body(applied(code="already_released", line_changes=[{"order_id": "O", "line_no": 1}])),
    body(applied(code="already_released", outcome="refused", reason="x", recorded_as=None)),
    body(applied(code="already_released", outcome="duplicate", reason="x")),
    body(applied(code="applied", changes=[], line_changes=[])),
    body(applied(retryable=True)),
    body(applied(), version=2),
    body(applied(seq=0)),
    body(applied(seq=2**53)),
    body(applied(seq=1.0)),
    body(applied(seq="1")),
    body(applied(seq=True)),
    body(applied(retryable="false")),
    body(applied(retryable=0)),
    body(applied(entry_id=ID[:-1] + "\u0007")),
    body(applied(entry_id=ID + "0")),
    body(applied(code="something new")),
    body(applied(outcome="applied-ish")),
    body(applied(recorded_as="maybe")),
    b'{"version":1,"results":[' + json.dumps(applied()).encode() + b"]",  # cut short
    b'{"version":1,"results":[]} trailing',
    b"[]",
])
def test_any_other_answer_is_left_to_the_wire_models(raw: bytes) -> None:
    assert applied_ids(raw) is None


def test_fields_the_terminal_does_not_know_are_ignored_as_the_models_ignore_them() -> None:
    raw = body(applied(later={"added": [1, 2]}), later_too="x")
    assert applied_ids(raw) == (ID,) == models_say_all_applied(raw)


values = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-2, max_value=2**64),
    st.floats(allow_nan=False), st.text(max_size=40),
    st.sampled_from(["applied", "duplicate", "refused", "applied_as_derived", "already_released",
                     ID, ID.upper()]),
    st.just([]),
    st.lists(st.dictionaries(st.sampled_from(["sku", "atp", "qoh"]), st.integers(-3, 3)),
             max_size=2),
)
fields = st.sampled_from(["entry_id", "seq", "outcome", "recorded_as", "reason", "retryable",
                          "code", "changes", "line_changes", "later"])


@given(st.lists(st.tuples(st.dictionaries(fields, values, max_size=4),
                          st.lists(st.sampled_from(["entry_id", "seq", "outcome"]), max_size=2)),
                max_size=4),
       st.sampled_from([1, 2, 1.0, "1", None]))
def test_what_is_read_fast_the_models_read_alike(
    changes: Sequence[tuple[dict[str, Any], list[str]]], version: object
) -> None:
    """Results starting from the central store's shape, with fields changed or dropped."""
    results = []
    for i, (changed, dropped) in enumerate(changes):
        r = {**applied(seq=i + 1), **changed}
        results.append({k: v for k, v in r.items() if k not in dropped})
    raw = body(*results, version=version)
    fast = applied_ids(raw)
    if fast is not None:
        assert fast == models_say_all_applied(raw)


def _drains_reading_every_answer_fast(
    t: Terminal, server: BackgroundServer, central: Central, n: int
) -> None:
    """One round of the sync worker sends the terminal's n entries; every answer is read fast
    and every entry recorded as applied, with no reason.
    """
    answers: list[BatchAnswer] = []

    class Watched(SyncClient):
        def push_json(self, entry_ids: Sequence[str], entries_json: Sequence[str]) -> BatchAnswer:
            answers.append(super().push_json(entry_ids, entries_json))
            return answers[-1]

    worker = worker_for(t, server, central, client_factory=lambda url, token: Watched(url, token))
    try:
        state = worker.run_once()
    finally:
        worker.stop()
    assert (state.online, state.last_error, state.waiting, state.refused) == (True, None, 0, 0)
    assert answers
    assert all(a.result is None for a in answers)
    assert_synced(t, central, n)
    with t.ledger.read() as tx:
        outcomes = tx.conn.execute("SELECT outcome, reason FROM sync_answers").fetchall()
    assert [tuple(o) for o in outcomes] == [("applied", None)] * n


def test_a_drain_reads_the_real_answers_fast_and_records_them_as_before(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    n = work(t)
    _drains_reading_every_answer_fast(t, server, central, n)


def test_a_drain_of_opened_orders_reads_the_already_released_answers_fast(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    """D-1001 and D-1003 were released by the central store at the demo's import: the
    terminal's own releases are answered "already released", read fast, recorded as applied.
    """
    t = make_terminal()
    t.station.open_order("D-1001")
    t.station.open_order("D-1003")
    t.station.put_back("D-1003", 1, "MUG-WHT", "A-01-01")
    n = len(t.ledger.entries())
    _drains_reading_every_answer_fast(t, server, central, n)
