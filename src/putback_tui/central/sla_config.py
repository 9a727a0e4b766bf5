"""The SLA clocks and score weights the central store's backlog judges waiting orders by.

Read from a TOML file's ``[sla]`` and ``[priority]`` sections, the same shape as a terminal's
``config.toml`` (a terminal's file can be given as it is: its other sections are ignored), so
the dashboard and the terminals rank orders alike. No file: the built-in defaults.
"""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from putback_tui.domain.sla import PrioritySettings, SlaSettings


class SlaConfigError(Exception):
    """The file cannot be read or its ``[sla]`` / ``[priority]`` is invalid (names the key)."""


def load_sla_config(path: Path | None) -> tuple[SlaSettings, PrioritySettings]:
    """The ``[sla]`` and ``[priority]`` sections of ``path`` (None: the defaults).

    Raises:
        SlaConfigError: unreadable file, bad TOML, or a bad value (named with its key).
    """
    if path is None:
        return SlaSettings(), PrioritySettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise SlaConfigError(f"cannot read {path}: {exc}") from None
    section = "sla"
    try:
        sla = SlaSettings.model_validate(data.get("sla", {}))
        section = "priority"
        priority = PrioritySettings.model_validate(data.get("priority", {}))
    except ValidationError as exc:
        e = exc.errors(include_url=False)[0]
        key = ".".join(str(p) for p in (section, *e["loc"]))
        raise SlaConfigError(f"{path}: {key}: {e['msg']}") from None
    return sla, priority
