"""Where the pre-release branch starts when no `--from` is given: the tt-inference-server commit that the newest
Models CI run among the last-good records tested.

`ci.read` reads that commit from each last-good job's log (its `actions/checkout` step of
tenstorrent/tt-inference-server) into the record's `tt_inference_server_commit`: the full SHA when the log prints
it, else the prefix of `HEAD is now at`. `choose` picks the newest run's commit from the last-good file (pure),
and lists the records that tested another commit (the release engineer's "consistent commit set" view);
`resolve` expands it in this repository. Problems are InputErrors (exit 2) naming the run and the job and asking
for `--from`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from release.ci_results_file import AllResults
from release.errors import InputError
from release.imagetags import same_commit
from release.last_good_file import LastGoodRecords

MIN_PREFIX = 4  # git's shortest abbreviation


@dataclass(frozen=True)
class Witness:
    """One last-good record's word on the commit."""

    model_id: str
    run_number: int
    run_id: str
    job_id: int | None
    commit: str | None


@dataclass(frozen=True)
class BranchPoint:
    commit: str  # as the record gives it: a full SHA or a prefix
    source: Witness
    log_line: tuple[int, str] | None  # (number, text) in the job's log, from the all-results file
    others: tuple[Witness, ...]  # records that tested another commit, or whose commit is unknown

    @property
    def where(self) -> str:
        job = f", job {self.source.job_id}" if self.source.job_id is not None else ""
        return f"Models CI run {self.source.run_number}{job}"

    @property
    def label(self) -> str:
        return f"tt-inference-server commit tested by {self.where}"

    def facts(self) -> tuple[tuple[str, str], ...]:
        """What the plan shows about where the commit came from, and the records that disagree."""
        out = [("tested by", f"{self.where} ({self.source.model_id})")]
        if self.log_line is not None:
            out.append(("log line", f"{self.log_line[0]}: {self.log_line[1]}"))
        for w in self.others:
            commit = w.commit[:12] if w.commit else "unknown (no checkout in the job log)"
            out.append(("other commit", f"{w.model_id}: {commit} (run {w.run_number})"))
        return tuple(out)


def _witnesses(last_good: LastGoodRecords) -> list[Witness]:
    return [
        Witness(model_id, rec.ci_run_number, str(rec.ci_run_id or "unknown"), rec.ci_job_id,
                rec.tt_inference_server_commit or None)
        for model_id, rec in last_good.items()
        if rec is not None
    ]  # fmt: skip


def choose(last_good: LastGoodRecords | None, all_results: AllResults | None, *, source: str) -> BranchPoint:
    """The commit of the newest run among the last-good records (pure; InputError when there is none)."""
    if last_good is None:
        raise InputError(f"no models_ci_last_good_*.json in {source}: run `inv ci.read`, or pass --from SHA")
    witnesses = _witnesses(last_good)
    if not witnesses:
        raise InputError("no model has a last good Models CI run in the last-good file: pass --from SHA")
    newest = max(w.run_number for w in witnesses)
    of_run = [w for w in witnesses if w.run_number == newest]
    known = [w for w in of_run if w.commit]
    if not known:
        w = of_run[0]
        raise InputError(
            f"Models CI run {w.run_number} (job {w.job_id}, {w.model_id}): its job log shows no "
            f"tt-inference-server checkout (log gone, or a last-good file of an older kit); run `inv ci.read` "
            "again, or pass --from SHA"
        )
    chosen = max(known, key=lambda w: len(w.commit or ""))  # a full SHA over a prefix
    clash = [w for w in known if not same_commit(chosen.commit or "", w.commit or "")]
    if clash:
        listed = "; ".join(f"job {w.job_id} ({w.model_id}): {w.commit}" for w in [chosen, *clash])
        raise InputError(
            f"the jobs of Models CI run {newest} checked out different tt-inference-server commits ({listed}); "
            "pass --from SHA"
        )
    others = tuple(w for w in witnesses if w.commit is None or not same_commit(chosen.commit or "", w.commit))
    assert chosen.commit is not None
    return BranchPoint(chosen.commit, chosen, _log_line(all_results, chosen), others)


def _log_line(all_results: AllResults | None, w: Witness) -> tuple[int, str] | None:
    """Where the job's log said it (the all-results entry of that job)."""
    entries = all_results.of_job(w.model_id, w.job_id) if all_results is not None else ()
    found = next((e.checkout for e in entries if e.checkout is not None), None)
    return (found.line_number, found.line) if found is not None else None


class GitLike(Protocol):
    def run(self, *args: str, input: str | None = None, ok: Sequence[int] = (0,)) -> str: ...

    def rev_parse(self, ref: str) -> str | None: ...


def resolve(git: GitLike, point: BranchPoint) -> str:
    """The full SHA of the point's commit in this repository (fetched first); a prefix is expanded. Missing or
    ambiguous: InputError naming the run and the job."""
    commit = point.commit.strip().lower()
    found = commits_with_prefix(git, commit) if len(commit) >= MIN_PREFIX else []
    if len(found) == 1:
        return found[0]
    if not found:
        raise InputError(
            f"{point.label} is {commit}, which is not a commit of this repository (even after fetching): is the "
            "checkout up to date with the repository CI tested? Pass --from SHA"
        )
    shown = ", ".join(sha[:12] for sha in found[:5])
    raise InputError(
        f"{point.label} is {commit}, a prefix of {len(found)} commits here ({shown}); pass --from with the full SHA"
    )


def commits_with_prefix(git: GitLike, prefix: str) -> list[str]:
    """Every commit of the repository whose SHA starts with `prefix` (at least MIN_PREFIX hex characters)."""
    if not all(c in "0123456789abcdef" for c in prefix) or len(prefix) < MIN_PREFIX:
        return []
    if len(prefix) == 40:
        sha = git.rev_parse(prefix)
        return [sha] if sha else []
    listed = git.run("rev-parse", f"--disambiguate={prefix}", ok=(0, 1, 128)).split()
    if not listed:
        return []
    kinds = git.run("cat-file", "--batch-check=%(objectname) %(objecttype)", input="\n".join(listed) + "\n")
    return sorted(line.split()[0] for line in kinds.splitlines() if line.endswith(" commit"))
