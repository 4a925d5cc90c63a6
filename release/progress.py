"""Progress on stderr, fitted to the terminal: the composite run's log (`RunLog`), the copy bar, the one-line
progress of `ci.read`, and the per-engine board of `images.build`. The displays (release/display.py) use them;
like them, nothing below `tasks.py` imports this module.
"""

from __future__ import annotations

import sys
import threading
from contextlib import ExitStack
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import IO, Any

from release import fsio
from release.cli import fit, progress

Exc = type[BaseException] | BaseException | TracebackType | None


class RunLog:
    """The progress of a composite run: every line in full in a log file (`release_logs/run_logs/`), and on stderr
    each line fitted to the terminal, so that no message runs over one line; a dry run keeps no log.

    Use as a context manager around the run; calling it writes one progress message (thread-safe)."""

    def __init__(self, path: Path | None, *, stream: IO[str] | None = None, width: int | None = None) -> None:
        self.path = path
        self._stream = stream
        self._width = width
        self._fh: IO[str] | None = None
        self._stack = ExitStack()
        self._lock = threading.Lock()

    @staticmethod
    def path_for(release_logs: Path, command: str, version: str) -> Path:
        stamp = datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S")
        return Path(release_logs) / "run_logs" / f"{command}_v{version}_{stamp}.log"

    def __enter__(self) -> RunLog:
        if self.path is not None:
            self._fh = self._stack.enter_context(fsio.open_log(self.path))
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        self._fh = None
        self._stack.close()

    def __call__(self, text: str) -> None:
        with self._lock:
            self.write(text)
            stream = self._stream or sys.stderr
            for line in text.splitlines() or [""]:
                print(fit(line, self._width), file=stream, flush=True)

    def write(self, text: str) -> None:
        """Into the log only (e.g. the end table with every result whole)."""
        if self._fh is not None:
            self._fh.write(text + "\n")
            self._fh.flush()


class CopyProgress:
    """A progress bar on stderr for image copies, fed by `on_event` callbacks (thread-safe).

    On a terminal it redraws one line; otherwise (CI logs) it prints one line per finished image. With `total`
    None the copies are not known in advance (planned and copied as a pipeline): each started copy counts.
    """

    def __init__(self, total: int | None, *, stream: Any = None) -> None:
        self._grows = total is None
        self.total = total or 0
        self.done = 0
        self.failed = 0
        self.blobs = 0
        self.uploaded = 0
        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._lock = threading.Lock()

    def __call__(self, event: dict[str, Any]) -> None:
        with self._lock:
            kind = event.get("event")
            if kind == "start" and self._grows:
                self.total += 1
            elif kind == "blob":
                self.blobs += 1
                if event.get("how") == "uploaded":
                    self.uploaded += int(event.get("size", 0))
            elif kind in ("done", "failed"):
                self.done += 1
                self.failed += kind == "failed"
                if not self._tty:  # the image by its repository's last part and tag; the summary has it whole
                    what = "copied" if kind == "done" else "FAILED"
                    name = str(event.get("dst")).rsplit("/", 1)[-1]
                    print(f"[{self.done}/{self.total}] {what} {name}", file=self._stream, flush=True)
                    if kind == "failed":
                        print(fit(f"  {event.get('error')}"), file=self._stream, flush=True)
            if self._tty:
                self._draw()

    def _draw(self) -> None:
        width = 30
        filled = width * self.done // max(1, self.total)
        bar = "#" * filled + "-" * (width - filled)
        mb = self.uploaded / (1024 * 1024)
        text = f"\r[{bar}] {self.done}/{self.total} images, {self.blobs} blobs, {mb:.1f} MB uploaded"
        if self.failed:
            text += f", {self.failed} failed"
        print(text, end="", file=self._stream, flush=True)

    def close(self) -> None:
        if self._tty and self.total:
            print(file=self._stream, flush=True)


class ProgressLine:
    """A progress line on stderr: rewritten in place on a terminal, a line every few seconds otherwise.

    `update(text)` is safe to call from worker threads. On a terminal the line follows every update (at most
    every `interval`); in logs a line is written at most every `plain_interval`, plus the first and the last
    line of each `stage`; `important=True` (e.g. a rate-limit wait) always shows.
    """

    def __init__(self, *, stream: Any = None, interval: float = 0.1, plain_interval: float = 5.0) -> None:
        import time

        self._stream = stream or sys.stderr
        self._tty = bool(getattr(self._stream, "isatty", lambda: False)())
        self._interval = interval if self._tty else plain_interval
        self._last = 0.0
        self._stage: str | None = None
        self._pending: str | None = None  # the latest line not written yet
        self._width = 0
        self._lock = threading.Lock()
        self._clock = time.monotonic

    def update(self, text: str | None, *, important: bool = False, stage: str | None = None) -> None:
        if text is None:
            return
        with self._lock:
            now = self._clock()
            new_stage = stage is not None and stage != self._stage
            if new_stage and self._pending is not None and not self._tty:
                self._write(self._pending)  # how the previous stage ended
            if stage is not None:
                self._stage = stage
            if not (important or new_stage) and now - self._last < self._interval:
                self._pending = text
                return
            self._last = now
            self._write(text)

    def _write(self, text: str) -> None:
        text = fit(text)
        if self._tty:
            pad = max(self._width - len(text), 0)
            self._stream.write("\r" + text + " " * pad)
            self._width = len(text)
        else:
            self._stream.write(text + "\n")
        self._stream.flush()
        self._pending = None

    def done(self) -> None:
        with self._lock:
            if not self._tty and self._pending is not None:
                self._write(self._pending)
            if self._tty and self._width:
                self._stream.write("\r" + " " * self._width + "\r")
                self._stream.flush()
                self._width = 0


class BuildProgress:
    """Build events on stderr: a live per-engine board on a terminal, one line per event otherwise."""

    def __init__(self, engines: list[str]) -> None:
        from release.build import report

        self._report = report
        self._board = report.ProgressBoard(engines)
        self._lock = threading.Lock()
        self._live = sys.stderr.isatty()
        self._shown = 0

    def __call__(self, event: Any) -> None:
        with self._lock:
            keep = self._board.update(event)
            if not self._live:
                line = self._report.progress_line(event)
                if line is not None:
                    progress(line)
                return
            block = self._board.lines()
            clear = f"\x1b[{self._shown}F\x1b[J" if self._shown else ""
            sys.stderr.write(clear + (keep + "\n" if keep else "") + "\n".join(block) + "\n")
            sys.stderr.flush()
            self._shown = len(block)
