"""Pure: a git plan is data — named steps (`RunGit`, `Skip`, and the GitHub writes) that a dry run prints and
`release.gitflow.apply` runs."""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

# A plan line longer than this puts its `# why` comment on the next line (a normal terminal's width).
PLAN_WIDTH = 100


@dataclass(frozen=True)
class RunGit:
    """Run `git <args>` in the checkout."""

    args: tuple[str, ...]
    why: str
    advice: str = ""  # appended to the error when the command fails
    shown: str = ""  # how the plan shows the command when it is too long to read (a commit with its message)

    def describe(self) -> str:
        return self.shown or "git " + shlex.join(self.args)


@dataclass(frozen=True)
class Skip:
    """Nothing to do: the world already looks as the step would make it."""

    what: str

    def describe(self) -> str:
        return f"skip: {self.what}"


@dataclass(frozen=True)
class OpenPull:
    head: str
    base: str
    title: str
    body: str
    draft: bool

    def describe(self) -> str:
        return f"GitHub: open {'draft ' if self.draft else ''}PR {self.head} → {self.base}: {self.title!r}"


@dataclass(frozen=True)
class UpdatePull:
    number: int
    url: str
    title: str
    body: str

    def describe(self) -> str:
        return f"GitHub: update PR #{self.number} title and body ({self.url})"


@dataclass(frozen=True)
class CreateRelease:
    tag: str
    target: str
    name: str
    body: str
    draft: bool

    def describe(self) -> str:
        return f"GitHub: create {'draft ' if self.draft else ''}release {self.name!r} for tag {self.tag}"


@dataclass(frozen=True)
class UpdateRelease:
    tag: str
    release_id: int
    name: str
    body: str
    publish: bool = False  # turn a draft into a published release

    def describe(self) -> str:
        what = "publish the draft release" if self.publish else "update the notes of release"
        return f"GitHub: {what} {self.tag} (id {self.release_id})"


@dataclass(frozen=True)
class UploadAsset:
    tag: str
    name: str
    data: bytes = field(repr=False)
    content_type: str = "application/json"
    replaces: int | None = None  # id of an asset of the same name with other content

    def describe(self) -> str:
        what = "replace" if self.replaces is not None else "upload"
        return f"GitHub: {what} release asset {self.name} ({len(self.data)} bytes) on {self.tag}"


Step = RunGit | Skip | OpenPull | UpdatePull | CreateRelease | UpdateRelease | UploadAsset


@dataclass(frozen=True)
class GitPlan:
    title: str
    facts: tuple[tuple[str, str], ...]
    steps: tuple[Step, ...]

    @property
    def actions(self) -> tuple[Step, ...]:
        return tuple(s for s in self.steps if not isinstance(s, Skip))

    @property
    def converged(self) -> bool:
        return not self.actions

    def render(self) -> str:
        width = max((len(k) for k, _ in self.facts), default=0)
        lines = [self.title]
        lines += [f"  {k.ljust(width)}  {v}" for k, v in self.facts]
        lines.append("plan:" if self.actions else "plan: nothing to do")
        for n, step in enumerate(self.steps, 1):
            if isinstance(step, Skip):
                lines.append(f"  -  {step.describe()}")
            else:
                line = f"  {n}. {step.describe()}"
                if isinstance(step, RunGit) and step.why:  # the reason beside the command, or under it if too long
                    beside = f"{line}   # {step.why}"
                    line = beside if len(beside) <= PLAN_WIDTH else f"{line}\n     # {step.why}"
                lines.append(line)
        return "\n".join(lines)

    def to_json(self) -> dict[str, Any]:
        def step_json(s: Step) -> dict[str, Any]:
            d: dict[str, Any] = {"kind": type(s).__name__, "describe": s.describe()}
            if isinstance(s, RunGit):
                d["argv"] = ["git", *s.args]
            return d

        return {"title": self.title, "facts": dict(self.facts), "steps": [step_json(s) for s in self.steps]}
