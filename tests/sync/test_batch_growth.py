"""A backlog drains in growing batches while the central store keeps up, and in smaller ones
when it slows down (real terminal, real central store on loopback).
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest
from pydantic import SecretStr

from putback_tui.central.server import BackgroundServer
from putback_tui.config import SyncSettings
from putback_tui.sync.client import SyncClient
from putback_tui.sync.worker import SyncWorker, next_batch_size
from tests.central_support import Central, MakeTerminal, Terminal


class BatchSizes(httpx.HTTPTransport):
    """Passes every request on; notes how many entries each batch sent held."""

    def __init__(self) -> None:
        super().__init__()
        self.sizes: list[int] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST" and request.url.path.endswith("/entries"):
            self.sizes.append(len(json.loads(request.content)["entries"]))
        return super().handle_request(request)


def answers_taking(*seconds: float) -> Iterator[float]:
    """A clock read twice a batch (sent, answered): each answer takes the next of ``seconds``."""
    now = 0.0
    for s in seconds:
        yield now
        now += s
        yield now
    while True:
        yield now


def backlog(t: Terminal, n: int) -> None:
    """``n`` entries waiting: put-backs of D-1002's three units, undone and made again."""
    t.station.open_order("D-1002")
    while len(t.ledger.entries()) < n:
        t.station.put_back("D-1002", 1, "TSHIRT-BLK-M", "A-01-01")
        t.station.undo_last_put_back("D-1002")


def drain(t: Terminal, server: BackgroundServer, central: Central, settings: SyncSettings,
          clock: Iterator[float]) -> list[int]:
    sizes = BatchSizes()
    worker = SyncWorker(
        t.path,
        settings,
        client_factory=lambda url, token: SyncClient(url, token, transport=sizes),
        monotonic=lambda: next(clock),
    )
    state = worker.run_once()
    worker.stop()
    assert (state.online, state.waiting, state.refused) == (True, 0, 0)
    assert len(central.store.recorded(t.settings.terminal.id)) == len(t.ledger.entries())
    return sizes.sizes


def test_a_backlog_drains_in_batches_that_grow_while_answers_are_quick(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    backlog(t, 40)
    n = len(t.ledger.entries())
    settings = t.sync_settings(server.url, central.tokens["PACK-01"], batch_size=2,
                               max_batch_size=8)
    sizes = drain(t, server, central, settings, answers_taking(*[0.1] * 20))
    # The second batch is read while the first is in flight (2); then 4, then 8 at most.
    assert sizes[:4] == [2, 2, 4, 8]
    assert set(sizes[4:-1]) == {8}
    assert sum(sizes) == n


def test_slow_answers_bring_the_batches_back_down_and_never_below_the_setting(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    backlog(t, 40)
    settings = t.sync_settings(server.url, central.tokens["PACK-01"], batch_size=2,
                               max_batch_size=8)
    # Quick, quick, quick, then every answer over two seconds.
    sizes = drain(t, server, central, settings, answers_taking(0.1, 0.1, 0.1, *[3.0] * 20))
    assert sizes[:7] == [2, 2, 4, 8, 8, 4, 2]
    assert set(sizes[7:]) <= {2, 1}


def test_batches_of_one_size_when_the_maximum_is_the_batch_size(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    backlog(t, 12)
    settings = t.sync_settings(server.url, central.tokens["PACK-01"], batch_size=3)
    sizes = drain(t, server, central, settings, answers_taking(*[0.1] * 20))
    assert set(sizes[:-1]) == {3}


@pytest.mark.parametrize(
    ("size", "took", "more", "expected"),
    [
        (200, 0.1, True, 400),
        (4000, 0.1, True, 5000),  # capped at max_batch_size
        (200, 0.1, False, 200),  # nothing more waiting: no reason to grow
        (800, 1.0, True, 800),  # between the marks: kept
        (800, 3.0, True, 400),
        (300, 3.0, True, 200),  # never below batch_size
    ],
)
def test_the_next_batch_size(size: int, took: float, more: bool, expected: int) -> None:
    settings = SyncSettings(url="http://central.local:8700", token=SecretStr("t" * 20))
    assert next_batch_size(size, took, more, settings) == expected
