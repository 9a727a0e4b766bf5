"""A batch's rows reach PostgreSQL as one array literal a column, and read back exactly as sent.

``upsert_rows``, and ``update_rows`` by a key that does not lead with the facility, send their
rows to PostgreSQL as arrays read by ``unnest`` (engines.py, ``_rows_source``): it parses them
in a quarter to a third of the time it takes over the same rows as a JSON recordset
(docs/performance-log.md, "Session 11: PostgreSQL's ingest (a)"). Whatever an array literal here
does not carry goes as JSON, as before.
"""

from __future__ import annotations

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from putback_tui.central.engines import _array_literal, _rows_source
from putback_tui.central.storage import CentralStore
from tests.central.test_round_trips import _batch, _world
from tests.support.throwaway_pg import ThrowawayPostgres

HOSTILE = [
    "", " ", "NULL", "null", '"', '""', "\\", "\\\\", 'a"b\\c', "{", "}", "{}", ",", "a,b",
    "{a,b}", "(1,2)", "'", "tab\there", "new\nline", "é", "\u2028", "😀", " padded ",
]
"""Texts an array literal must quote or escape to carry: each reads back as it was sent."""



@pytest.mark.postgres
def test_a_batch_s_rows_travel_as_arrays(pg_store: CentralStore) -> None:
    client = _world(pg_store)
    sent: list[str] = []
    with pg_store.engine.write("F1") as tx:
        real = tx.conn.execute  # type: ignore[attr-defined]

        def watched(sql: object, params: object = None, **kw: object) -> object:
            sent.append(str(sql))
            return real(sql, params, **kw)

        tx.conn.execute = watched  # type: ignore[attr-defined]
    # The same connection, taken again from the pool, for the batch's own transaction.
    assert pg_store.ingest_hot(client, _batch(1, 10)) is not None
    writes = [s for s in sent if s.lstrip().startswith(("WITH", "UPDATE", "INSERT"))]
    # An update by a facility-leading key keeps the recordset the planner counts as 100 rows
    # (engines.py, _PgTx.update_rows): the orders' progress.
    arrays = [s for s in writes if not s.startswith("UPDATE order_progress")]
    assert len(arrays) == len(writes) - 1, writes
    assert any("order_lines" in s for s in arrays), sent
    assert all("unnest(" in s and "json_to_recordset" not in s for s in arrays), arrays


@pytest.mark.postgres
def test_texts_and_nulls_read_back_as_sent(pg_store: CentralStore) -> None:
    names = [f"T{i}" for i in range(len(HOSTILE))]
    with pg_store.engine.write(None) as tx:
        tx.upsert_rows(
            "terminal_contacts",
            ("facility text", "last_contact text", "waiting_to_send bigint"),
            ("terminal text",),
            [(n, text, "x", None if i % 2 else -i) for i, (n, text) in
             enumerate(zip(names, HOSTILE, strict=True))],
        )
    with pg_store.engine.write(None) as tx:
        tx.update_rows(  # by the terminal: arrays (see the module)
            "terminal_contacts",
            ("last_contact text",),
            ("terminal text",),
            [(text[::-1], n) for n, text in zip(names, HOSTILE, strict=True)],
        )
    with pg_store.engine.read() as tx:
        rows = {r[0]: r[1:] for r in tx.all(
            "SELECT terminal, facility, last_contact, waiting_to_send FROM terminal_contacts"
        )}
    assert rows == {
        n: (text, text[::-1], None if i % 2 else -i)
        for i, (n, text) in enumerate(zip(names, HOSTILE, strict=True))
    }


def test_the_hostile_texts_go_as_arrays() -> None:
    source, params = _rows_source(("t text", "n bigint"), [(t, None) for t in HOSTILE])
    assert source.startswith("unnest("), source
    assert len(params) == 2


@pytest.mark.parametrize("value", ["nul \x00 inside", "lone \ud800 surrogate", True, 1.5])
def test_what_no_array_literal_carries_goes_as_json(value: object) -> None:
    source, params = _rows_source(("v text", "n bigint"), [("plain", 1), (value, 2)])
    assert source.startswith("json_to_recordset("), source
    assert len(params) == 1


_TEXTS = st.lists(st.one_of(st.none(), st.text()), min_size=1, max_size=8)


@pytest.mark.postgres
@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=_TEXTS)
def test_any_texts_read_back_as_sent_or_go_as_json(
    pg_cluster: ThrowawayPostgres, values: list[str | None]
) -> None:
    """PostgreSQL's own parser reads every literal back as the values it was written from."""
    literal = _array_literal(values)
    if literal is None:  # a NUL or a lone surrogate: the rows go as JSON (above)
        assert any(v is not None and ("\x00" in v or not _utf8(v)) for v in values)
        return
    with psycopg.connect(pg_cluster.url, autocommit=True) as conn:
        [(back,)] = conn.execute("SELECT %s::text[]", (literal,)).fetchall()
    assert back == values


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True
