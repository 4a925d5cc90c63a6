"""Helpers for the task layer only: error → exit code, progress lines, JSON output.

Nothing below `tasks.py` imports this module.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shlex
import shutil
import sys
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any, ClassVar, TypeVar

import invoke
from invoke.exceptions import Exit, ParseError
from invoke.parser import Argument
from invoke.parser.context import to_flag
from invoke.tasks import Task

from release import runlock
from release.config import Config, at_least
from release.errors import ConfigError, ReleaseError
from release.redact import install_log_redaction, redact_text

F = TypeVar("F", bound=Callable[..., Any])


def release_task(fn: F | None = None, *, read_only: bool = False) -> Any:
    """Turn a ReleaseError into one line on stderr and its exit code. Other exceptions keep their traceback.

    A task that writes holds the checkout's run lock (release/runlock.py) for its whole run, so two kit processes
    never write in one checkout at once (a second one exits 4, naming the holder). A `--dry-run` (or an `--undo`
    without `--apply`) takes no lock: it writes nothing, so a plan can be looked at while a release runs.
    `@release_task(read_only=True)` marks a task that never writes (it never takes the lock)."""

    def decorate(body: F) -> F:
        @functools.wraps(body)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            _configure_logging()
            try:
                with _run_lock(read_only or _plans_only(kwargs)):
                    return body(*args, **kwargs)
            except ReleaseError as e:
                raise Exit(f"error: {redact_text(str(e))}", code=e.exit_code) from None
            except KeyboardInterrupt:
                raise Exit("interrupted: run the same command again to continue where it stopped", code=130) from None

        wrapper.read_only = read_only  # type: ignore[attr-defined]  # tests/test_tasks.py: writing tasks have -n
        return wrapper  # type: ignore[return-value]

    return decorate(fn) if fn is not None else decorate


def _plans_only(kwargs: dict[str, Any]) -> bool:
    """`--dry-run`, or `--undo` without `--apply`: the task writes nothing."""
    return bool(kwargs.get("dry_run")) or bool(kwargs.get("undo") and not kwargs.get("apply"))


def _run_lock(skip: bool) -> AbstractContextManager[None]:
    if skip:
        return nullcontext()
    command = " ".join(["inv", *(shlex.quote(a) for a in sys.argv[1:])])
    return runlock.hold(runlock.lock_path(load_config().release_logs), command=command)


def _configure_logging() -> None:
    level = os.environ.get("RELEASE_LOG_LEVEL", "WARNING").upper()
    logging.basicConfig(level=getattr(logging, level, logging.WARNING), format="%(levelname)s %(name)s: %(message)s")
    if level != "DEBUG":  # urllib3 retries are reported by the kit's own progress lines
        logging.getLogger("urllib3").setLevel(logging.ERROR)
    install_log_redaction()  # at DEBUG urllib3 logs request lines: no signed query string may show


def load_config(**overrides: Any) -> Config:
    """Settings for this invocation: release.toml next to tasks.py, the environment, then the flags."""
    root = Path(os.environ.get("RELEASE_REPO_ROOT", Path.cwd()))
    cfg = Config.from_env(os.environ, path=root / "release.toml", repo_root=root)
    return cfg.with_overrides(**overrides)


def whole_number(value: object, flag: str, *, minimum: int | None = None) -> int:
    """A number flag given as text (one without an int default, e.g. `--run-id`), checked: ConfigError if not."""
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ConfigError(f"{flag}: {value!r} is not a whole number") from None
    return at_least(number, minimum, flag) if minimum is not None else number


def shown(cfg: Config, path: Path) -> str:
    """A path as the user wants to read it: relative to the checkout when inside it."""
    try:
        return str(Path(path).relative_to(cfg.repo_root))
    except ValueError:
        return str(path)


def write_step_summary(markdown: str) -> None:
    """Append to $GITHUB_STEP_SUMMARY when running in GitHub Actions (a file GitHub renders on the run page)."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if target:
        try:
            with open(target, "a", encoding="utf-8") as fh:
                fh.write(markdown + "\n")
        except OSError as e:  # a summary page is not worth failing a release for
            progress(f"warning: GITHUB_STEP_SUMMARY={target}: cannot append to it ({e.strerror or type(e).__name__})")


def say(text: str = "") -> None:
    print(text, flush=True)


def progress(text: str) -> None:
    """A progress line on stderr (kept off stdout so `--json` output stays clean), each line fitted to the
    terminal's width."""
    for line in text.splitlines() or [""]:
        print(fit(line), file=sys.stderr, flush=True)


def terminal_width() -> int:
    """The terminal's width (COLUMNS wins); 100 when the output is not a terminal (CI logs, pipes)."""
    return shutil.get_terminal_size((100, 24)).columns


def fit(line: str, width: int | None = None) -> str:
    """One line cut to the terminal's width, ending with `…` when cut."""
    width = width or terminal_width()
    return line if len(line) <= width else line[: max(width - 1, 1)] + "…"


def print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False), flush=True)


# ------------------------------------------------------------------------------------------ command-line parsing
#
# invoke parses the command line before any task runs, and reports its own errors (an unknown flag, a flag
# without its value, a missing positional) with exit code 1, or, for a bad number, with a ValueError traceback.
# The kit's tasks use `task` below (invoke's decorator with `ReleaseTask`), whose arguments turn a bad number into
# a ParseError naming the flag, and `route_parse_errors` makes every ParseError the kit's `error:` line, exit 2.


class KitArgument(Argument):
    """An invoke Argument that names itself as the user typed it (`--max-runs`) in invoke's parse errors."""

    def __repr__(self) -> str:
        return to_flag(self.name or "") if not self.positional else (self.name or "").upper()

    def set_value(self, value: Any, cast: bool = True) -> None:
        # invoke hands a positional argument any token it does not know, `--help` included
        if self.positional and isinstance(value, str) and value.startswith("-"):
            raise ParseError(f"{self!r}: got {value!r}, a flag this task does not know (help: `inv --help TASK`)")
        super().set_value(value, cast=cast)


class _NumberArgument(KitArgument):
    """An int flag: a value that is not a whole number is a ParseError naming the flag, not a traceback."""

    def set_value(self, value: Any, cast: bool = True) -> None:
        try:
            super().set_value(value, cast=cast)
        except ValueError:
            raise ParseError(f"{self!r}: {value!r} is not a whole number") from None


class _PositionalUnlessFlag(KitArgument):
    """A positional argument that is not required when a sibling flag (e.g. --output-only) is given."""

    unless: Argument

    @property
    def value(self) -> Any:
        if self._value is None and self.unless.value:
            return ""
        return self._value if self._value is not None else self.default

    @value.setter
    def value(self, arg: str) -> None:
        self.set_value(arg, cast=True)


# The only short flags, each the same flag in every task: invoke would otherwise give each flag the first free
# letter of its name, so `-d` was --dev in one task and --dry-run in another. `-n` is a dry run, as for make, git
# and rsync; every other flag is long only.
SHORT_FLAGS = {"dry_run": "n"}


class ReleaseTask(Task):
    """The kit's invoke Task: its arguments are `KitArgument`s (int flags: `_NumberArgument`), and its only short
    flags are those of `SHORT_FLAGS`."""

    def arg_opts(self, name: str, default: str, taken_names: set[str]) -> dict[str, Any]:
        opts = super().arg_opts(name, default, taken_names)
        short = SHORT_FLAGS.get(name)
        opts["names"] = [opts["names"][0], *([short] if short else [])]
        return opts

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        args = super().get_arguments(ignore_unknown_help=ignore_unknown_help)
        for arg in args:
            if type(arg) is Argument:
                arg.__class__ = _NumberArgument if arg.kind is int else KitArgument
        return args


def task(*args: Any, **kwargs: Any) -> Any:
    """invoke's `@task`, making a `ReleaseTask` unless `klass` says otherwise."""
    kwargs.setdefault("klass", ReleaseTask)
    return invoke.task(*args, **kwargs)


class OptionalPositionalTask(ReleaseTask):
    """A Task whose first positional argument may be left out when the flag named in `optional_unless` is set.

    Lets `inv spec.update LAST_GOOD_JSON` and `inv spec.update --output-only` share one task.
    """

    optional_unless: ClassVar[dict[str, str]] = {}

    def get_arguments(self, ignore_unknown_help: bool | None = None) -> list[Argument]:
        args = super().get_arguments(ignore_unknown_help=ignore_unknown_help)
        by_name = {a.name: a for a in args}
        for positional, flag in self.optional_unless.items():
            arg = by_name[positional]
            arg.__class__ = _PositionalUnlessFlag
            arg.unless = by_name[flag]  # type: ignore[attr-defined]
        return args


def optional_positional(positional: str, *, unless: str) -> type[OptionalPositionalTask]:
    return type("OptionalPositional", (OptionalPositionalTask,), {"optional_unless": {positional: unless}})


def route_parse_errors() -> None:
    """Make invoke's own command-line errors the kit's: `error: <one line>` on stderr and exit code 2.

    `inv`, `invoke` and `python -m invoke` all run the one Program in `invoke.main`. It imports tasks.py (which
    calls this) before it parses the task flags, and prints any ParseError itself with exit code 1. This wraps that
    Program's two parse steps so that a ParseError leaves them as `Exit("error: ...", code=2)`, which the Program
    prints and exits with. Nothing else changes; another Program, or tasks.py imported by a test, is left alone.
    """
    program = getattr(sys.modules.get("invoke.main"), "program", None)
    if program is None or getattr(program, "_release_parse_errors", False):
        return
    for step in ("parse_tasks", "parse_cleanup"):
        setattr(program, step, _as_kit_errors(getattr(program, step)))
    program._release_parse_errors = True


def _as_kit_errors(step: Callable[[], None]) -> Callable[[], None]:
    @functools.wraps(step)
    def wrapper() -> None:
        try:
            step()
        except ParseError as e:
            raise Exit(parse_error_line(e), code=ConfigError.exit_code) from None

    return wrapper


def parse_error_line(error: ParseError) -> str:
    """invoke's ParseError as the kit's one line, with where to read about the task's flags."""
    text = " ".join(str(error).split()).rstrip("!")
    name = getattr(error.context, "name", None)
    return f"error: {text}" + (f" (see `inv --help {name}`)" if name else "")
