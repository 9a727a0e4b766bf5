"""The structured log: JSON lines in the log directory, rotated, with secrets redacted.

The lines are written by a thread of their own (:class:`LogWriter`), off the thread that logs:
an action's thread hands its record over and goes on.
"""

from __future__ import annotations

import json
import logging
import logging.handlers
import os
import re
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from pathlib import Path

from putback_tui.files import make_dirs

LOG_NAME = "putback.log"
MAX_BYTES = 2_000_000
BACKUPS = 5
MAX_PENDING = 10_000
"""Lines handed over and not yet written past which the logging thread waits for the writer."""
LINGER = 0.05
"""Seconds the log's writer waits for more lines after the first of a run (then writes them)."""

_BEARER = re.compile(r"(?i)(bearer\s+|token[\"']?\s*[:=]\s*[\"']?)[A-Za-z0-9._~+/=-]{6,}")
_STANDARD = set(logging.LogRecord("", 0, "", 0, "", None, None).__dict__) | {"message"}
_PLAIN = (int, float, bool, type(None))
"""Extra fields written as they are (anything else as its ``str``)."""
_VALUES = frozenset({str, int, float, bool, type(None)})
"""Message arguments a record may carry to the writer unformatted (they cannot change)."""
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


class LogWriter(logging.Handler):
    """Hands each record to a thread of its own, which writes it through ``target``.

    The thread that logs (an action's, right after its commit) only appends the record to a
    queue: the redaction, the JSON and the write happen in the writer, in the order the records
    were handed over. A record's message arguments that are not plain values (str, int, float,
    bool, None) are formatted before it is handed over, and so are extra fields that are not
    plain values (as their ``str``, what the line would show), so a line says what was true when
    it was logged. ``created`` is the moment of the call, as always.

    The writer is woken by the first record of an empty queue and writes what came within
    ``linger`` seconds after it in one go: one wake-up of the thread for a run of actions, none
    while nothing is logged. Nothing is dropped. A warning or worse is written before the call
    returns (the writer catches up first); when ``max_pending`` records wait, the logging thread
    waits until the writer has caught up. :meth:`flush` waits until every record handed over is
    written; :meth:`close` (also run by :func:`logging.shutdown` at the interpreter's exit)
    writes what is left and stops the thread. A forked child starts a writer of its own on its
    first record (its parent writes what the parent had handed over).

    Args:
        target: the handler that writes (its filters and formatter apply, in the writer).
        max_pending: records waiting past which the logging thread waits for the writer.
        linger: how long the writer waits for more after the first record of a run.
    """

    def __init__(
        self, target: logging.Handler, max_pending: int = MAX_PENDING, linger: float = LINGER
    ) -> None:
        super().__init__()
        self.target = target
        self.max_pending = max_pending
        self.linger = linger
        self._closed = False
        self._detached = False
        """Taken off the ``putback`` logger by :func:`close`."""
        self._forked()
        _WRITERS.add(self)

    def _forked(self) -> None:
        # Also in a forked child: the parent's thread is not here, and the parent writes what
        # it had handed over.
        self._pending: deque[_Item] = deque()
        self._wake = threading.Event()
        """Set when something was handed over since the writer last looked (or someone waits)."""
        self._hurry = threading.Event()
        """Set when someone waits for the writer: it lingers no more."""
        self._thread: threading.Thread | None = None
        self._ident: int | None = None
        """The writer thread's, whose own records are written at once."""

    def _start(self) -> None:
        with self.lock:  # type: ignore[union-attr]  # made by Handler.__init__
            if self._thread is None:
                # A daemon: the interpreter's exit waits for no thread before logging.shutdown
                # runs, which closes this handler (writing what is left) and so the thread.
                thread = threading.Thread(target=self._run, name="putback-log", daemon=True)
                thread.start()
                self._thread = thread
                self._ident = thread.ident

    def _run(self) -> None:
        pending, wake, hurry = self._pending, self._wake, self._hurry
        while True:
            wake.wait()
            wake.clear()
            hurry.wait(self.linger)
            hurry.clear()
            while pending:  # every record appended until the queue is empty, then wait again
                if not self._write(pending.popleft()):
                    return

    def _write(self, item: _Item) -> bool:
        """Write one record handed over (or answer a flush); False at the end of the queue."""
        if item is None:
            return False
        if isinstance(item, threading.Event):
            item.set()
            return True
        if isinstance(item, tuple):  # a call of later(): its record, made here, goes the usual
            # way (every handler of its logger, this one writing it at once in this thread)
            created, logger, level, msg, args, extra = item
            record = logger.makeRecord(logger.name, level, "(unknown file)", 0, msg, args,
                                       None, None, extra)
            record.created = created
            record.msecs = int((created - int(created)) * 1000) + 0.0
            item = record
            # Taken off its logger (logs.close): to this writer's file, which it was handed.
            handle: Callable[[logging.LogRecord], object] = (
                self.target.handle if self._detached else logger.handle
            )
        else:
            handle = self.target.handle
        try:
            handle(item)
        except Exception:  # the writer must outlive any one record
            self.handleError(item)
        return True

    def later(self, created: float, logger: logging.Logger, level: int, msg: str,
              args: tuple[object, ...], extra: dict[str, object] | None) -> None:
        """Hand over a log call: the writer makes its record and logs it (see :func:`later`)."""
        self._enqueue((created, logger, level, msg, args, extra), wait=False)

    def _enqueue(self, item: _Item, wait: bool) -> None:
        """Hand ``item`` to the writer (started on the first one).

        Waits for the writer when ``wait``, or when ``max_pending`` items are waiting.
        """
        if self._thread is None:
            self._start()
        self._hand_over(item, hurry=False)
        if wait or len(self._pending) >= self.max_pending:
            self.flush()

    def _hand_over(self, item: _Item, hurry: bool) -> None:
        pending = self._pending
        pending.append(item)
        if hurry:
            self._hurry.set()
            self._wake.set()
        elif not self._wake.is_set():
            # Not "the queue was empty" (len == 1): two threads appending at once would both
            # see 2, neither wake the writer, and lines would wait for the next warning. A
            # redundant set costs the writer one more round; a missed one, the log.
            self._wake.set()

    def handle(self, record: logging.LogRecord) -> bool:
        """Hand ``record`` over (no lock: appending to the queue is atomic); see :meth:`emit`."""
        if self.filters and not self.filter(record):
            return False
        self.emit(record)
        return True

    def emit(self, record: logging.LogRecord) -> None:
        """Hand ``record`` to the writer; wait for it when it is a warning or worse, or busy."""
        if self._closed or threading.get_ident() == self._ident:
            # A line after the interpreter's logging.shutdown, or of a call of later() whose
            # record the writer made: written here.
            self.target.handle(record)
            return
        args = record.args
        if args and (type(args) is not tuple or not _VALUES.issuperset(map(type, args))):
            record.msg = record.getMessage()
            record.args = None
        fields = record.__dict__
        for key in fields.keys() - _STANDARD:
            value = fields[key]
            if not isinstance(value, _PLAIN) and not key.startswith("_"):
                fields[key] = str(value)  # what JsonFormatter writes of it
        self._enqueue(record, wait=record.levelno >= logging.WARNING)

    def flush(self) -> None:
        """Wait until every record handed over so far is written (and the file flushed)."""
        if self._thread is None or self._thread is threading.current_thread():
            return
        done = threading.Event()
        self._hand_over(done, hurry=True)
        done.wait()

    def close(self) -> None:
        """Write what is left, stop the writer and close ``target``."""
        thread = self._thread
        if not self._closed:
            self._closed = True
            if thread is not None and thread is not threading.current_thread():
                self._hand_over(None, hurry=True)
                thread.join()
            self._thread = None
            while self._pending:  # what another thread handed over meanwhile, after the end
                self._write(self._pending.popleft())
            self.target.close()
        super().close()


_Item = (
    logging.LogRecord
    | tuple[float, logging.Logger, int, str, tuple[object, ...], dict[str, object] | None]
    | threading.Event
    | None
)
"""What the writer's queue holds: a record, a call of :func:`later`, a flush, the end."""
_WRITERS: weakref.WeakSet[LogWriter] = weakref.WeakSet()
_active: LogWriter | None = None
"""The writer :func:`configure` started (:func:`later` hands it its calls)."""


def _before_fork() -> None:
    # The lines logged before the fork reach the file before any of the child's.
    for writer in list(_WRITERS):
        if not writer._closed:
            writer.flush()


def _after_fork() -> None:
    for writer in list(_WRITERS):
        writer._forked()


os.register_at_fork(before=_before_fork, after_in_child=_after_fork)


def configure(log_dir: Path, *, secrets: Iterable[str] = (), level: int = logging.INFO) -> Path:
    """Send the ``putback`` loggers to a rotated JSON-lines file in ``log_dir``.

    The lines are written by a thread of their own (:class:`LogWriter`): :func:`flush` waits
    for them, :func:`close` (or the interpreter's exit) writes the last.

    Returns:
        The log file's path. Calling again replaces the handler (no duplicate lines).
    """
    make_dirs(log_dir)
    path = log_dir / LOG_NAME
    close()
    target = RotatingLog(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    target.addFilter(RedactingFilter(secrets))
    target.setFormatter(JsonFormatter())
    # Made after its target, so logging.shutdown (last made, first closed) closes it first.
    attach(LogWriter(target), level)
    return path


def attach(writer: LogWriter, level: int = logging.INFO) -> None:
    """Send the ``putback`` loggers through ``writer``, in place of the one configured before.

    :func:`configure` does it with a writer to the rotated file; :func:`close` takes it off.
    """
    close()
    writer._putback = True  # type: ignore[attr-defined]  # marks our handler for replacement
    logger = logging.getLogger("putback")
    logger.addHandler(writer)
    logger.setLevel(level)
    global _active
    _active = writer


def later(
    logger: logging.Logger, level: int, msg: str, *args: object,
    extra: dict[str, object] | None = None,
) -> None:
    """``logger.log(level, msg, *args, extra=extra)``, with the record made by the log's writer.

    For a line logged at every action (the ledger entry's): the calling thread takes the time
    and hands the call over; the writer :func:`configure` started makes the record, with that
    time as its ``created``, and logs it through ``logger``'s handlers. Its source file, line
    and thread are the writer's (the JSON line shows none of them). A warning or worse, values
    that are not plain (str, int, float, bool, None), or no writer: logged here, as
    ``logger.log`` does. Nothing is logged when ``logger`` is not enabled for ``level``.
    """
    if not logger.isEnabledFor(level):
        return
    writer = _active
    if (
        writer is None
        or writer._closed
        or level >= logging.WARNING
        or not _VALUES.issuperset(map(type, args))
        or (extra is not None and not _VALUES.issuperset(map(type, extra.values())))
    ):
        logger.log(level, msg, *args, extra=extra)
        return
    writer.later(time.time(), logger, level, msg, args, extra)


def _ours() -> list[logging.Handler]:
    return [h for h in logging.getLogger("putback").handlers if getattr(h, "_putback", False)]


def flush() -> None:
    """Wait until every line logged so far is in the file :func:`configure` opened."""
    for handler in _ours():
        handler.flush()


def close() -> None:
    """Stop sending the ``putback`` loggers to the file :func:`configure` opened, and close it.

    Every line logged before is written first.
    """
    global _active
    _active = None
    logger = logging.getLogger("putback")
    for old in _ours():
        old.flush()  # the calls of later() handed over, through the logger's handlers
        if isinstance(old, LogWriter):
            old._detached = True
        logger.removeHandler(old)
        old.close()


def tail(log_dir: Path, lines: int = 50) -> list[str]:
    """The last ``lines`` lines of the current log file (empty when there is none).

    Lines this process logged are written first (:func:`flush`).
    """
    flush()
    path = log_dir / LOG_NAME
    if not path.exists():
        return []
    with path.open(encoding="utf-8", errors="replace") as f:
        return [line.rstrip("\n") for line in deque(f, maxlen=lines)]
