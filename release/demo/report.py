"""The demo's last word: where every output is (files in the clone, PRs and releases on the simulator, branches
on the origin, the released images in the registry)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from release.demo.services import Services
from release.demo.workspace import PROJECT, git, git_env
from release.version import Version


def outputs_report(services: Services, version: Version) -> str:
    clone = services.project.clone
    logs = clone / "release_logs"
    lines = [f"workspace: {services.workspace}", f"checkout (the release engineer's clone): {clone}"]

    def listing(title: str, paths: Sequence[Path]) -> None:
        if paths:
            lines.append(f"{title}:")
            lines.extend(f"  {p.relative_to(clone)}" for p in paths)

    listing("CI data (inv ci.read)", sorted(logs.glob("models_ci_*.json")))
    listing("CI health page (open in a browser)", sorted(logs.glob("models_ci_health_*.html")))
    listing("summaries", sorted({*logs.glob("*summary*.*"), *logs.glob("release_models_diff.md")}))
    listing("release state and record", sorted([*logs.glob("release_state_*.json"), *logs.glob("release_record_*")]))
    listing("release notes", sorted(logs.glob("release_notes_*.md")))
    listing("run logs (every progress line in full)", sorted(logs.glob("run_logs/*.log")))
    listing(
        "promotion plans and state", sorted([*logs.glob("*_promotion_plan.json"), *logs.glob("promote_state.json")])
    )
    build_logs = sorted((clone / "workflow_logs" / "docker_build_logs").glob("*"))
    if build_logs:
        listing("build logs", build_logs)
    elif services.build_skipped:
        lines.append(f"build logs: none (builds skipped: {services.build_skipped})")
    lines.append("pull requests (simulated GitHub):")
    for pr in sorted(services.sim.pulls.values(), key=lambda p: p.number):
        state = "merged" if pr.merged else pr.state
        lines.append(f"  #{pr.number} {pr.head} → {pr.base} ({state})")
        lines.append(f"      page: {services.sim.html(f'/pull/{pr.number}')}")
        lines.append(f"      API:  {services.server.api_url}/repos/{PROJECT.owner}/{PROJECT.name}/pulls/{pr.number}")
    for rel in services.sim.releases.values():
        lines.append(f"release {rel.tag_name} ({'draft' if rel.draft else 'published'})")
    branches = git("--git-dir", str(services.project.origin), "for-each-ref", "--format=%(refname:short)",
                    "refs/heads", env=git_env()).split()  # fmt: skip
    lines.append(f"origin: {services.project.origin}")
    lines.append(f"  branches: {', '.join(branches)}")
    reg = services.registry
    tagged = {repo: reg.tags(repo) for repo in reg.catalog()}
    released = sorted(f"{repo}:{t}" for repo, tags in tagged.items() for t in tags if t.startswith(f"{version}-"))
    lines.append(f"registry {reg.host}: {sum(len(t) for t in tagged.values())} tag(s); v{version} images:")
    lines.extend(f"  {r}" for r in released)
    return "\n".join(lines)
