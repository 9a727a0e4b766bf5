"""The site's reason lists: one source of truth, the central store, sent with the changes feed.

A reject reason's stock effect is judged by the central store's list; a terminal offers the
lists it last received (kept while offline), else its own configuration.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from putback_tui.central.imports import import_path
from putback_tui.central.server import BackgroundServer
from putback_tui.config import ReasonSettings, Settings, TerminalSettings
from putback_tui.dataset import DatasetError
from putback_tui.domain.entries import EntryDetails, EntryKind
from putback_tui.domain.errors import UnknownReason
from putback_tui.domain.reasons import ReasonEffect, RejectReasonDef, SiteReasons
from putback_tui.station import Station
from putback_tui.wire import Outcome
from tests.central_support import Central, MakeTerminal
from tests.sync.test_worker import worker_for

SITE = {
    "reject": [
        {"code": "NOT IN STOCK", "effect": "zero_stock"},
        {"code": "SHORT PICK", "effect": "no_variance"},
    ],
    "cancel_line": ["CUSTOMER REQUEST", "FRAUD HOLD"],
    "reduce_line": ["PRICE ERROR"],
}


def test_imported_reasons_reach_the_terminal_and_both_judge_a_no_variance_reject_alike(
    tmp_path: Path, server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    doc = tmp_path / "reasons.json"
    doc.write_text(json.dumps({"reasons": SITE}))
    assert import_path(central.store, doc)["reason lists"] == 1
    expected = SiteReasons.model_validate(SITE)
    assert central.store.site_reasons() == expected

    t = make_terminal("PACK-01")
    assert t.station.site_reasons.reject_effect("DAMAGE")  # the configuration's, until a pull
    worker_for(t, server, central).run_once()
    assert t.ledger.central_reasons() == expected
    assert t.station.site_reasons == expected
    with pytest.raises(UnknownReason, match="Reason DAMAGE is not a reject reason at this site"):
        t.station.reject("D-1005", 1, "DAMAGE", 1)

    _, atp0 = central.store.stock("STORE-01")
    qoh0 = dict(((s, loc), n) for s, loc, n in t.ledger.stock()[0])
    entry = t.station.reject("D-1005", 1, "SHORT PICK", 1)
    assert (entry.details.reason, entry.details.reason_code) == (None, "SHORT PICK")
    result = worker_for(t, server, central).run_once()
    assert result.refused == 0
    qoh, atp = central.store.stock("STORE-01")
    # no_variance: the reservation is released, nothing else: QOH as it was, ATP + 1.
    assert atp["TSHIRT-BLK-M"] == atp0["TSHIRT-BLK-M"] + 1
    assert qoh[("TSHIRT-BLK-M", "A-01-01")] == qoh0[("TSHIRT-BLK-M", "A-01-01")]
    assert dict(t.ledger.stock()[1])["TSHIRT-BLK-M"] == atp["TSHIRT-BLK-M"]
    with pytest.raises(UnknownReason, match="not a reason for reducing a line"):
        t.station.reduce_line("D-1005", 1, 0, "CUSTOMER REQUEST")


def test_a_terminal_s_own_reason_the_central_store_does_not_hold_is_refused_there(
    central: Central,
    tmp_path: Path,
) -> None:
    from putback_tui.dataset import DEMO_DIR, Dataset
    from putback_tui.ledger import Ledger
    from putback_tui.ledger.load import load_dataset

    ledger = Ledger(tmp_path / "t" / "putback.sqlite3")
    load_dataset(ledger, Dataset(DEMO_DIR), "STORE-01")
    settings = Settings(
        terminal=TerminalSettings(id="PACK-01", facility="STORE-01"),
        reasons=ReasonSettings(
            reject=[RejectReasonDef(code="LOCAL ONLY", effect=ReasonEffect.NO_VARIANCE)]
        ),
    )
    station = Station(ledger, settings)
    station.sign_in("SV-0001")
    station.reject("D-1005", 1, "LOCAL ONLY", 1)
    try:
        client = central.store.authenticate(central.tokens["PACK-01"])
        assert client is not None
        [result] = central.store.ingest(client, ledger.entries())
    finally:
        ledger.close()
    assert result.outcome is Outcome.REFUSED
    assert result.reason == "Reason LOCAL ONLY is not a reject reason at this site."


@pytest.mark.parametrize(
    ("reasons", "message"),
    [
        pytest.param({"reject": [{"code": "X", "effect": "lost"}]}, "reasons.reject[0].effect",
                     id="unknown effect"),
        pytest.param({"cancel_line": []}, "cancel_line: list 1 to 9 reasons, not 0",
                     id="empty list"),
        pytest.param({"reduce_line": ["bad code"]}, "'bad code' is not a reason code",
                     id="bad code"),
    ],
)
def test_a_bad_reason_list_imports_nothing(
    tmp_path: Path, central: Central, reasons: dict, message: str
) -> None:
    doc = tmp_path / "reasons.json"
    doc.write_text(json.dumps({"reasons": reasons}))
    with pytest.raises(DatasetError, match=message.replace("[", r"\[").replace("]", r"\]")):
        import_path(central.store, doc)
    assert central.store.site_reasons() == SiteReasons()


def test_line_edit_kinds_carry_their_reason_on_the_feed(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal("PACK-01")
    t.station.reduce_line("D-1005", 1, 1, "PRICE ERROR")
    worker_for(t, server, central).run_once()
    [event] = [e for e in central.store.events(0, 50).events
               if e.entry.kind is EntryKind.REDUCE_LINE]
    details = event.entry.details
    assert (details.line_no, details.from_quantity, details.quantity, details.reason_code) == (
        1, 2, 1, "PRICE ERROR"
    )


def test_a_mandatory_reason_is_required_by_the_central_store_too(central: Central) -> None:
    central.store.import_data(
        reasons=SiteReasons(bulk_reject=("STORE CLOSED",), mandatory=("bulk_reject",))
    )
    from tests.central.test_hostile import Forger

    f = Forger(central)
    before = central.store.stock("STORE-01")
    start = central.store.events(0, 1000).next_cursor  # after the import's own releases
    [bare, named, wrong] = f.send(
        f.entry(EntryKind.BULK_REJECT, order_id="D-1005"),
        f.entry(EntryKind.BULK_REJECT, order_id="D-1005",
                details=EntryDetails(reason_code="STORE CLOSED")),
        f.entry(EntryKind.BULK_REJECT, order_id="D-1008",
                details=EntryDetails(reason_code="BORED")),
    )
    assert bare.outcome is Outcome.REFUSED
    assert bare.reason == "A reason is required for a bulk reject at this site."
    assert named.outcome is Outcome.APPLIED
    assert wrong.outcome is Outcome.REFUSED
    assert wrong.reason == "Reason BORED is not a reason for a bulk reject at this site."
    assert central.store.stock("STORE-01") != before  # the named one released D-1005's units
    [event] = central.store.events(start, 10).events
    assert event.entry.details.reason_code == "STORE CLOSED"


def test_a_mandatory_action_needs_a_list() -> None:
    with pytest.raises(ValueError, match="cancel: a mandatory reason needs a list of reasons"):
        SiteReasons(mandatory=("cancel",))
