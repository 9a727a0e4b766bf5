"""Who may call the central store: terminals, systems and read-only viewers, by token.

Tokens are 256 random bits shown once; only their SHA-256 is stored. Terminals and systems are
``clients`` rows; viewers (dashboards) have their own table, since SQLite cannot widen the
``clients.kind`` CHECK in place. A name is unique across both.
"""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from putback_tui.central.engines import Engine, StoreError
from putback_tui.domain.models import iso_utc, now_utc
from putback_tui.wire import ClientInfo, ClientKind


class ClientExists(StoreError):
    """A terminal or system of that name is already enrolled."""



def hash_token(token: str) -> str:
    """The stored form of a token: SHA-256, hex.

    Tokens are 256 random bits, so a fast hash is enough: there is nothing to brute-force.
    """
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Client:
    """An authenticated caller."""

    name: str
    kind: ClientKind
    facility: str | None
    facilities: tuple[str, ...] | None = None
    """A viewer's facilities (None: every facility); unused for the other kinds."""

    def info(self) -> ClientInfo:
        """The caller as the wire shows it."""
        return ClientInfo(
            name=self.name,
            kind=self.kind,
            facility=self.facility,
            facilities=self.facilities if self.kind is ClientKind.VIEWER else None,
        )

    def may_read(self, facility: str) -> bool:
        """True when the caller may read ``facility``'s backlog, events and orders."""
        if self.kind is ClientKind.TERMINAL:
            return facility == self.facility
        if self.kind is ClientKind.VIEWER:
            return self.facilities is None or facility in self.facilities
        return True


def add_client(
    engine: Engine, name: str, kind: ClientKind, facility: str | None, *, replace: bool = False
) -> str:
    """Enrol a terminal (of ``facility``) or a system, and return its new token.

    The token is returned once and only its hash is stored. With ``replace``, an enrolled
    client of that name, kind and facility gets a new token instead and its old token
    stops working at once (a lost or leaked token); everything else about it is kept.

    Raises:
        ClientExists: the name is taken (and ``replace`` is false).
        StoreError: ``replace`` for a name not enrolled, or enrolled as another kind or
            for another facility.
    """
    if kind is ClientKind.TERMINAL and not facility:
        raise StoreError("A terminal needs a facility.")
    if kind is ClientKind.VIEWER:
        raise StoreError("Enrol a viewer with add_viewer.")
    token = "pbk_" + secrets.token_urlsafe(32)
    with engine.write() as tx:
        if tx.all("SELECT 1 FROM viewers WHERE name = ?", (name,)):
            raise ClientExists(f"{name} is already enrolled as a viewer.")
        rows = tx.all("SELECT kind, facility FROM clients WHERE name = ?", (name,))
        if rows and not replace:
            raise ClientExists(f"{name} is already enrolled (--replace issues a new token).")
        if replace:
            if not rows:
                raise StoreError(f"{name} is not enrolled: there is no token to replace.")
            if (rows[0][0], rows[0][1]) != (kind.value, facility):
                was = rows[0][0] + (f" of {rows[0][1]}" if rows[0][1] else "")
                asked = kind.value + (f" of {facility}" if facility else "")
                raise StoreError(
                    f"{name} is enrolled as a {was}, not as a {asked}: nothing was changed."
                )
            tx.run(
                "UPDATE clients SET token_hash = ? WHERE name = ?", (hash_token(token), name)
            )
            return token
        tx.run(
            "INSERT INTO clients (name, kind, facility, token_hash, created_at) "
            "VALUES (?, ?, ?, ?, ?)",
            (name, kind.value, facility, hash_token(token), iso_utc(now_utc())),
        )
    return token

def add_viewer(
    engine: Engine, name: str, facilities: Sequence[str] | None, *, replace: bool = False
) -> str:
    """Enrol a read-only viewer of ``facilities`` (None: all) and return its new token.

    With ``replace``, an enrolled viewer gets a new token and the facilities given; its old
    token stops working at once.

    Raises:
        ClientExists: the name is taken by any client (and ``replace`` is false).
        StoreError: ``replace`` for a name not enrolled as a viewer.
    """
    token = "pbk_" + secrets.token_urlsafe(32)
    stored = facilities_json(facilities)
    with engine.write() as tx:
        taken = tx.all("SELECT kind FROM clients WHERE name = ?", (name,))
        if taken:
            raise ClientExists(f"{name} is already enrolled as a {taken[0][0]}.")
        found = tx.all("SELECT 1 FROM viewers WHERE name = ?", (name,))
        if found and not replace:
            raise ClientExists(f"{name} is already enrolled (--replace issues a new token).")
        if replace and not found:
            raise StoreError(f"{name} is not enrolled: there is no token to replace.")
        if found:
            tx.run(
                "UPDATE viewers SET token_hash = ?, facilities = ? WHERE name = ?",
                (hash_token(token), stored, name),
            )
        else:
            tx.run(
                "INSERT INTO viewers (name, facilities, token_hash, created_at) "
                "VALUES (?, ?, ?, ?)",
                (name, stored, hash_token(token), iso_utc(now_utc())),
            )
    return token

def authenticate(engine: Engine, token: str) -> Client | None:
    """The client holding ``token``, or None.

    One statement over both tables (a name is unique across them; a token is 256 random
    bits): it runs on every request, so it opens no transaction of its own.
    """
    hashed = hash_token(token)
    rows = engine.query(
        "SELECT name, kind, facility, NULL FROM clients WHERE token_hash = ? "
        "UNION ALL SELECT name, 'viewer', NULL, facilities FROM viewers WHERE token_hash = ?",
        (hashed, hashed),
    )
    if not rows:
        return None
    name, kind, facility, facilities = rows[0]
    if kind == ClientKind.VIEWER.value:
        return Client(
            name=name,
            kind=ClientKind.VIEWER,
            facility=None,
            facilities=None if facilities is None else tuple(json.loads(facilities)),
        )
    return Client(name=name, kind=ClientKind(kind), facility=facility)


def facilities_json(facilities: Sequence[str] | None) -> str | None:
    """A viewer's facilities as stored (None: every facility)."""
    return None if facilities is None else json.dumps(sorted(set(facilities)))
