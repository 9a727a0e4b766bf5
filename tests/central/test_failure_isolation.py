"""An unexpected error while applying one terminal's batch: a 503 for that terminal alone (nothing
of its batch applied), logged and kept with its entry IDs for ``putback central doctor``; the
other terminals' batches are applied as usual.
"""

from __future__ import annotations

import logging

import httpx
import pytest
from click.testing import CliRunner

from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import PostgresEngine
from putback_tui.cli import cli
from putback_tui.domain.entries import Entry
from putback_tui.wire import EntryBatch
from tests.central_support import Central, MakeTerminal

JSON = {"Content-Type": "application/json"}


def _post(server: BackgroundServer, token: str, entries: list[Entry]) -> httpx.Response:
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {token}"}) as http:
        body = EntryBatch(entries=tuple(entries)).model_dump_json()
        return http.post("/v1/entries", content=body, headers=JSON)


def break_order(central: Central, order_id: str) -> None:
    """Leave an order in a state no code expects (a status no release knows), as a bad
    migration or a hand edit would: applying an entry on it fails unexpectedly.
    """
    with central.store.engine.write() as tx:
        tx.run("UPDATE orders SET status = 'lost-in-migration' WHERE order_id = ?", (order_id,))


def central_doctor(central: Central) -> tuple[int, str]:
    engine = central.store.engine
    db = engine.url if isinstance(engine, PostgresEngine) else str(engine.path)
    result = CliRunner().invoke(cli, ["central", "doctor", "--db", db])
    return result.exit_code, result.output


def test_one_terminals_failing_batch_is_a_503_for_it_alone_and_central_doctor_names_it(
    server: BackgroundServer,
    central: Central,
    make_terminal: MakeTerminal,
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert central_doctor(central)[0] == 0
    one = make_terminal("PACK-01")
    one.station.open_order("D-1001")  # a release on D-1001
    two = make_terminal("PACK-02")
    two.station.open_order("D-1002")
    two.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
    break_order(central, "D-1001")
    failing = one.ledger.entries()

    with caplog.at_level(logging.ERROR, logger="putback.central"):
        answer = _post(server, central.tokens["PACK-01"], failing)
    assert answer.status_code == 503
    body = answer.json()
    assert "could not apply this batch" in body["detail"]
    assert "nothing was applied" in body["detail"]
    assert body["failure"] == 1
    assert central.store.recorded("PACK-01") == []
    assert failing[0].entry_id in caplog.text

    other = _post(server, central.tokens["PACK-02"], two.ledger.entries())
    assert other.status_code == 200
    assert {r["outcome"] for r in other.json()["results"]} == {"applied"}

    code, output = central_doctor(central)
    assert code == 1
    assert "ingest failures: 1, 1 in the last 24 hours" in output
    assert "FAIL #1" in output
    assert "PACK-01: 1 entry, first" in output
    assert failing[0].entry_id in output
    assert "KeyError" in output
    assert "terminal PACK-02 at STORE-01" in output
