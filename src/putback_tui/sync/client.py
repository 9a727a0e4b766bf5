"""The terminal's HTTP client for the central store (the only module that imports httpx)."""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from pydantic import BaseModel, ValidationError

from putback_tui.domain.entries import Entry
from putback_tui.domain.models import now_utc
from putback_tui.sync.answers import applied_ids
from putback_tui.wire import (
    API_PREFIX,
    API_VERSION,
    OUTBOX_HEADER,
    BatchResult,
    ChangesPage,
    ClaimAnswer,
    ClaimReleased,
    ClaimRequest,
    ClaimsPage,
    ClientInfo,
    EntryBatch,
    OwnEntriesPage,
    batch_json,
)

M = TypeVar("M", bound=BaseModel)


class SyncError(Exception):
    """Talking to the central store failed; the message says why, without the token."""


class CentralUnavailable(SyncError):
    """The central store cannot be reached or is failing (network, timeout, 5xx): retry.

    Attributes:
        status: the HTTP status of a failing answer (5xx, 429); None when nothing answered.
    """

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class AnswerRefused(SyncError):
    """The central store's answer holds a value out of this terminal's bounds.

    Nothing of it is used or stored (a stock figure near 2**63, a float, a NUL in an ID...).
    """


class CentralRefused(SyncError):
    """The central store answered with a client error (bad token, forbidden, bad request).

    Attributes:
        status: the HTTP status code.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class BatchAnswer:
    """The central store's answer to a batch sent with :meth:`SyncClient.push_json`."""

    result: BatchResult | None
    """The answer read into the wire models; None when every entry was applied (or was a
    duplicate of an entry applied before), the common answer, read without a model per entry
    (see :mod:`putback_tui.sync.answers`)."""


@dataclass(frozen=True)
class Probe:
    """A ``whoami`` call with the central store's clock, for ``putback doctor``."""

    info: ClientInfo
    """Who the token belongs to."""
    server_time: datetime | None
    """The central store's clock from the HTTP ``Date`` header (whole seconds); None if absent."""
    local_time: datetime
    """This terminal's clock halfway through the call."""
    round_trip_s: float
    """How long the call took."""


class SyncClient:
    """Calls to one central store with one terminal token.

    Args:
        base_url: e.g. ``http://central.local:8700``.
        token: the terminal's token.
        timeout_s: for connecting and for each answer.
        transport: an httpx transport (tests use it to drop answers on purpose).
    """

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        timeout_s: float = 10.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.outbox: int | None = None
        """Entries waiting to be sent, as last counted by the sync worker: sent with each push
        and pull (``X-Putback-Outbox``) so the central store's backlog shows it."""
        self._http = httpx.Client(
            base_url=self.base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout_s,
            transport=transport,
            verify=_tls_for(self.base_url),
        )

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> SyncClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _call(self, model: type[M], method: str, path: str, **kwargs: Any) -> M:
        return self._parse(model, self._request(method, path, **kwargs))

    def _request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        try:
            response = self._http.request(method, API_PREFIX + path, **kwargs)
        except httpx.TimeoutException as exc:
            raise CentralUnavailable(f"{self.base_url} did not answer in time") from exc
        except httpx.TransportError as exc:
            raise CentralUnavailable(f"{self.base_url} unreachable: {exc}") from exc
        status = response.status_code
        if status >= 500 or status == 429:
            raise CentralUnavailable(
                f"{self.base_url} answered {status}: {_detail(response)}", status
            )
        if status >= 400:
            raise CentralRefused(status, f"central store refused ({status}): {_detail(response)}")
        return response

    def _parse(self, model: type[M], response: httpx.Response) -> M:
        # Fields this terminal does not know are ignored: a central store upgraded before its
        # terminals may add to its answers within a protocol version (see putback_tui/wire.py).
        try:
            return model.model_validate_json(response.content, extra="ignore")
        except ValidationError as exc:
            version = _version_of(response)
            if version is not None and version != API_VERSION:
                raise SyncError(
                    f"{self.base_url} answers in protocol version {version}; this terminal "
                    f"speaks version {API_VERSION}: upgrade putback on this terminal"
                ) from exc
            raise AnswerRefused(
                f"{self.base_url} gave an answer this terminal refuses "
                f"({_first_error(exc)}); nothing of it was stored"
            ) from exc

    def whoami(self) -> ClientInfo:
        """Who the token belongs to.

        Raises:
            CentralUnavailable, CentralRefused (401 for an unknown token), SyncError.
        """
        return self._call(ClientInfo, "GET", "/whoami")

    def own_entries(self, after_seq: int, limit: int = 1000) -> OwnEntriesPage:
        """This terminal's own entries after ``after_seq``, as the central store recorded them.

        Raises:
            CentralUnavailable, CentralRefused, SyncError.
        """
        return self._call(
            OwnEntriesPage, "GET", "/entries/own", params={"after_seq": after_seq, "limit": limit}
        )

    def probe(self, clock: Callable[[], datetime] = now_utc) -> Probe:
        """``whoami``, timed, with the central store's clock read from the ``Date`` header.

        Args:
            clock: this terminal's clock (tests pass a skewed one).

        Raises:
            CentralUnavailable, CentralRefused (401 for an unknown token), SyncError.
        """
        sent = clock()
        started = time.monotonic()
        response = self._request("GET", "/whoami")
        elapsed = time.monotonic() - started
        info = self._parse(ClientInfo, response)
        server_time: datetime | None = None
        if date := response.headers.get("date"):
            try:
                server_time = parsedate_to_datetime(date)
            except (TypeError, ValueError):
                server_time = None
        if server_time is not None and server_time.tzinfo is None:
            server_time = server_time.replace(tzinfo=UTC)
        return Probe(info, server_time, sent + timedelta(seconds=elapsed / 2), elapsed)

    def push(self, entries: Sequence[Entry]) -> BatchResult:
        """Send one batch of entries; the answer has one result per entry, in order.

        Raises:
            CentralUnavailable: no answer (the batch may or may not have been applied:
                sending it again is safe). CentralRefused, SyncError.
        """
        # Defaults left out: the central store fills in the same ones, and a smaller body is
        # quicker to parse on the central store, where every terminal's batches queue.
        body = EntryBatch(entries=tuple(entries)).model_dump_json(exclude_defaults=True)
        return self._push_body(body, [e.entry_id for e in entries])

    def push_json(self, entry_ids: Sequence[str], entries_json: Sequence[str]) -> BatchAnswer:
        """:meth:`push` for entries already serialised: each one the JSON of an :class:`Entry`.

        The sync worker sends the ledger's rows this way, as SQLite writes them, without
        building models only to serialise them again; the central store validates each entry.
        An answer that every entry was applied is read without the wire models (its
        ``result`` is None); any other is read with them, as :meth:`push` reads it.

        Raises:
            CentralUnavailable, CentralRefused, SyncError (AnswerRefused for an answer out of
            this terminal's bounds).
        """
        response = self._post_batch(batch_json(entries_json))
        ids = applied_ids(response.content)
        if ids is None:
            return BatchAnswer(self._checked(response, entry_ids))
        _check_matches(ids, entry_ids)
        return BatchAnswer(None)

    def _push_body(self, body: str, entry_ids: Sequence[str]) -> BatchResult:
        return self._checked(self._post_batch(body), entry_ids)

    def _post_batch(self, body: str) -> httpx.Response:
        return self._request(
            "POST",
            "/entries",
            content=body,
            headers={"Content-Type": "application/json", **self._outbox_header()},
        )

    def _checked(self, response: httpx.Response, entry_ids: Sequence[str]) -> BatchResult:
        result = self._parse(BatchResult, response)
        _check_matches([r.entry_id for r in result.results], entry_ids)
        return result

    def changes(self, cursor: int, limit: int) -> ChangesPage:
        """One page of the changes feed after ``cursor``.

        Raises:
            CentralUnavailable, CentralRefused, SyncError.
        """
        params = {"cursor": cursor, "limit": limit}
        return self._call(
            ChangesPage, "GET", "/changes", params=params, headers=self._outbox_header()
        )

    def _outbox_header(self) -> dict[str, str]:
        return {} if self.outbox is None else {OUTBOX_HEADER: str(self.outbox)}

    def claim(
        self, order_id: str, operator: str, *, idle_s: int, take_over: bool = False
    ) -> ClaimAnswer:
        """Take or renew this terminal's claim on an order (see ``PUT /v1/claims/{order}``).

        Raises:
            CentralUnavailable, CentralRefused (404 unknown order), SyncError.
        """
        body = ClaimRequest(operator=operator, idle_s=idle_s, take_over=take_over)
        return self._call(
            ClaimAnswer,
            "PUT",
            f"/claims/{quote(order_id, safe='')}",
            content=body.model_dump_json(),
            headers={"Content-Type": "application/json"},
        )

    def release_claim(self, order_id: str) -> ClaimReleased:
        """End this terminal's claim on an order (nothing changes if it held none).

        Raises:
            CentralUnavailable, CentralRefused, SyncError.
        """
        return self._call(ClaimReleased, "DELETE", f"/claims/{quote(order_id, safe='')}")

    def claims(self) -> ClaimsPage:
        """The current claims of this terminal's facility.

        Raises:
            CentralUnavailable, CentralRefused, SyncError.
        """
        return self._call(ClaimsPage, "GET", "/claims")


def _check_matches(answered: Sequence[str], sent: Sequence[str]) -> None:
    """Raise SyncError unless an answer's entry IDs are the batch's, in order."""
    if list(answered) != list(sent):
        raise SyncError("the central store's answer does not match the batch sent")


def _tls_for(base_url: str) -> ssl.SSLContext | bool:
    """What the client verifies TLS with: the CA bundle for ``https``, nothing for ``http``.

    httpx loads its CA bundle into a new TLS context for every client it makes, whether the URL
    uses TLS or not (30-40 ms here; and a broken ``SSL_CERT_FILE`` stopped a plain ``http``
    central store from being reached at all). A plain URL gets a context that trusts no
    certificate, unused: the client only talks to its own base URL and never follows a
    redirect, and if TLS ever came up there it would fail closed, never unverified.
    """
    if urlsplit(base_url).scheme.lower() == "https":
        return True
    return ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)


def _first_error(exc: ValidationError) -> str:
    """The first problem of an answer in words: the field, the value (cut short), why."""
    errors = exc.errors(include_url=False)
    if not errors:
        return "unreadable"
    first = errors[0]
    where = ".".join(str(p) for p in first["loc"]) or "the body"
    value = repr(first.get("input"))
    value = value if len(value) <= 40 else value[:39] + "…"
    more = f", and {len(errors) - 1} more" if len(errors) > 1 else ""
    return f"{where} = {value}: {first['msg']}{more}"


def _version_of(response: httpx.Response) -> object:
    """The ``version`` an answer says it is in, or None."""
    try:
        body = response.json()
    except ValueError:
        return None
    return body.get("version") if isinstance(body, dict) else None


def _detail(response: httpx.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.reason_phrase or "no detail"
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, str):
        return detail
    if isinstance(detail, list) and detail and isinstance(detail[0], dict):
        return str(detail[0].get("msg", detail[0]))
    return response.reason_phrase or "no detail"
