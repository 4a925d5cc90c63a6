"""Reads only: the world as the undo must see it before planning (release/undo/plan.py's `Observed`).

- git: the checked-out branch, `git status --porcelain` (untracked files included), the local tips of the run's
  branch and of the branch to go back to, and the run's branch on the remote (`git ls-remote`: nothing fetched,
  no ref moved).
- GitHub (the project's token): the PRs from the run's branch into its base, and, for a release, the releases of
  its tag.
- Registries: what each tag the run created points at now (HEAD), and what its deletion route needs:
  - the route is chosen by the destination's public host, before RELEASE_REGISTRY_REWRITE: `ghcr.io` → GitHub
    Packages (the package version carrying the tag, and every tag on it), any other host → the distribution API
    (the repository's other tags that point at the same digest: listed, then each asked with HEAD). In a rehearsal
    ghcr.io is rewritten to a local registry and the fake GitHub's packages mirror that registry.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

from release.errors import ConfigError
from release.github_types import RepoRef
from release.imageref import ImageRef
from release.undo.evidence import Evidence
from release.undo.plan import ImageSeen, Observed, PullSeen, ReleaseSeen

PACKAGES_HOST = "ghcr.io"


class GitReader(Protocol):
    def current_branch(self) -> str | None: ...
    def status_porcelain(self, *, untracked: bool = False) -> list[str]: ...
    def rev_parse(self, ref: str) -> str | None: ...
    def ls_remote(self, remote: str, *patterns: str) -> dict[str, str]: ...
    def remote_url(self, remote: str) -> str | None: ...


class GitHubReader(Protocol):
    def list_pulls(self, repo: RepoRef, *, head: str, base: str, state: str = "all") -> Sequence[Any]: ...
    def list_releases(self, repo: RepoRef) -> Sequence[Any]: ...
    def list_package_versions(self, org: str, package: str) -> Sequence[Any]: ...


class RegistryReader(Protocol):
    def digest(self, ref: ImageRef) -> str | None: ...
    def list_tags(self, ref: ImageRef) -> list[str]: ...


@dataclass(frozen=True)
class Where:
    """The settings the observation needs."""

    remote: str
    dev_branch: str
    project: RepoRef
    rewrite: tuple[tuple[str, str], ...]
    kit_files: tuple[str, ...]  # relative to the checkout
    leftovers: tuple[str, ...]  # the run's local files that are there (relative to the checkout)


def public_registry(ref: ImageRef, rewrite: Iterable[tuple[str, str]]) -> str:
    """The host a destination has before RELEASE_REGISTRY_REWRITE (the rewrite is undone)."""
    return next((public for public, local in rewrite if local == ref.registry), ref.registry)


def package_of(ref: ImageRef) -> tuple[str, str] | None:
    """ghcr.io/ORG/PACKAGE → (ORG, PACKAGE): the package is the repository path under the org."""
    org, _, package = ref.repository.partition("/")
    return (org, package) if org and package else None


def observe(
    ev: Evidence,
    where: Where,
    *,
    git: GitReader,
    github: GitHubReader | None,
    registry: RegistryReader,
    workers: int = 8,
) -> Observed:
    home = ev.checkout or where.dev_branch
    needs_github = bool(ev.pulls or ev.releases) or any(
        public_registry(ImageRef.parse(i.destination), where.rewrite) == PACKAGES_HOST for i in ev.images
    )
    if github is None and needs_github:
        raise ConfigError(
            f"the undo of v{ev.version} needs the GitHub API (the run's PRs, releases or ghcr.io packages): set "
            "GITHUB_TOKEN (or GH_PAT), the token the run used"
        )
    found: dict[str, str] = {}
    if git.remote_url(where.remote) is not None:
        found = git.ls_remote(where.remote, f"refs/heads/{ev.run_branch}", f"refs/tags/{ev.tag}")
    tag = f"refs/tags/{ev.tag}"
    return Observed(
        remote=where.remote,
        current_branch=git.current_branch(),
        dirty=tuple(_porcelain(line) for line in git.status_porcelain(untracked=True)),
        local={b: git.rev_parse(f"refs/heads/{b}") for b in dict.fromkeys((ev.run_branch, home))},
        remote_heads={ev.run_branch: found.get(f"refs/heads/{ev.run_branch}")},
        remote_tag=found.get(f"{tag}^{{}}") or found.get(tag),
        home=home,
        kit_files=where.kit_files,
        leftovers=where.leftovers,
        pulls=_pulls(ev, where.project, github) if github is not None else (),
        releases=_releases(ev, where.project, github) if github is not None else (),
        images=_images(ev, where.rewrite, registry, github, workers=workers),
    )


def _porcelain(line: str) -> tuple[str, str]:
    """`XY path` (or `XY old -> new`) → (status, path)."""
    status, path = line[:2].strip() or "?", line[3:]
    return status, path.split(" -> ", 1)[-1]


def _pulls(ev: Evidence, project: RepoRef, github: GitHubReader) -> tuple[PullSeen, ...]:
    pulls = github.list_pulls(project, head=f"{project.owner}:{ev.run_branch}", base=ev.base, state="all")
    return tuple(PullSeen(p.number, p.state, p.merged, p.head_ref, p.base_ref, p.head_sha, p.html_url) for p in pulls)


def _releases(ev: Evidence, project: RepoRef, github: GitHubReader) -> tuple[ReleaseSeen, ...]:
    if ev.command != "release" and not ev.releases:
        return ()
    found = [r for r in github.list_releases(project) if r.tag_name == ev.tag or r.id in ev.releases]
    return tuple(ReleaseSeen(r.id, r.tag_name, r.draft, r.html_url) for r in found)


def _images(
    ev: Evidence,
    rewrite: tuple[tuple[str, str], ...],
    registry: RegistryReader,
    github: GitHubReader | None,
    *,
    workers: int,
) -> dict[str, ImageSeen]:
    refs = [ImageRef.parse(i.destination) for i in ev.images]
    with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="undo-read") as pool:
        digests = dict(zip(refs, pool.map(registry.digest, refs), strict=True))
        routes = _Routes(registry, github, pool)
        out: dict[str, ImageSeen] = {}
        for image, ref in zip(ev.images, refs, strict=True):
            now = digests[ref]
            route = "packages" if public_registry(ref, rewrite) == PACKAGES_HOST else "registry"
            seen = ImageSeen(image.destination, now, route)
            if now == image.digest:  # what its deletion needs, only for a tag that is still the run's
                seen = routes.packages(seen, ref) if route == "packages" else routes.registry(seen, ref, now)
            out[image.destination] = seen
    return out


class _Routes:
    """What each deletion route needs, read once per repository or package."""

    def __init__(self, registry: RegistryReader, github: GitHubReader | None, pool: ThreadPoolExecutor) -> None:
        self._registry = registry
        self._github = github
        self._pool = pool
        self._tags: dict[ImageRef, dict[str, str | None]] = {}
        self._versions: dict[tuple[str, str], Sequence[Any]] = {}

    def registry(self, seen: ImageSeen, ref: ImageRef, digest: str) -> ImageSeen:
        repo = ImageRef(ref.registry, ref.repository)
        if repo not in self._tags:
            tags = self._registry.list_tags(repo)
            found = self._pool.map(lambda t: self._registry.digest(repo.with_tag(t)), tags)
            self._tags[repo] = dict(zip(tags, found, strict=True))
        shared = tuple(sorted(t for t, d in self._tags[repo].items() if d == digest and t != ref.tag))
        return ImageSeen(seen.destination, seen.digest, seen.route, shared_with=shared)

    def packages(self, seen: ImageSeen, ref: ImageRef) -> ImageSeen:
        pkg = package_of(ref)
        if pkg is None or self._github is None:
            return ImageSeen(seen.destination, seen.digest, seen.route, problem="not a package of a GitHub org")
        if pkg not in self._versions:
            self._versions[pkg] = self._github.list_package_versions(*pkg)
        name = "/".join(pkg)
        version = next((v for v in self._versions[pkg] if ref.tag in v.tags), None)
        if version is None:
            return ImageSeen(seen.destination, seen.digest, seen.route, package=name)
        if version.name != seen.digest:
            problem = (
                f"GitHub Packages' version {version.id} of {name} carries the tag with digest {version.name}, but the "
                f"registry answers {seen.digest}: left as it is"
            )
            return ImageSeen(seen.destination, seen.digest, seen.route, package=name, problem=problem)
        return ImageSeen(
            seen.destination, seen.digest, seen.route, package=name, version_id=version.id, version_tags=version.tags
        )
