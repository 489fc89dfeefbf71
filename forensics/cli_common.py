"""What every ``forensics`` command module shares: the typer app, the consoles, the one way to
fail, the store, and progress for long runs (a bar on a terminal, plain lines elsewhere).

Command modules import from here, never from each other, so the CLI has no import cycles:
``forensics.cli`` imports the command modules, which import this.
"""

from __future__ import annotations

import time
from types import TracebackType
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from forensics.errors import ExitCode
from forensics.settings import Settings

app = typer.Typer(
    help="Document forensics for proof-of-purchase uploads: OCR, fields, templated forgeries, "
    "reused serials. Configuration comes from FORENSICS_* environment variables (see README).",
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,
)

#: width of tables when the output is not a terminal (files, CI logs): wide enough for records
PIPE_WIDTH = 160
console = Console(width=None if Console().is_terminal else PIPE_WIDTH)
err = Console(stderr=True, width=None if Console(stderr=True).is_terminal else PIPE_WIDTH)

#: off a terminal, a progress line at least every this many rows ...
PROGRESS_EVERY_ROWS = 25
#: ... or every this many seconds, whichever comes first
PROGRESS_EVERY_SECONDS = 10.0


def open_store(settings: Settings):  # noqa: ANN201
    """The evidence store of ``settings`` (migrated to the newest schema)."""
    from forensics.store import Store

    return Store(settings.database_url)


def fail(message: str, code: ExitCode) -> NoReturn:
    """Print one line on standard error and exit with ``code`` (no traceback)."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True)
    raise typer.Exit(int(code))


class BatchProgress:
    """Progress of a batch: a rich bar on a terminal; off a terminal (a log file, CI, a pipe),
    a plain line every :data:`PROGRESS_EVERY_ROWS` rows or :data:`PROGRESS_EVERY_SECONDS`
    seconds with done, failed, rate and ETA, so a long run never looks stuck."""

    def __init__(self, description: str, total: int, *, console: Console = err,
                 every_rows: int = PROGRESS_EVERY_ROWS, every_seconds: float = PROGRESS_EVERY_SECONDS) -> None:
        self.description = description
        self.total = total
        self.console = console
        self.every_rows = every_rows
        self.every_seconds = every_seconds
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last_line = (0, self.started)
        self._bar: Progress | None = None
        self._task: Any = None
        if console.is_terminal:
            self._bar = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), TextColumn("{task.fields[note]}"),
                console=console, transient=False,
            )

    def __enter__(self) -> BatchProgress:
        if self._bar is not None:
            self._bar.__enter__()
            self._task = self._bar.add_task(self.description, total=self.total, note="")
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._bar is not None:
            self._bar.__exit__(exc_type, exc, tb)
        elif self.done and self._last_line[0] != self.done:
            self._line()

    def note(self, text: str) -> None:
        """What is being worked on now (shown on the bar only)."""
        if self._bar is not None:
            self._bar.update(self._task, note=escape(text))

    def advance(self, *, failed: bool = False) -> None:
        """One more row done (``failed`` when it ended as a failure of any kind)."""
        self.done += 1
        self.failed += int(failed)
        if self._bar is not None:
            self._bar.advance(self._task)
            return
        rows, at = self._last_line
        now = time.monotonic()
        if self.done - rows >= self.every_rows or now - at >= self.every_seconds or self.done == self.total:
            self._line()

    def _line(self) -> None:
        now = time.monotonic()
        elapsed = max(now - self.started, 1e-9)
        rate = self.done / elapsed
        left = self.total - self.done
        eta = f"{left / rate:.0f}s" if rate > 0 and left else "0s"
        self.console.print(f"{self.description}: {self.done}/{self.total} done, {self.failed} failed, "
                           f"{rate:.2f} rows/s, elapsed {elapsed:.0f}s, eta {eta}", highlight=False)
        self._last_line = (self.done, now)
