"""``putback doctor``: what is wrong with this terminal, each finding with its fix.

Every check is a small function returning a frozen :class:`Check`. Everything that touches the
machine (input devices, ``/proc``, the central store, the clock, the disk, the terminal) comes
in through :class:`Probes`, so each check is tested both passing and failing without hardware.
No Textual here (core module), no evdev (scanners are opened through the scanners' open
function) and no httpx (the central store is asked through :class:`SyncClient`).

One module of about 800 lines on purpose: it is one job (the checks, in the order
:func:`run_checks` runs them, and their rendering), each check independent of the others, and
a site engineer reading why a check failed reads it top to bottom in one place.
"""

from __future__ import annotations

import errno
import json
import os
import pwd
import shutil
import stat
import textwrap
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path

from putback_tui.config import (
    ConfigError,
    Paths,
    Settings,
    SyncSettings,
    load_settings,
    path_problems,
)
from putback_tui.domain import wording
from putback_tui.domain.models import now_utc
from putback_tui.domain.wording import plural
from putback_tui.files import open_by
from putback_tui.ledger import Ledger, LedgerError, LedgerLocked
from putback_tui.ledger import sync as book
from putback_tui.ledger.schema import migration_names
from putback_tui.scanners.discovery import (
    DeviceInfo,
    NoInputDevicesError,
    list_input_devices,
    resolve,
)
from putback_tui.scanners.settings import ScannerSettings
from putback_tui.scanners.source import (
    ListDevices,
    OpenDevice,
    open_with_evdev,
    permission_fix,
)
from putback_tui.sync.client import CentralRefused, CentralUnavailable, SyncClient, SyncError
from putback_tui.wire import ClientKind

MIN_FREE_BYTES = 100_000_000
"""Below this much free disk beside the database, doctor fails (a backup needs room too)."""
LOW_FREE_BYTES = 500_000_000
"""Below this, doctor warns."""
SKEW_WARN_S = 5.0
"""Clock skew above this is a warning (the Date header has whole seconds, plus the round trip)."""
SKEW_FAIL_S = 120.0
"""Clock skew above this fails: entry times, exception ageing and reports go wrong."""
STALE_SYNC = timedelta(minutes=15)
"""Entries waiting with no successful sync for this long: the sync worker is not doing its job."""
MIN_SIZE = (80, 24)
"""Below this the app's screens cannot be laid out."""
GOOD_SIZE = (100, 30)
"""The size the screens are designed and tested at."""


class Status(StrEnum):
    """How a check came out."""

    OK = "ok"
    WARN = "warn"
    """Works, but something deserves attention; does not change the exit code."""
    FAIL = "fail"
    """Broken: the exit code is 1."""
    SKIP = "skip"
    """Not checked, because something it depends on failed or does not apply here."""


@dataclass(frozen=True)
class Check:
    """One finding."""

    name: str
    status: Status
    detail: str
    fix: str | None = None
    """What to do, precisely (commands to run); None when nothing needs doing."""


def _terminal_size() -> os.terminal_size | None:
    for stream in (1, 2, 0):
        try:
            return os.get_terminal_size(stream)
        except OSError:
            continue
    return None


def _client(url: str, token: str) -> SyncClient:
    return SyncClient(url, token, timeout_s=5.0)


@dataclass(frozen=True)
class Probes:
    """Everything the checks read from the machine; the tests replace any of it."""

    list_devices: ListDevices = list_input_devices
    open_device: OpenDevice = open_with_evdev
    proc_dir: Path = Path("/proc")
    client_factory: Callable[[str, str], SyncClient] = _client
    clock: Callable[[], datetime] = now_utc
    disk_usage: Callable[[Path], tuple[int, int, int]] = shutil.disk_usage
    environ: Mapping[str, str] = field(default_factory=lambda: dict(os.environ))
    terminal_size: Callable[[], os.terminal_size | None] = _terminal_size
    euid: int = field(default_factory=os.geteuid)


# -- configuration -----------------------------------------------------------------------------


def check_config(paths: Paths) -> tuple[Check, Settings | None]:
    """The configuration file: present, valid, and its token readable by its owner only."""
    path = paths.config_file
    if not path.exists() and paths.config_named:
        return (
            Check(
                "configuration",
                Status.FAIL,
                f"{path} does not exist (named with --config or PUTBACK_CONFIG).",
                "Correct the name, or leave both out to use the default configuration file.",
            ),
            None,
        )
    if not path.exists():
        settings = Settings()
        return (
            Check(
                "configuration",
                Status.WARN,
                f"{path} does not exist: every setting is at its default (terminal "
                f"{settings.terminal.id} at {settings.terminal.facility}, offline).",
                "Set the terminal up with `putback init --data DIR` (writes the file), or copy "
                "the site's config.toml there.",
            ),
            settings,
        )
    try:
        settings = load_settings(path)
    except ConfigError as exc:
        return (
            Check(
                "configuration",
                Status.FAIL,
                str(exc),
                f"Correct that setting in {path}; `putback config reference` lists every "
                "setting with its type and default.",
            ),
            None,
        )
    mode = path.stat().st_mode
    if settings.sync.token is not None and mode & (stat.S_IRWXG | stat.S_IRWXO):
        return (
            Check(
                "configuration",
                Status.FAIL,
                f"{path} holds the central-store token and others may read it "
                f"(mode {stat.filemode(mode)}).",
                f"chmod 600 {path}",
            ),
            settings,
        )
    central = settings.sync.url or "offline"
    return (
        Check(
            "configuration",
            Status.OK,
            f"{path}: valid; terminal {settings.terminal.id} at {settings.terminal.facility}, "
            f"{plural(len(settings.scanners), 'scanner')}, central store {central}.",
        ),
        settings,
    )


def check_files(paths: Paths) -> Check:
    """No other user can swap this terminal's files: its directories and links are its own."""
    problems = path_problems(paths)
    if problems:
        return Check(
            "files",
            Status.FAIL,
            " ".join(problems),
            "Every putback command refuses to run until this is fixed: another user could make "
            "it write the token or the ledger where they choose.",
        )
    return Check(
        "files", Status.OK, "Configuration, data and log directories are this user's own."
    )


# -- local database ----------------------------------------------------------------------------


def _owner_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def open_database(paths: Paths, euid: int) -> tuple[Check, Ledger | None]:
    """Open the local ledger as the app would (applying migrations), or say why it cannot be."""
    db = paths.db_path
    if not db.exists():
        return (
            Check(
                "database",
                Status.FAIL,
                f"No local database at {db}.",
                "New terminal: `putback init --data DIR`. Replacement terminal: `putback restore "
                "BACKUP` (see 'Replacing a terminal' in docs/installing.md).",
            ),
            None,
        )
    owner = db.stat().st_uid
    if euid == 0 and owner != 0:
        user = _owner_name(owner)
        return (
            Check(
                "database",
                Status.SKIP,
                f"{db} belongs to {user}: not opened as root (SQLite would leave root-owned "
                "files beside it that the app cannot open).",
                f"Run doctor as {user}: `sudo -u {user} PUTBACK_HOME=... putback doctor` (the "
                "/usr/local/bin/putback wrapper of scripts/install-terminal does that).",
            ),
            None,
        )
    try:
        ledger = Ledger(db, create=False)
    except LedgerLocked as exc:
        return (
            Check(
                "database",
                Status.FAIL,
                str(exc),
                f"See who holds it: `fuser -v {db}`. The app and `putback sync` share it "
                "without trouble; a `sqlite3` shell left open does not.",
            ),
            None,
        )
    except LedgerError as exc:
        return (
            Check(
                "database",
                Status.FAIL,
                str(exc),
                "Restore the newest backup with `putback restore BACKUP` (the damaged file is "
                "kept beside it), or see 'Replacing a terminal' in docs/installing.md.",
            ),
            None,
        )
    with ledger.read() as tx:
        entries = tx.count_entries()
    size = sum(
        p.stat().st_size for p in (db, Path(f"{db}-wal")) if p.exists()
    )
    return (
        Check(
            "database",
            Status.OK,
            f"{db}: opened; {wording.entries(entries)}, {size / 1e6:.1f} MB.",
        ),
        ledger,
    )


def check_schema(ledger: Ledger) -> Check:
    """Every migration this version knows is applied, and none it does not know."""
    applied, known = migration_names(ledger.db)
    unknown = [name for name in applied if name not in known]
    if unknown:
        return Check(
            "schema",
            Status.FAIL,
            f"The database was written by a newer putback (migrations {', '.join(unknown)} are "
            "unknown to this version).",
            "Install the putback version the database came from or a newer one "
            "(scripts/install-terminal from an up-to-date checkout).",
        )
    pending = [name for name in known if name not in applied]
    if pending:
        return Check(
            "schema",
            Status.FAIL,
            f"Migrations {', '.join(pending)} were not applied.",
            "Open the database once as its owner (`putback stock` applies them); if that "
            "fails, `putback logs -n 50` shows why.",
        )
    return Check("schema", Status.OK, f"version {len(applied)} ({applied[-1]}).")


def check_integrity(ledger: Ledger) -> Check:
    """SQLite's integrity check."""
    try:
        problems = ledger.check()
    except LedgerError as exc:
        problems = [str(exc)]
    if problems:
        return Check(
            "integrity",
            Status.FAIL,
            "SQLite integrity check failed: " + "; ".join(problems[:3]),
            "Stop the app, then `putback restore BACKUP` (the damaged file is kept beside it); "
            "without a backup see 'Replacing a terminal' in docs/installing.md.",
        )
    return Check("integrity", Status.OK, "SQLite integrity check passed.")


def check_stock(ledger: Ledger) -> Check:
    """The stock projections equal their rebuild from the baseline and the ledger entries."""
    qoh_rows, atp_rows = ledger.stock()
    rebuilt_qoh, rebuilt_atp = ledger.rebuild_stock()
    qoh = {(s, loc): n for s, loc, n in qoh_rows}
    atp = dict(atp_rows)
    diffs = [
        f"{s}@{loc}: {qoh.get((s, loc), 0)}, rebuilt {rebuilt_qoh.get((s, loc), 0)}"
        for s, loc in sorted(qoh.keys() | rebuilt_qoh.keys())
        if qoh.get((s, loc), 0) != rebuilt_qoh.get((s, loc), 0)
    ] + [
        f"{s} ATP: {atp.get(s, 0)}, rebuilt {rebuilt_atp.get(s, 0)}"
        for s in sorted(atp.keys() | rebuilt_atp.keys())
        if atp.get(s, 0) != rebuilt_atp.get(s, 0)
    ]
    if diffs:
        return Check(
            "stock",
            Status.FAIL,
            f"{wording.plural(len(diffs), 'stock figure')} "
            f"{wording.agree(len(diffs), 'differs', 'differ')} from the rebuild from the ledger: "
            + "; ".join(diffs[:3]),
            "The entries themselves are intact. Make a copy with `putback backup FILE` and send "
            "it with the output of `putback logs -n 200` to support.",
        )
    return Check(
        "stock",
        Status.OK,
        f"{len(qoh)} QOH and {len(atp)} ATP figures equal their rebuild from the ledger.",
    )


def check_facility(ledger: Ledger, facility: str) -> Check:
    """The ledger was set up for the configured facility and holds something for it."""
    loaded = ledger.get_meta("facility")
    if loaded is not None and loaded != facility:
        return Check(
            "facility",
            Status.FAIL,
            f"The database was set up for {loaded}, but the configuration says {facility}.",
            "Correct terminal.facility in the configuration, or set the terminal up again for "
            f"{facility} (`putback init --data DIR` on a new home directory).",
        )
    with ledger.read() as tx:
        orders = tx.count_orders(facility)
        stock = tx.count_stock_rows()
    if not orders and not stock:
        return Check(
            "facility",
            Status.WARN,
            f"The database holds no orders and no stock for {facility}.",
            "Load the data set for this facility (`putback init --data DIR`) or let the app "
            "sync with the central store.",
        )
    counts = f"{wording.orders(orders)}, {wording.plural(stock, 'stock row')}"
    return Check("facility", Status.OK, f"{facility}: {counts}.")


def check_sync_queue(ledger: Ledger, settings: SyncSettings, now: datetime) -> Check:
    """Entries waiting to be sent, entries the central store refused, and the last sync."""
    with ledger.read() as tx:
        counts = book.counts(tx)
    refused = ledger.refused_entries() if counts.refused else []
    last = counts.last_success
    last_text = f"last sync {last.astimezone():%Y-%m-%d %H:%M:%S}" if last else "never synced"
    summary = f"{counts.waiting} waiting, {counts.refused} refused, {last_text}."
    failure = counts.failure
    if failure is not None and failure.shows(settings.failure_rounds):
        return Check(
            "sync queue",
            Status.FAIL,
            f"{summary} Since {failure.since.astimezone():%Y-%m-%d %H:%M:%S}, "
            f"{failure.describe()}.",
            "The central store answers but cannot apply this batch: `putback central doctor` "
            "there lists the failure with its entry IDs. The entries stay here and are sent "
            "again every round."
            if failure.kind == "push"
            else "The central store sent a figure out of bounds; nothing of it was stored "
            "here. Check the central store's data (`putback central doctor`).",
        )
    if refused:
        shown = "; ".join(
            f"#{r.entry.seq} {r.entry.kind.value} {r.entry.order_id or ''}: {r.reason}"
            for r in refused[:3]
        )
        return Check(
            "sync queue",
            Status.WARN,
            f"{summary} Refused: {shown}",
            "A supervisor reviews refused entries (`putback ledger --json` shows them); they "
            "stay recorded here, and the central store's stock is the truth.",
        )
    connected = bool(settings.url and settings.token)
    if counts.waiting and connected and (last is None or now - last > STALE_SYNC):
        return Check(
            "sync queue",
            Status.WARN,
            summary,
            "Is the sync worker running? `systemctl status putback-sync` (kiosk), or run "
            "`putback sync --once` to see why a round fails.",
        )
    if counts.waiting and not connected:
        return Check(
            "sync queue",
            Status.WARN,
            f"{summary} Not connected to a central store: they wait here.",
            "`putback connect URL --token TOKEN`",
        )
    return Check("sync queue", Status.OK, summary)


def check_disk(paths: Paths, disk_usage: Callable[[Path], tuple[int, int, int]]) -> Check:
    """Free space on the filesystem holding the database."""
    where = paths.data_dir
    while not where.exists() and where != where.parent:
        where = where.parent
    total, _used, free = disk_usage(where)
    detail = f"{free / 1e9:.2f} GB free of {total / 1e9:.1f} GB at {where}."
    fix = (
        f"Free space on the filesystem of {where}: `journalctl --vacuum-size=100M`, "
        "`apt-get clean`, and old putback.sqlite3.replaced-* files beside the database."
    )
    if free < MIN_FREE_BYTES:
        return Check("disk", Status.FAIL, detail, fix)
    if free < LOW_FREE_BYTES:
        return Check("disk", Status.WARN, detail, fix)
    return Check("disk", Status.OK, detail)


# -- central store -----------------------------------------------------------------------------


def check_central(
    settings: Settings, local_seq: int | None, probes: Probes
) -> list[Check]:
    """The central store: reachable, token accepted, clock skew, and sequence numbers.

    The last says whether the central store has more of this terminal's entries than its
    ledger (a terminal restored from an older backup, or set up again).

    Args:
        settings: the validated configuration.
        local_seq: the ledger's highest sequence number, None when it could not be read.
        probes: how to reach the central store, and this terminal's clock.
    """
    sync = settings.sync
    if not sync.url or sync.token is None:
        return [
            Check(
                "central store",
                Status.WARN,
                "Not connected: the terminal works offline and keeps every entry.",
                "`putback connect URL --token TOKEN` with the token from `putback central "
                f"add-terminal --facility {settings.terminal.facility} {settings.terminal.id}`.",
            )
        ]
    url = sync.url
    skipped = [
        Check(name, Status.SKIP, "Not checked: the central store did not answer.")
        for name in ("token", "clock")
    ]
    try:
        with probes.client_factory(url, sync.token.get_secret_value()) as client:
            probe = client.probe(probes.clock)
    except CentralUnavailable as exc:
        return [
            Check(
                "central store",
                Status.FAIL,
                str(exc),
                f"Check the network from this terminal (`curl -sS {url}/openapi.json`) and "
                "that the central store runs (`putback central serve`).",
            ),
            *skipped,
        ]
    except CentralRefused as exc:
        reached = Check("central store", Status.OK, f"{url} answered.")
        fix = (
            f"Get a new token on the central store (`putback central add-terminal --facility "
            f"{settings.terminal.facility} {settings.terminal.id}`), then `putback connect "
            f"{url} --token TOKEN` here."
        )
        return [reached, Check("token", Status.FAIL, str(exc), fix), skipped[1]]
    except SyncError as exc:
        return [
            Check(
                "central store",
                Status.FAIL,
                f"{exc}: is {url} a putback central store?",
                "Check sync.url in the configuration (`putback config show`).",
            ),
            *skipped,
        ]
    results = [
        Check(
            "central store",
            Status.OK,
            f"{url} answered in {probe.round_trip_s * 1000:.0f} ms.",
        )
    ]
    info, terminal = probe.info, settings.terminal
    if info.kind is not ClientKind.TERMINAL or (info.name, info.facility) != (
        terminal.id,
        terminal.facility,
    ):
        owner = f"{info.kind.value} {info.name}" + (f" at {info.facility}" if info.facility else "")
        results.append(
            Check(
                "token",
                Status.FAIL,
                f"The token belongs to {owner}, not to terminal {terminal.id} at "
                f"{terminal.facility}: the central store refuses its entries.",
                f"`putback connect {url} --token TOKEN` with this terminal's own token.",
            )
        )
    else:
        results.append(
            Check("token", Status.OK, f"Accepted: terminal {info.name} at {info.facility}.")
        )
    results.append(_clock(probe.server_time, probe.local_time))
    if info.last_seq is not None and local_seq is not None:
        results.append(_sequence(terminal.id, local_seq, info.last_seq))
    return results


def _clock(server: datetime | None, local: datetime) -> Check:
    if server is None:
        return Check("clock", Status.SKIP, "The central store sent no Date header.")
    skew = (local - server).total_seconds()
    ahead = "ahead of" if skew > 0 else "behind"
    detail = f"This terminal's clock is {abs(skew):.0f} s {ahead} the central store's."
    fix = (
        "Turn on time sync: `sudo timedatectl set-ntp true` (systemd-timesyncd; set the site's "
        "NTP server in /etc/systemd/timesyncd.conf), then check with `timedatectl`."
    )
    if abs(skew) > SKEW_FAIL_S:
        return Check("clock", Status.FAIL, detail, fix)
    if abs(skew) > SKEW_WARN_S:
        return Check("clock", Status.WARN, detail, fix)
    return Check("clock", Status.OK, f"Within {SKEW_WARN_S:.0f} s of the central store's.")


def _sequence(terminal: str, local_seq: int, central_seq: int) -> Check:
    if local_seq >= central_seq:
        return Check(
            "sequence",
            Status.OK,
            f"The ledger ends at #{local_seq}; the central store has {terminal}'s entries up "
            f"to #{central_seq}.",
        )
    return Check(
        "sequence",
        Status.FAIL,
        f"The central store has {terminal}'s entries up to #{central_seq}, but this ledger "
        f"ends at #{local_seq} (restored from an older backup, or set up again): new entries "
        f"would reuse numbers #{local_seq + 1}-#{central_seq} and the central store would "
        "refuse them.",
        "Do not scan on this terminal yet: run `putback sync --once`, which takes entries "
        f"#{local_seq + 1}-#{central_seq} back from the central store into this ledger (the "
        "app does the same when it starts). If that reports a diverged ledger, enrol the "
        "terminal under a new terminal ID (see 'Replacing a terminal' in docs/installing.md).",
    )


# -- scanners ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Holder:
    """A process that has an input device open."""

    pid: int
    command: str

    @property
    def is_putback(self) -> bool:
        """Whether it is a putback process (the app, or another doctor)."""
        return "putback" in self.command


def device_holders(path: str, proc_dir: Path, *, own_pid: int | None = None) -> list[Holder]:
    """Processes (that this user may see) with ``path`` open, from ``/proc/PID/fd``."""
    found = open_by([Path(path)], proc_dir, own_pid=own_pid)
    return [Holder(pid, command) for pid, command in found]


def check_scanner(settings: ScannerSettings, info: DeviceInfo | None, probes: Probes) -> Check:
    """One configured scanner: present, readable, and not grabbed by another program."""
    name = f"scanner {settings.label}"
    if info is None:
        return Check(
            name,
            Status.FAIL,
            f"No input device matches device = {settings.device!r}.",
            "Plug the scanner in (or replug it), then `putback scanners list`: use the by-id "
            "name it shows as `device` in the [[scanners]] table.",
        )
    where = f"{info.path} ({info.name})" if info.name else info.path
    user = _owner_name(probes.euid)
    if not info.readable:
        return Check(
            name, Status.FAIL, f"{where}: present, but this user may not read it.",
            permission_fix(user),
        )
    try:
        device = probes.open_device(info.path, True)
    except OSError as exc:
        if isinstance(exc, PermissionError) or exc.errno in (errno.EACCES, errno.EPERM):
            return Check(
                name, Status.FAIL, f"{where}: present, but this user may not read it.",
                permission_fix(user),
            )
        if exc.errno == errno.EBUSY:
            holders = device_holders(info.path, probes.proc_dir)
            mine = [h for h in holders if h.is_putback]
            if mine:
                return Check(
                    name,
                    Status.OK,
                    f"{where}: in use by putback (pid {mine[0].pid}: {mine[0].command}).",
                )
            who = (
                ", ".join(f"pid {h.pid} ({h.command})" for h in holders)
                or "a process this user cannot see"
            )
            return Check(
                name,
                Status.FAIL,
                f"{where}: grabbed by another program: {who}. Its scans never reach putback.",
                f"Stop that program (`sudo fuser -v {info.path}` lists every holder), then "
                "restart putback.",
            )
        return Check(
            name, Status.FAIL, f"{where}: cannot be opened: {exc}",
            "Replug the scanner; `putback logs -n 50` shows the app's own attempts.",
        )
    device.close()
    grab = "" if settings.grab else " (grab = false: its scans also type into the console)"
    return Check(
        name,
        Status.WARN if not settings.grab else Status.OK,
        f"{where}: present, readable, free to grab{grab}.",
        "Set grab = true for this scanner." if not settings.grab else None,
    )


def check_scanners(scanners: Sequence[ScannerSettings], probes: Probes) -> list[Check]:
    """Every configured scanner, each given a device as the app assigns them."""
    if not scanners:
        return [Check("scanners", Status.OK, "None configured: keyboard-wedge input only.")]
    try:
        devices = list(probes.list_devices())
    except NoInputDevicesError as exc:
        return [
            Check(
                f"scanner {s.label}",
                Status.FAIL,
                f"{exc}.",
                "HID scanners need a Linux machine with its input devices (not a container).",
            )
            for s in scanners
        ]
    taken: set[str] = set()
    results = []
    for s in scanners:
        info = resolve(s.device, devices, taken)
        if info is not None:
            taken.add(info.path)
        results.append(check_scanner(s, info, probes))
    return results


# -- terminal ----------------------------------------------------------------------------------


def check_terminal(environ: Mapping[str, str], size: os.terminal_size | None) -> Check:
    """The terminal doctor runs in: big enough for the screens, and what colours it has."""
    if size is None:
        return Check(
            "terminal",
            Status.SKIP,
            "Not run in a terminal (output redirected).",
            "Run `putback doctor` on the console the app uses to check it.",
        )
    term = environ.get("TERM", "")
    cols, rows = size.columns, size.lines
    if term in ("", "dumb", "unknown"):
        return Check(
            "terminal",
            Status.FAIL,
            f"TERM is {term or 'unset'}: the app cannot draw its screens.",
            "Set TERM for the console: `linux` on a text console (the kiosk unit does), "
            "`xterm-256color` in a terminal window.",
        )
    colorterm = environ.get("COLORTERM", "").lower()
    if colorterm in ("truecolor", "24bit"):
        colours = "true colour"
    elif term.endswith("256color"):
        colours = "256 colours"
    elif term == "linux":
        colours = "16 colours (Linux console)"
    else:
        colours = "16 colours"
    detail = f"{cols}x{rows}, TERM={term}, {colours}."
    if cols < MIN_SIZE[0] or rows < MIN_SIZE[1]:
        return Check(
            "terminal",
            Status.FAIL,
            f"{detail} The app needs at least {MIN_SIZE[0]}x{MIN_SIZE[1]}.",
            "On the text console choose a smaller font (`sudo dpkg-reconfigure console-setup`) "
            "or a higher resolution; in a window, make it bigger.",
        )
    if "NO_COLOR" in environ:
        return Check(
            "terminal",
            Status.WARN,
            f"{detail} NO_COLOR is set: the app shows no colours.",
            "Unset NO_COLOR for the app.",
        )
    if cols < GOOD_SIZE[0] or rows < GOOD_SIZE[1]:
        return Check(
            "terminal",
            Status.WARN,
            f"{detail} The screens are laid out for {GOOD_SIZE[0]}x{GOOD_SIZE[1]}; some text "
            "will be cut short.",
            "On the text console choose a smaller font (`sudo dpkg-reconfigure console-setup`).",
        )
    return Check("terminal", Status.OK, detail)


# -- all of it ---------------------------------------------------------------------------------


def run_checks(paths: Paths, probes: Probes | None = None) -> list[Check]:
    """Every check, in the order a site engineer reads them.

    Never raises for what it finds; opens the ledger (applying migrations, as the app would)
    and briefly grabs each configured scanner that no other program holds.
    """
    probes = probes or Probes()
    config, settings = check_config(paths)
    results = [config, check_files(paths)]
    db_check, ledger = open_database(paths, probes.euid)
    results.append(db_check)
    local_seq: int | None = None
    if ledger is not None:
        try:
            results.append(check_schema(ledger))
            results.append(check_integrity(ledger))
            results.append(check_stock(ledger))
            if settings is not None:
                results.append(check_facility(ledger, settings.terminal.facility))
                results.append(check_sync_queue(ledger, settings.sync, probes.clock()))
            with ledger.read() as tx:
                local_seq = tx.last_seq()
        except LedgerError as exc:
            results.append(Check("database", Status.FAIL, str(exc)))
        finally:
            ledger.close()
    results.append(check_disk(paths, probes.disk_usage))
    if settings is None:
        results.append(Check("central store", Status.SKIP, "Not checked: configuration invalid."))
        results.append(Check("scanners", Status.SKIP, "Not checked: configuration invalid."))
    else:
        results.extend(check_central(settings, local_seq, probes))
        results.extend(check_scanners(settings.scanners, probes))
    results.append(check_terminal(probes.environ, probes.terminal_size()))
    return results


def exit_code(results: Sequence[Check]) -> int:
    """1 when any check failed, else 0 (warnings do not fail)."""
    return 1 if any(r.status is Status.FAIL for r in results) else 0


def render_text(results: Sequence[Check], width: int = 100) -> str:
    """The findings as aligned lines, each fix indented under its finding, then a summary."""
    name_w = max(len(r.name) for r in results)
    indent = " " * (6 + name_w + 1)
    lines = []
    for r in results:
        head = f"{r.status.value.upper():<5} {r.name:<{name_w}} "
        lines.extend(
            textwrap.wrap(r.detail, width, initial_indent=head, subsequent_indent=indent)
            or [head.rstrip()]
        )
        if r.fix:
            lines.extend(
                textwrap.wrap(
                    r.fix, width, initial_indent=indent + "fix: ",
                    subsequent_indent=indent + "     ", break_on_hyphens=False,
                )
            )
    counts = {s: sum(r.status is s for r in results) for s in Status}
    lines.append("")
    verdict = "Something is wrong" if counts[Status.FAIL] else "Nothing is wrong"
    lines.append(
        f"{verdict}: {counts[Status.FAIL]} failed, {plural(counts[Status.WARN], 'warning')}, "
        f"{counts[Status.OK]} OK, {counts[Status.SKIP]} skipped."
    )
    return "\n".join(lines)


def render_json(results: Sequence[Check]) -> str:
    """``{"ok": bool, "counts": {...}, "checks": [{name, status, detail, fix}, ...]}``."""
    return json.dumps(
        {
            "ok": exit_code(results) == 0,
            "counts": {s.value: sum(r.status is s for r in results) for s in Status},
            "checks": [
                {"name": r.name, "status": r.status.value, "detail": r.detail, "fix": r.fix}
                for r in results
            ],
        },
        indent=2,
        ensure_ascii=False,
    )
