"""Settings: one TOML file validated by pydantic, and where config and data live on disk.

``--home DIR`` or ``PUTBACK_HOME`` puts everything under DIR (``DIR/config.toml``,
``DIR/data/``, ``DIR/logs/``) so several terminals and every test can run side by side;
otherwise the platform's config and data directories are used (platformdirs).
"""

from __future__ import annotations

import json
import os
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import platformdirs
import tomli_w
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticUndefined

from putback_tui import files
from putback_tui.barcodes import CodePatterns
from putback_tui.domain.bounds import Code
from putback_tui.domain.models import Permission, RejectReason
from putback_tui.domain.permissions import DEFAULT_ROLES
from putback_tui.domain.reasons import (
    BUILT_IN_EFFECTS,
    DEFAULT_LINE_EDIT_REASONS,
    OrderAction,
    RejectReasonDef,
    SiteReasons,
)
from putback_tui.domain.sla import PrioritySettings, SlaSettings
from putback_tui.scanners.settings import ScannerSettings
from putback_tui.wire import MAX_CLAIM_IDLE_S, MIN_CLAIM_IDLE_S

APP_NAME = "putback"
HOME_ENV = "PUTBACK_HOME"
CONFIG_ENV = "PUTBACK_CONFIG"


class ConfigError(Exception):
    """The configuration file cannot be read or is invalid; the message names the setting."""


class Section(BaseModel):
    """Base of every settings section: immutable, unknown keys are an error (typos show)."""

    model_config = ConfigDict(frozen=True, extra="forbid", use_attribute_docstrings=True)


class TerminalSettings(Section):
    """Who this terminal is."""

    id: Code = "PACK-01"
    """The terminal's name, recorded on every ledger entry."""
    facility: Code = "STORE-01"
    """The facility (warehouse or store) the terminal belongs to."""


class ScanSettings(Section):
    """How keyboard-wedge input is read."""

    double_read_ms: int = Field(default=150, ge=0, le=5000)
    """A second read of the same code within this many milliseconds is ignored (and counted)."""
    wedge_max_gap_ms: int = Field(default=60, ge=5, le=1000)
    """Keys arriving closer together than this are taken as one scanner burst."""


class SyncSettings(Section):
    """The central store this terminal syncs with."""

    url: str | None = None
    """Base URL of the central store, e.g. ``http://central.local:8700``; unset: offline."""
    token: SecretStr | None = None
    """The terminal's token from ``putback central add-terminal``. Never logged or shown."""
    batch_size: int = Field(default=200, ge=1, le=5000)
    """Ledger entries sent per batch (the first batch of a round, and every batch of a short
    backlog)."""
    max_batch_size: int = Field(default=5000, ge=1, le=5000)
    """A backlog's batches grow up to this many entries while the central store answers each
    within half a second (doubling from ``batch_size``), and shrink back when an answer takes
    over two seconds. Set it to ``batch_size`` for batches of one size."""
    interval_s: float = Field(default=2.0, gt=0, le=3600)
    """Seconds between sync rounds while idle."""
    failure_rounds: int = Field(default=5, ge=0, le=10_000)
    """Rounds in a row the same batch may fail at the central store (a server error answering
    it) before the status bar and ``putback doctor`` show it as a failure naming the entry."""

    @field_validator("url")
    @classmethod
    def _http_only(cls, url: str | None) -> str | None:
        if url is None:
            return None
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(
                f"{url!r} is not an http:// or https:// address of a central store, e.g. "
                "'http://central.local:8700'"
            )
        return url


class ClaimSettings(Section):
    """Claims on the exception order being cleared here (``[claims]``).

    While online, the order opened for put-back is claimed at the central store, so other
    terminals show who is clearing it. A claim is never a lock.
    """

    enabled: bool = True
    """Claim the exception order opened for put-back (only while a central store is set)."""
    idle_s: int = Field(default=300, ge=MIN_CLAIM_IDLE_S, le=MAX_CLAIM_IDLE_S)
    """Seconds without a scan or key on the order after which its claim ends by itself (renewals
    go out at most every quarter of this, so it ends up to a quarter later). The central store
    ends it, so the claim of a terminal that died or lost its network ends too."""
    timeout_s: float = Field(default=2.0, gt=0, le=30)
    """Longest wait for the central store's answer to a claim call. Claim calls run on their
    own thread: a slow central store never holds up a scan, the claim is simply missing."""


class WorklistSettings(Section):
    """The order screen's list of waiting exception orders."""

    bell: bool = True
    """Ring the terminal bell once when a pull brings a new exception order."""
    rows: int = Field(default=50, ge=1, le=5000)
    """Most rows the order screen shows (the count in the status bar covers them all)."""


def _default_roles() -> dict[str, list[Permission]]:
    return {role: sorted(perms) for role, perms in DEFAULT_ROLES.items()}


class ReasonSettings(Section):
    """The reasons a site offers, per action, numbered 1, 2, ... in order (``[reasons]``).

    Once the terminal has received the central store's reason lists, it offers those instead:
    the central store holds the one list every terminal and itself judge by.
    """

    reject: list[RejectReasonDef] | None = None
    """Reject reasons, each with its stock effect (``zero_stock``, ``remove_from_stock``,
    ``unsellable``, ``no_variance``), e.g. ``[{code = "SHORT PICK", effect = "no_variance"}]``;
    unset: the built-in reasons of ``reject_reasons``."""
    cancel_line: list[str] = Field(default_factory=lambda: list(DEFAULT_LINE_EDIT_REASONS))
    """Reasons for cancelling one line of a live order (F6)."""
    reduce_line: list[str] = Field(default_factory=lambda: list(DEFAULT_LINE_EDIT_REASONS))
    """Reasons for reducing a line's quantity (F7)."""
    cancel: list[str] = Field(default_factory=list)
    """Reasons for cancelling an order (F4); empty: no reason is asked."""
    force_cancel: list[str] = Field(default_factory=list)
    """Reasons for a force cancel (F5); empty: no reason is asked."""
    bulk_reject: list[str] = Field(default_factory=list)
    """Reasons for a bulk reject; empty: no reason is asked."""
    mandatory: list[OrderAction] = Field(default_factory=list)
    """Of ``cancel``, ``force_cancel``, ``bulk_reject``: those that must name a reason."""


class Settings(Section):
    """The whole configuration file."""

    terminal: TerminalSettings = TerminalSettings()
    codes: CodePatterns = CodePatterns()
    """Patterns that tell order IDs, locations and badges apart (per site)."""
    scan: ScanSettings = ScanSettings()
    sync: SyncSettings = SyncSettings()
    claims: ClaimSettings = ClaimSettings()
    scanners: list[ScannerSettings] = Field(default_factory=list)
    """HID scanners read through evdev (``[[scanners]]`` tables); none: keyboard-wedge only."""
    roles: dict[str, list[Permission]] = Field(default_factory=_default_roles)
    """Role name to the permissions it grants."""
    reject_reasons: list[RejectReason] = Field(default_factory=lambda: list(RejectReason))
    """The reasons offered when rejecting an item, in order."""
    sla: SlaSettings = SlaSettings()
    priority: PrioritySettings = PrioritySettings()
    worklist: WorklistSettings = WorklistSettings()
    reasons: ReasonSettings = ReasonSettings()
    """Reason codes for order modifications (``[reasons]``)."""

    def site_reasons(self) -> SiteReasons:
        """The reason lists this configuration gives (before any are received centrally)."""
        reject = self.reasons.reject
        if reject is None:
            reject = [
                RejectReasonDef(code=r.value, effect=BUILT_IN_EFFECTS[r])
                for r in self.reject_reasons
            ]
        return SiteReasons(
            reject=tuple(reject),
            cancel_line=tuple(self.reasons.cancel_line),
            reduce_line=tuple(self.reasons.reduce_line),
            cancel=tuple(self.reasons.cancel),
            force_cancel=tuple(self.reasons.force_cancel),
            bulk_reject=tuple(self.reasons.bulk_reject),
            mandatory=tuple(self.reasons.mandatory),
        )

    @model_validator(mode="after")
    def _reasons_valid(self) -> Settings:
        self.site_reasons()  # the same checks the central store's lists pass
        return self

    def permissions(self) -> dict[str, frozenset[Permission]]:
        """The role map as sets, for the domain's permission check."""
        return {role: frozenset(perms) for role, perms in self.roles.items()}


@dataclass(frozen=True)
class Paths:
    """Where this terminal's files are."""

    config_file: Path
    data_dir: Path
    log_dir: Path
    config_named: bool = False
    """The configuration file was named (``--config`` or ``PUTBACK_CONFIG``): it must exist."""

    @property
    def db_path(self) -> Path:
        """The local ledger."""
        return self.data_dir / "putback.sqlite3"


def resolve_paths(home: Path | None = None, config_file: Path | None = None) -> Paths:
    """The paths for ``home`` (or ``PUTBACK_HOME``), else the platform's directories.

    This is the one seam for config discovery: tests point it at ``tmp_path`` via the env.
    """
    env_home = os.environ.get(HOME_ENV)
    root = home or (Path(env_home) if env_home else None)
    env_config = os.environ.get(CONFIG_ENV)
    if root is not None:
        root = root.expanduser().resolve()
        paths = Paths(root / "config.toml", root / "data", root / "logs")
    else:
        paths = Paths(
            Path(platformdirs.user_config_dir(APP_NAME)) / "config.toml",
            Path(platformdirs.user_data_dir(APP_NAME)),
            Path(platformdirs.user_log_dir(APP_NAME)),
        )
    chosen = config_file or (Path(env_config) if env_config else None)
    if chosen is not None:
        paths = Paths(chosen, paths.data_dir, paths.log_dir, config_named=True)
    return paths


def load_settings(path: Path, *, must_exist: bool = False) -> Settings:
    """Read and validate the configuration; a missing file means every default.

    Args:
        path: the configuration file.
        must_exist: the file was named explicitly, so a missing file is a mistake, not defaults.

    Raises:
        ConfigError: missing (when ``must_exist``) or unreadable file, bad TOML, or an invalid
            setting (named with its path).
    """
    try:
        raw = path.read_bytes()
    except FileNotFoundError as exc:
        if must_exist:
            raise ConfigError(
                f"{path}: no such file. It was named with --config or PUTBACK_CONFIG: correct "
                "the name, or leave both out to use the default configuration file."
            ) from exc
        return Settings()
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from exc
    try:
        data = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    except RecursionError as exc:
        # tomllib parses nested arrays and inline tables recursively.
        raise ConfigError(
            f"{path}: not a putback configuration: arrays or tables nested too deeply"
        ) from exc
    try:
        return Settings.model_validate(data)
    except RecursionError as exc:
        raise ConfigError(f"{path}: values nested too deeply") from exc
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '(top)'}: {e['msg']}" for e in exc.errors()
        )
        raise ConfigError(
            f"{path}: {problems}. Correct it in the file; `putback config reference` lists "
            "every setting with its type and default."
        ) from exc


def settings_to_toml(settings: Settings, *, reveal_secrets: bool = False) -> str:
    """The settings as TOML; the token is redacted unless ``reveal_secrets``."""
    data: dict[str, Any] = settings.model_dump(mode="json", exclude_none=True)
    if not data.get("scanners"):
        # `scanners = []` would make the file refuse the [[scanners]] tables people append.
        data.pop("scanners", None)
    token = settings.sync.token
    if token is not None:
        data["sync"]["token"] = token.get_secret_value() if reveal_secrets else "********"
    return tomli_w.dumps(data)


def save_settings(path: Path, settings: Settings) -> None:
    """Write the configuration atomically, readable by its owner only (it may hold a token).

    Written through :func:`putback_tui.files.write_atomic`: a fresh exclusive temporary, never
    through a link someone planted, synced and renamed into place.

    Raises:
        ConfigError: the directory is unsafe (see :func:`path_problems`) or cannot be written.
    """
    problems = files.path_problems([path.parent], [path])
    if problems:
        raise ConfigError(f"Refusing to write {path}: {problems[0]}")
    try:
        files.make_dirs(path.parent, 0o700)
        files.write_atomic(path, settings_to_toml(settings, reveal_secrets=True).encode("utf-8"))
    except OSError as exc:
        raise ConfigError(f"Cannot write {path}: {exc.strerror or exc}") from exc


def path_problems(paths: Paths) -> list[str]:
    """What makes this terminal's files unsafe to use (another user could swap them), with fixes.

    Checks the directories of the configuration, the data and the logs, and whether the
    configuration file or the database is a link into a place another user controls.
    """
    return files.path_problems(
        [paths.config_file.parent, paths.data_dir, paths.log_dir],
        [paths.config_file, paths.db_path],
    )


def reference() -> str:
    """Every setting with its type, default and description, as Markdown.

    Generated from the models themselves, so the documentation cannot drift from the code.
    """
    out = ["| setting | type | default | what it does |", "| --- | --- | --- | --- |"]

    def walk(model: type[BaseModel], prefix: str) -> None:
        for name, info in model.model_fields.items():
            key = f"{prefix}{name}"
            kind = info.annotation
            if kind is None:
                continue
            inner = getattr(kind, "__args__", (None,))[0]
            if isinstance(kind, type) and issubclass(kind, BaseModel):
                walk(kind, f"{key}.")
                continue
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                walk(inner, f"[[{key}]].")
                continue
            raw = info.get_default(call_default_factory=True)
            default = (
                None
                if raw is PydanticUndefined
                else TypeAdapter(kind).dump_python(raw, mode="json")
            )
            if default is None:
                shown = "(required)" if raw is PydanticUndefined else "unset"
            else:
                shown = json.dumps(default, ensure_ascii=False)
            type_name = kind.__name__ if isinstance(kind, type) else str(kind)
            for noise in ("typing.", "putback_tui.", "domain.models.", "pydantic.types."):
                type_name = type_name.replace(noise, "")
            text = " ".join((info.description or "").split()).replace("|", "\\|")
            cells = (key, type_name, shown)
            out.append(
                "| " + " | ".join(f"`{c}`".replace("|", "\\|") for c in cells) + f" | {text} |"
            )

    walk(Settings, "")
    return "\n".join(out) + "\n"
