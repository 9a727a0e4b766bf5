"""Property-based checks of the published OpenAPI against the running app (schemathesis).

Every operation gets a bounded number of generated requests, with a terminal's token (and,
for the systems' operations, a system's), and every check schemathesis has is run on every
answer (not only the default set): no 5xx; status codes, content types, headers and bodies as
documented; invalid data refused and valid data accepted; missing required headers and
unsupported methods answered properly; requests whose token is dropped refused; another
client's objects not reachable.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import CHECKS, load_all_checks

from putback_tui.central.app import create_app
from putback_tui.central.imports import import_path
from putback_tui.central.storage import open_store
from putback_tui.dataset import DEMO_DIR
from putback_tui.wire import ClientKind

TOKENS: dict[str, str] = {}

load_all_checks()
ALL_CHECKS = CHECKS.get_all()


@pytest.fixture(scope="module")
def api_schema(tmp_path_factory: pytest.TempPathFactory) -> Iterator[schemathesis.BaseSchema]:
    store = open_store(str(Path(tmp_path_factory.mktemp("st")) / "central.sqlite3"))
    import_path(store, DEMO_DIR)
    TOKENS["terminal"] = store.add_client("PACK-01", ClientKind.TERMINAL, "STORE-01")
    TOKENS["system"] = store.add_client("OMS", ClientKind.SYSTEM, None)
    yield schemathesis.openapi.from_asgi("/openapi.json", create_app(store))
    store.close()


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_api_conforms_to_its_openapi(case: schemathesis.Case) -> None:
    who = "system" if "/orders/" in case.path else "terminal"
    # A generated request carries a made-up Authorization header: it gets a real token, so the
    # request reaches the operation. One generated *without* it (a negative case: the header
    # is required) is sent without it, and must be refused.
    generated = {k.lower() for k in (case.headers or {})}
    headers = {"Authorization": f"Bearer {TOKENS[who]}"} if "authorization" in generated else {}
    case.call_and_validate(headers=headers, checks=ALL_CHECKS)
