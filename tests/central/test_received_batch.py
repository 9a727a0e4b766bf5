"""A pushed batch read entry by entry, each entry kept as the JSON the terminal sent."""

from __future__ import annotations

import json

import pytest

from putback_tui.central.app import split_batch
from putback_tui.domain.entries import Entry
from putback_tui.ledger import sync as book
from putback_tui.wire import EntryBatch, batch_json
from tests.central_support import Central, MakeTerminal, Terminal


def _terminal(make_terminal: MakeTerminal) -> Terminal:
    t = make_terminal("PACK-01")
    t.station.force_cancel("D-1008")  # releases 2 lines (D-1001: the central store did)
    t.station.open_order("D-1002")
    t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    t.station.put_back("D-1002", 2, "SOCKS-3PK", "A-02-01", 2)
    return t


def _as_sent(t: Terminal) -> tuple[str, tuple[str, ...]]:
    """The body the sync worker sends, and each entry's JSON in it (as SQLite writes it)."""
    with t.ledger.read() as tx:
        outgoing = book.unsent_json(tx, 100)
    return batch_json(outgoing.entries_json), outgoing.entries_json


def test_the_sync_workers_batch_is_split_into_the_entries_as_sent(
    make_terminal: MakeTerminal,
) -> None:
    t = _terminal(make_terminal)
    body, pieces = _as_sent(t)
    received = split_batch(body)
    assert received is not None
    assert received.bodies == pieces
    assert received.entries == EntryBatch.model_validate_json(body).entries
    assert list(received.entries) == t.ledger.entries()


def test_a_batch_sent_by_push_is_split_too(make_terminal: MakeTerminal) -> None:
    entries = _terminal(make_terminal).ledger.entries()
    for body in (
        EntryBatch(entries=tuple(entries)).model_dump_json(),
        EntryBatch(entries=tuple(entries)).model_dump_json(exclude_defaults=True),
        EntryBatch(entries=tuple(entries[:1])).model_dump_json(),
    ):
        received = split_batch(body)
        assert received is not None
        assert received.entries == EntryBatch.model_validate_json(body).entries


def test_text_inside_an_entry_never_cuts_it(make_terminal: MakeTerminal) -> None:
    t = _terminal(make_terminal)
    entry = t.ledger.entries()[0]
    tricky = entry.model_copy(
        update={"details": entry.details.model_copy(update={"note": '},{"kind":"x"}]}'})}
    )
    body = EntryBatch(entries=(tricky, t.ledger.entries()[1])).model_dump_json()
    received = split_batch(body)
    assert received is not None
    assert received.entries == EntryBatch.model_validate_json(body).entries
    assert received.bodies is not None
    assert Entry.model_validate_json(received.bodies[0]) == tricky


@pytest.mark.parametrize(
    "shape",
    ["spaces", "version 2", "empty", "unknown field", "cut inside an entry", "not json"],
)
def test_other_shapes_are_left_to_the_whole_body_validation(
    make_terminal: MakeTerminal, shape: str
) -> None:
    body, _ = _as_sent(_terminal(make_terminal))
    doc = json.loads(body)
    if shape == "spaces":
        body = json.dumps(doc)
    elif shape == "version 2":
        body = body.replace('"version":1', '"version":2')
    elif shape == "empty":
        body = '{"version":1,"entries":[]}'
    elif shape == "unknown field":
        body = body.replace('{"seq":2,', '{"seq":2,"surprise":1,')
    elif shape == "cut inside an entry":
        # Entries that open with order_id, whose line changes open with order_id too: the cut
        # at '},{"order_id":' falls inside the released order's two line changes as well.
        entries = [{"order_id": e.pop("order_id"), **e} for e in doc["entries"]]
        assert len(entries[0]["line_changes"]) == 2
        body = json.dumps({"version": 1, "entries": entries}, separators=(",", ":"))
        assert EntryBatch.model_validate_json(body).entries  # valid, only not split
    else:
        body = body[:-1]
    assert split_batch(body) is None


def test_kept_bodies_read_back_as_the_entries_sent(
    central: Central, make_terminal: MakeTerminal
) -> None:
    t = _terminal(make_terminal)
    received = split_batch(_as_sent(t)[0])
    assert received is not None
    client = central.store.authenticate(central.tokens["PACK-01"])
    assert client is not None
    central.store.ingest(client, received.entries, bodies=received.bodies)
    events = central.store.events(0, 100)
    sent = [e.entry for e in events.events if e.entry.terminal == "PACK-01"]
    assert sent == t.ledger.entries()
    own = central.store.own_entries("PACK-01", 0, 100)
    assert [Entry.model_validate_json(body) for body, _, _ in own] == t.ledger.entries()
