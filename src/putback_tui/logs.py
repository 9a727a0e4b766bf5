"""The structured log: JSON lines in the log directory, rotated, with secrets redacted."""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
from collections import deque
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path

from putback_tui.files import make_dirs

LOG_NAME = "putback.log"
MAX_BYTES = 2_000_000
BACKUPS = 5

_BEARER = re.compile(r"(?i)(bearer\s+|token[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]{6,}")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
_PLAIN = (int, float, bool, type(None))
"""Extra fields written as they are (anything else as its ``str``)."""
_ENCODER = json.JSONEncoder(ensure_ascii=False)
"""``json.dumps(..., ensure_ascii=False)`` without a new encoder a line (what ``json.dumps``
makes for every call with an argument of its own)."""


class RedactingFilter(logging.Filter):
    """Blanks out the configured secrets and anything shaped like a bearer token."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self._secrets = [s for s in secrets if s]

    def redact(self, text: str) -> str:
        """The text with every secret replaced by ``***``."""
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return _BEARER.sub(lambda m: m.group(1) + "***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        """Redact the message and every extra field in place; never drops a record."""
        record.msg = self.redact(record.getMessage())
        record.args = None
        for key, value in list(record.__dict__.items()):
            if key not in _STANDARD and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC), level, logger, message and any extra fields."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a JSON line."""
        data: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": record.getMessage(),
        }
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                data[key] = value if isinstance(value, _PLAIN) else str(value)
        if record.exc_info:
            data["exc"] = self.formatException(record.exc_info)
        return _ENCODER.encode(data)


class RotatingLog(logging.handlers.RotatingFileHandler):
    """The stdlib's rotating file handler, formatting each record once and never ``stat``-ing.

    The stdlib's formats every record twice (once to see whether it fits, once to write it) and
    checks the file twice a record (two ``stat``); the terminal writes a line for every entry.
    The same lines, rotated at the same size: the file's end is where the record would land
    (one ``lseek``), and only a rotation checks the file is a regular one (bpo-45401).
    """

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record, rotating the file first when the line would take it past the size."""
        try:
            line = self.format(record) + self.terminator
            if self.stream is None:
                self.stream = self._open()
            if self.maxBytes > 0 and self.stream.seek(0, 2) + len(line) >= self.maxBytes:
                path = self.baseFilename
                if os.path.isfile(path) or not os.path.exists(path):
                    self.doRollover()
                    if self.stream is None:
                        self.stream = self._open()
            self.stream.write(line)
            self.flush()
        except RecursionError:
            raise
        except Exception:
            self.handleError(record)


def configure(log_dir: Path, *, secrets: Iterable[str] = (), level: int = logging.INFO) -> Path:
    """Send the ``putback`` loggers to a rotated JSON-lines file in ``log_dir``.

    Returns:
        The log file's path. Calling again replaces the handler (no duplicate lines).
    """
    make_dirs(log_dir)
    path = log_dir / LOG_NAME
    logger = logging.getLogger("putback")
    close()
    handler = RotatingLog(
        path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8"
    )
    handler._putback = True  # type: ignore[attr-defined]  # marks our handler for replacement
    handler.addFilter(RedactingFilter(secrets))
    handler.setFormatter(JsonFormatter())
    logger.addHandler(handler)
    logger.setLevel(level)
    return path


def close() -> None:
    """Stop sending the ``putback`` loggers to the file :func:`configure` opened, and close it."""
    logger = logging.getLogger("putback")
    for old in [h for h in logger.handlers if getattr(h, "_putback", False)]:
        logger.removeHandler(old)
        old.close()


def tail(log_dir: Path, lines: int = 50) -> list[str]:
    """The last ``lines`` lines of the current log file (empty when there is none)."""
    path = log_dir / LOG_NAME
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in deque(f, maxlen=lines)]
