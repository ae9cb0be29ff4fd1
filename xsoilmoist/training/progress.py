"""A plain-text progress line for training (no third-party progress-bar package).

On a terminal the line is rewritten in place (at most twice a second); in a
log file one line is written every ``interval`` seconds, at every validation
and at the end.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

__all__ = ["ProgressLine"]


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"


class ProgressLine:
    """Report ``step / total``, the running loss, the validation loss, speed and ETA.

    Parameters
    ----------
    label
        What runs (``"pretrain"``, ``"finetune"``).
    total
        Number of steps.
    stream
        Where to write (default ``sys.stderr``); ``None`` or ``enabled=False``
        writes nothing.
    interval
        Seconds between lines when the stream is not a terminal.

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> line = ProgressLine("pretrain", 10, stream=out, interval=0)
    >>> line.update(10, loss=0.00123, validation=0.001, improved=True)
    >>> line.close()
    >>> out.getvalue().split()[:4]
    ['pretrain', '10/10', '[##########]', 'loss']
    """

    def __init__(
        self,
        label: str,
        total: int,
        *,
        stream: TextIO | None = None,
        enabled: bool = True,
        interval: float = 10.0,
    ) -> None:
        self.label = label
        self.total = total
        self.stream = (stream or sys.stderr) if enabled else None
        self.interval = interval
        self.start = self.last = time.perf_counter()
        self.terminal = bool(self.stream is not None and getattr(self.stream, "isatty", bool)())
        self.validation: float | None = None
        self.open_line = False

    def update(
        self,
        step: int,
        loss: float,
        validation: float | None = None,
        improved: bool = False,
    ) -> None:
        """Report progress after ``step``; ``validation`` when a validation pass just ran."""
        if self.stream is None:
            return
        now = time.perf_counter()
        if validation is not None:
            self.validation = validation
        interval = min(self.interval, 0.5) if self.terminal else self.interval
        if not (now - self.last >= interval or step == self.total or validation is not None):
            return
        self.last = now
        elapsed = now - self.start
        rate = step / elapsed if elapsed > 0 else 0.0
        eta = (self.total - step) / rate if rate > 0 else 0.0
        filled = int(10 * step / max(self.total, 1))
        text = (
            f"{self.label} {step}/{self.total} [{'#' * filled}{'-' * (10 - filled)}] "
            f"loss {loss:.3e}"
        )
        if self.validation is not None:
            text += f" val {self.validation:.3e}{' *' if improved else ''}"
        text += f" {rate:.2f} step/s eta {_duration(eta)}"
        if self.terminal:
            self.stream.write("\r" + text.ljust(100))
            self.open_line = True
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def message(self, text: str) -> None:
        """Write a line of its own (e.g. early stopping)."""
        if self.stream is None:
            return
        if self.open_line:
            self.stream.write("\n")
            self.open_line = False
        self.stream.write(f"{self.label}: {text}\n")
        self.stream.flush()

    def close(self) -> None:
        """End the line (on a terminal)."""
        if self.stream is not None and self.open_line:
            self.stream.write("\n")
            self.stream.flush()
            self.open_line = False
