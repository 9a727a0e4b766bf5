"""A terminal against a newer central store: within protocol version 1 the central store may add
fields to its answers, which the terminal ignores; an answer in another version is refused
with a message that says what to do, and nothing is marked sent.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from putback_tui.central.server import BackgroundServer
from putback_tui.sync.client import SyncClient
from putback_tui.sync.worker import SyncState
from tests.central_support import Central, MakeTerminal, Terminal
from tests.sync.test_worker import assert_synced, work, worker_for

Rewrite = Callable[[Any], Any]


class RewriteAnswers(httpx.HTTPTransport):
    """Sends every request to the real central store and rewrites its JSON answers."""

    def __init__(self, rewrite: Rewrite) -> None:
        super().__init__()
        self.rewrite = rewrite
        self.rewritten = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        response = super().handle_request(request)
        if not response.headers.get("content-type", "").startswith("application/json"):
            return response
        body = self.rewrite(json.loads(response.read()))
        self.rewritten += 1
        return httpx.Response(response.status_code, json=body, request=request)


def with_new_fields(value: Any) -> Any:
    """``value`` with a field no terminal knows yet added to every object in it."""
    if isinstance(value, dict):
        return {**{k: with_new_fields(v) for k, v in value.items()},
                "added_by_a_later_release": {"note": "ignored by older terminals"}}
    if isinstance(value, list):
        return [with_new_fields(v) for v in value]
    return value


def one_round(
    server: BackgroundServer, central: Central, t: Terminal, transport: RewriteAnswers
) -> SyncState:
    """One sync round of ``t`` whose answers go through ``transport``."""
    worker = worker_for(
        t, server, central,
        client_factory=lambda url, token: SyncClient(url, token, transport=transport),
    )
    try:
        return worker.run_once()
    finally:
        worker.stop()


def test_answers_with_fields_this_terminal_does_not_know_are_read(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    n = work(t)
    transport = RewriteAnswers(with_new_fields)
    state = one_round(server, central, t, transport)
    assert transport.rewritten >= 3  # whoami, the batches, the changes feed
    assert (state.online, state.last_error, state.waiting, state.refused) == (True, None, 0, 0)
    assert_synced(t, central, n)


def test_an_answer_in_another_protocol_version_says_to_upgrade_and_nothing_is_sent(
    server: BackgroundServer, central: Central, make_terminal: MakeTerminal
) -> None:
    t = make_terminal()
    n = work(t)
    state = one_round(server, central, t, RewriteAnswers(lambda body: {**body, "version": 2}))
    assert state.online is False
    assert state.last_error is not None
    assert "answers in protocol version 2; this terminal speaks version 1" in state.last_error
    assert "upgrade putback on this terminal" in state.last_error
    assert state.waiting == n


def test_a_plain_http_central_store_is_reached_whatever_the_tls_certificates(
    server: BackgroundServer,
    central: Central,
    make_terminal: MakeTerminal,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    """No TLS on an ``http://`` URL, so a missing CA bundle cannot stop sync (it did)."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    t = make_terminal()
    n = work(t)
    worker = worker_for(t, server, central)
    try:
        state = worker.run_once()
    finally:
        worker.stop()
    assert (state.online, state.last_error, state.waiting) == (True, None, 0)
    assert_synced(t, central, n)


def test_an_https_central_store_is_still_verified_against_the_ca_bundle(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """The bundle is still read for ``https://``: a missing one is an error, never no check."""
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "no-such-bundle.pem"))
    with pytest.raises(FileNotFoundError):
        SyncClient("https://central.example:8700", "token")
