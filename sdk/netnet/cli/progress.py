"""How an import shows how far it has got. In a terminal: a live bar with the percent, the
records sent, records per second and the time taken. In a pipe or a file, where a redrawn bar
would be noise: a plain line at every tenth of the way (at least every QUIET seconds) and at
the end."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column
from rich.text import Text

STEP = 10  # percent between two plain lines
QUIET = 15.0  # seconds at most without a plain line, however slow the import


class RateColumn(ProgressColumn):
    """Records per second."""

    def __init__(self) -> None:
        super().__init__(Column(no_wrap=True))

    def render(self, task: Task) -> Text:
        speed = task.finished_speed or task.speed
        return Text(
            f"{speed:,.0f} records/s" if speed else "- records/s", style="progress.data.speed"
        )


@contextmanager
def import_progress(
    description: str, total: int, console: Console, indent: int = 0
) -> Iterator[Callable[[int], None]]:
    """Shows an import of `total` records on `console`; yields advance(n), to call as n more
    records are sent. The end is shown when the block completes (not when it raises)."""
    if console.is_terminal and not console.is_dumb_terminal:
        with Progress(
            TextColumn(" " * indent + "importing {task.description}", markup=False),
            BarColumn(bar_width=None),
            TaskProgressColumn(),
            MofNCompleteColumn(),
            RateColumn(),
            TimeElapsedColumn(),
            console=console,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)
        return
    lines = _Lines(" " * indent + f"importing {description}", total, console)
    yield lines.advance
    lines.say()


class _Lines:
    def __init__(self, label: str, total: int, console: Console) -> None:
        self.label, self.total, self.console = label, total, console
        self.done = self.steps = 0
        self.started = self.said = time.monotonic()

    def advance(self, n: int) -> None:
        self.done += n
        steps = self.done * 100 // (self.total * STEP) if self.total else 0
        if (steps > self.steps and self.done < self.total) or time.monotonic() - self.said > QUIET:
            self.steps = steps
            self.say()

    def say(self) -> None:
        self.said = time.monotonic()
        elapsed = self.said - self.started
        rate = f"{self.done / elapsed:,.0f}" if elapsed > 0 else "-"
        percent = f" ({self.done * 100 // self.total}%)" if self.total else ""
        self.console.print(
            f"{self.label}: {self.done:,}/{self.total:,}{percent}, {rate} records/s, "
            f"{timedelta(seconds=int(elapsed))}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
