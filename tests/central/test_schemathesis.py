"""Property-based checks of the published OpenAPI against the running app (schemathesis), on both
engines, with hostile values mixed into what it generates.

Every operation gets a bounded number of generated requests, with a terminal's token (for the
systems' operations, a system's; for the backlog and order histories, a viewer's), and every
check schemathesis has is run on every answer (not only the default set): no 5xx; status
codes, content types, headers and bodies as documented; invalid data refused and valid data
accepted; missing required headers and unsupported methods answered properly; requests whose
token is dropped refused; another client's objects not reachable.

On top of the schema's own values, a share of the requests carry a hostile value in one place
of their body, query or path (NUL and other control characters, huge integers, huge strings),
and a second property test sends batches with NaN, Infinity and 1e400 written into them, which
schemathesis's JSON encoder cannot write. Every one must be answered without a server error.
"""

from __future__ import annotations

import itertools
import json
import math
import unicodedata
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis.checks import CHECKS, load_all_checks

from putback_tui.central.app import create_app
from putback_tui.central.imports import import_path
from putback_tui.central.limits import CentralLimits
from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import open_store
from putback_tui.dataset import DEMO_DIR
from putback_tui.wire import ClientKind
from tests.support.throwaway_pg import ThrowawayPostgres

EXAMPLES = 100
"""Generated requests per operation and engine: both engines take about 90 s here (150: 125 s;
the old 25 on SQLite alone: 10 s)."""

TOKENS: dict[str, str] = {}
APPS: dict[str, Any] = {}

load_all_checks()
ALL_CHECKS = CHECKS.get_all()
ACCEPTANCE = [c for c in ALL_CHECKS if getattr(c, "__name__", "") == "positive_data_acceptance"]

HOSTILE_STRINGS = ["\x00", "D-1002\x00", "\x1b[2J", "A" * 100_000, "\ud7ff\x7f", "\n"]
HOSTILE_NUMBERS = [2**63, -(2**63) - 1, 2**64, 10**30, -(10**30), 2**53, 1.5]
HOSTILE = st.sampled_from([*HOSTILE_STRINGS, *HOSTILE_NUMBERS])

# Times the models accept (2000-2200), so that generated "valid" entries are valid indeed:
# the server's window around its clock is set as wide in the app under test.
schemathesis.openapi.format(
    "date-time",
    st.datetimes(
        # Hypothesis takes naive bounds and adds the timezone itself.
        min_value=datetime(2001, 1, 1),  # noqa: DTZ001
        max_value=datetime(2199, 1, 1),  # noqa: DTZ001
        timezones=st.just(UTC),
    ).map(lambda t: t.isoformat()),
)


def _leaves(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, (*path, i))
    else:
        yield path


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    head, *rest = path
    if isinstance(value, dict):
        return {**value, head: _replaced(value[head], tuple(rest), new)}
    copy = list(value)
    copy[head] = _replaced(copy[head], tuple(rest), new)
    return copy


def _with_hostile(value: Any) -> st.SearchStrategy[Any]:
    """``value`` as generated, or (a third of the time) with one leaf made hostile."""
    paths = list(_leaves(value)) if isinstance(value, dict | list) else []
    if not paths:
        return st.just(value)
    mutated = st.tuples(st.sampled_from(paths), HOSTILE).map(
        lambda pv: _replaced(value, pv[0], pv[1])
    )
    return st.one_of(st.just(value), st.just(value), mutated)


@schemathesis.hook
def flatmap_body(context: schemathesis.HookContext, body: Any) -> st.SearchStrategy[Any]:
    return _with_hostile(body)


@schemathesis.hook
def flatmap_query(
    context: schemathesis.HookContext, query: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    return _with_hostile(query) if query else st.just(query)


@schemathesis.hook
def flatmap_path_parameters(
    context: schemathesis.HookContext, path_parameters: dict[str, Any] | None
) -> st.SearchStrategy[Any]:
    if not path_parameters:
        return st.just(path_parameters)
    return st.one_of(
        st.just(path_parameters),
        st.sampled_from(HOSTILE_STRINGS[:3]).map(
            lambda bad: {k: bad for k in path_parameters}
        ),
    )


def _hostile(value: Any) -> bool:
    """True when ``value`` holds one of the hostile values this file mixes in."""
    if isinstance(value, dict):
        return any(_hostile(v) for v in value.values())
    if isinstance(value, list):
        return any(_hostile(v) for v in value)
    if isinstance(value, float):
        return not math.isfinite(value) or value in HOSTILE_NUMBERS
    if isinstance(value, int) and not isinstance(value, bool):
        return value in HOSTILE_NUMBERS
    if not isinstance(value, str):
        return False
    # Path parameters come back URL-encoded.
    text = unquote(value)
    return text in HOSTILE_STRINGS or any(unicodedata.category(c) == "Cc" for c in text)


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def api_schema(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[schemathesis.BaseSchema]:
    url: str | None = None
    cluster: ThrowawayPostgres | None = None
    if request.param == "sqlite":
        store = open_store(str(Path(tmp_path_factory.mktemp("st")) / "central.sqlite3"))
    else:
        cluster = request.getfixturevalue("pg_cluster")
        url = cluster.create_database()
        store = open_store(url)
    import_path(store, DEMO_DIR)
    TOKENS["terminal"] = store.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01")
    TOKENS["system"] = store.add_client("OMS", ClientKind.SYSTEM, None)
    TOKENS["viewer"] = store.add_viewer("WALL", None)
    # Generated times lie anywhere in 2001-2199: the window is opened that wide here (the
    # window itself is tested in test_bounds.py).
    wide = CentralLimits(max_ahead=timedelta(days=80_000), max_age=timedelta(days=80_000))
    APPS["app"] = create_app(store, limits=wide)
    server = BackgroundServer(APPS["app"])
    server.start()
    APPS["url"] = server.url
    yield schemathesis.openapi.from_asgi("/openapi.json", APPS["app"])
    server.stop()
    store.close()
    if cluster is not None and url is not None:
        cluster.drop_database(url)


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    # Over-filtering and slow generation stay checked: a strategy that filters most of what it
    # draws would test far less than EXAMPLES requests.
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                           HealthCheck.function_scoped_fixture],
)
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    if case.path.endswith("/status"):
        who = "system"
    elif case.path.startswith(("/v1/backlog", "/v1/orders/")):
        who = "viewer"  # the backlog and order histories: a dashboard's token
    else:
        who = "terminal"
    # A generated request carries a made-up Authorization header: it gets a real token, so the
    # request reaches the operation. One generated *without* it (a negative case: the header
    # is required) is sent without it, and must be refused.
    generated = {k.lower() for k in (case.headers or {})}
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if "authorization" in generated else {}
    # A request with a hostile value mixed in is no longer the valid request schemathesis drew
    # (it need not be accepted); every other check still holds, no 5xx first of all. The
    # entries' order (seq increasing in a batch) is a rule the schema cannot say.
    hostile = any(_hostile(v) for v in (case.body, case.query, case.path_parameters))
    unordered = case.path == "/v1/entries" and _unordered(case.body)
    excluded = ACCEPTANCE if hostile or unordered else []
    case.call_and_validate(headers=headers, checks=ALL_CHECKS, excluded_checks=excluded)


def _unordered(body: Any) -> bool:
    """True for a generated batch whose entries are not in strictly increasing seq order."""
    try:
        seqs = [e["seq"] for e in body["entries"]]
    except (TypeError, KeyError):
        return False
    if not all(isinstance(seq, int) for seq in seqs):
        return False  # a negative case: refused whatever the order
    return any(b <= a for a, b in itertools.pairwise(seqs))


NON_FINITE = st.sampled_from(["NaN", "Infinity", "-Infinity", "1e400", "-1e400"])


def _honest_batch() -> dict[str, Any]:
    return {"version": 1, "entries": [{
        "entry_id": "0190a000-0000-7000-8000-000000000001", "seq": 1, "terminal": "PACK-01",
        "facility": "STORE-01", "operator": "SV-0001",
        "created_at": datetime.now(UTC).isoformat(), "kind": "put_back", "order_id": "D-1002",
        "details": {"sku": "TSHIRT-BLK-M", "quantity": 1, "location": "A-01-01"},
        "changes": [{"sku": "TSHIRT-BLK-M", "location": "A-01-01", "qoh": 1}],
        "line_changes": [{"order_id": "D-1002", "line_no": 1, "put_back": 1}],
    }]}


@given(data=st.data())
@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
def test_non_finite_numbers_anywhere_are_a_422_naming_the_field(
    api_schema: schemathesis.BaseSchema, data: st.DataObject
) -> None:
    batch = _honest_batch()
    path = data.draw(st.sampled_from(list(_leaves(batch))))
    marker = "__HOSTILE__"
    text = json.dumps(_replaced(batch, path, marker)).replace(
        f'"{marker}"', data.draw(NON_FINITE)
    )
    with httpx.Client(base_url=APPS["url"], timeout=30) as http:
        response = http.post(
            "/v1/entries", content=text,
            headers={"Authorization": f"Bearer {TOKENS['terminal']}",
                     "Content-Type": "application/json"},
        )
        status = http.put(
            "/v1/orders/D-1005/status", content='{"status": NaN}',
            headers={"Authorization": f"Bearer {TOKENS['system']}",
                     "Content-Type": "application/json"},
        )
    assert response.status_code == 422, response.text
    named = [tuple(e["loc"]) for e in response.json()["detail"]]
    assert ("body", "entries", *path[1:]) in named or ("body", *path) in named, named
    assert status.status_code == 422
    assert status.json()["detail"][0]["loc"] == ["body", "status"]
