"""The event feed and the changes feed page by size as well as count: a page stays near 1 MB,
holds at least one item, and reading every page still gives everything once.
"""

from __future__ import annotations

import httpx

from putback_tui.central.server import BackgroundServer
from putback_tui.central.storage import PAGE_BYTES
from putback_tui.domain.bounds import MAX_TEXT
from putback_tui.domain.models import Product
from tests.central.test_storage import _client, _work
from tests.central_support import Central, MakeTerminal

WIDE = 1500
"""Products with a description at the longest free text: about 1.6 MB of JSON in all."""


def test_a_changes_page_stops_near_one_megabyte_and_the_pages_add_up(
    server: BackgroundServer, central: Central
) -> None:
    central.store.import_data(
        products=[Product(sku=f"WIDE-{i:05}", description="d" * MAX_TEXT) for i in range(WIDE)]
    )
    seen: list[str] = []
    sizes: list[int] = []
    cursor = 0
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {central.tokens['PACK-01']}"}) as http:
        while True:
            response = http.get("/v1/changes", params={"cursor": cursor, "limit": 5000})
            page = response.json()
            sizes.append(len(response.content))
            seen += [p["sku"] for p in page["products"] if p["sku"].startswith("WIDE-")]
            cursor = page["next_cursor"]
            if not page["has_more"]:
                break
    assert len(sizes) >= 2
    assert max(sizes) <= PAGE_BYTES * 1.1
    assert sorted(seen) == [f"WIDE-{i:05}" for i in range(WIDE)]


def test_an_event_page_stops_at_its_size_with_at_least_one_event(
    central: Central, make_terminal: MakeTerminal
) -> None:
    entries = _work(make_terminal)
    start = central.store.events(0, 1000).next_cursor  # after the central store's own releases
    central.store.ingest(_client(central), entries)
    everything = central.store.events(start, 1000)
    assert len(everything.events) == len(entries) >= 3
    one = central.store.events(start, 1000, max_bytes=1)
    assert [e.entry.entry_id for e in one.events] == [entries[0].entry_id]
    assert one.has_more
    read, cursor = [], start
    while True:
        page = central.store.events(cursor, 1000, max_bytes=700)
        read += [e.entry.entry_id for e in page.events]
        cursor = page.next_cursor
        if not page.has_more:
            break
    assert read == [e.entry_id for e in entries]


def test_a_changes_page_holds_at_least_one_item_whatever_its_size(central: Central) -> None:
    page = central.store.changes(_client(central), 0, 1000, max_bytes=1)
    items = (len(page.orders) + len(page.products) + len(page.locations)
             + len(page.operators) + len(page.stock))
    assert items == 1
    assert page.has_more
