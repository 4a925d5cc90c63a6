"""What the demo puts into the registry before the flow, and what it leaves for `images.build`: the kit's own CI
reading and spec.update planning, run against the simulator first, tell which commits the fewest templates will
carry; their CI images are left out, so those dev and release images must be built."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from release import ci_read, ci_report, spec_plan, wiring
from release.config import Config, Secret
from release.imageref import ImageRef
from release.imagetags import parse_commit_tag, same_commit
from release.last_good_file import parse_last_good
from release.sim import registry as sim_registry
from release.sim.history import CI_IMAGE, SimHistory
from workflows.model_spec import Catalogue


def preview_spec_update(
    cat: Catalogue, *, api_url: str, token: Secret, runs: int, clone: Path, scratch: Path
) -> spec_plan.SpecUpdatePlan:
    """What `spec.update` will do to the catalogue: the kit's own CI reading and catalogue planning, run against
    the simulator in a scratch folder (nothing in the clone is touched)."""
    cfg = Config.from_env({"GITHUB_API_URL": api_url, "GH_PAT": token.reveal()}, repo_root=clone)
    github = wiring.ci_github_client(cfg, cache_root=scratch)
    opts = ci_read.ReadRequest(max_runs=runs).options(cfg)
    result = ci_read.read_ci(
        opts, github=github, models=ci_read.models_from_specs(cat.specs.values()), out_root=scratch
    )
    records = parse_last_good(ci_report.last_good(result), source="the CI preview")
    return spec_plan.plan_spec_update(cat, records)


def template_commits(plan: spec_plan.SpecUpdatePlan) -> Counter[tuple[str, str]]:
    """(tt-metal, vLLM) → how many vLLM templates (default images) will carry those commits."""
    return Counter((u.tt_metal_after, u.vllm_after) for u in plan.updates if u.explicit_image is None and u.vllm_after)


def commits_to_build(pairs: Counter[tuple[str, str]], tt_metal_commits: Sequence[str]) -> tuple[str, str] | None:
    """Among the commits of the stand-in tt-metal (the others cannot be built), those of the fewest templates
    (ties: the smallest): their images are built, the others promoted."""
    buildable = [kv for kv in pairs.items() if any(same_commit(kv[0][0], c) for c in tt_metal_commits)]
    return min(buildable, key=lambda kv: (kv[1], kv[0]))[0] if buildable else None


def unprovided_images(cat: Catalogue, plan: spec_plan.SpecUpdatePlan) -> list[str]:
    """The dev and release images (at `cat`'s VERSION) of the templates no simulated CI run passed: only a build
    can provide them."""
    updated = {u.template_index for u in plan.updates}
    out: dict[str, None] = {}
    for spec in cat.specs.values():
        if spec.template_index not in updated and not spec.has_explicit_image:
            out[spec.dev_image] = None
            out[spec.docker_image] = None
    return list(out)


def images_to_seed(
    history: SimHistory, explicit: Sequence[str], *, leave_out: tuple[str, str] | None
) -> tuple[list[str], list[str]]:
    """(seeded, left out): the CI images the history names plus the catalogue's explicit images (they exist
    upstream); the vLLM CI images whose tag carries the `leave_out` commits are left out (their dev and release
    images must then be built)."""
    seeded: list[str] = []
    left: list[str] = []
    ci_repo = ImageRef.parse(CI_IMAGE).repository
    for image in [*history.named_images(), *explicit]:
        ref = ImageRef.parse(image)
        tag = parse_commit_tag(ref.tag or "", has_vllm=True) if ref.repository == ci_repo else None
        if (
            leave_out
            and tag is not None
            and same_commit(leave_out[0], tag.tt_metal)
            and same_commit(leave_out[1], tag.vllm or "")
        ):
            left.append(image)
        elif image not in seeded:
            seeded.append(image)
    return seeded, left


def seed_registry(reg: sim_registry.Registry, images: Sequence[str], rewrite: tuple[tuple[str, str], ...]) -> None:
    """Push one tiny single-layer image per name (deterministic content, a distinct digest per name)."""
    client = reg.client()
    try:
        seeder = sim_registry.Seeder(client)
        for image in images:
            ref = ImageRef.parse(image).rewrite(rewrite)
            seeder.image(ref, [sim_registry.random_layer(512, seed=image)], label=image)
    finally:
        client.close()


@dataclass(frozen=True)
class SeedPlan:
    """What goes into the registry before the flow, and what is left for `images.build`."""

    images: tuple[str, ...]  # pushed, tiny
    left_out: tuple[str, ...] = ()  # CI images kept out, so the images of their commits must be built
    build_commits: tuple[str, str] | None = None  # (tt-metal, vLLM) of those
    templates: tuple[int, int] = (0, 0)  # (templates carrying build_commits, vLLM templates)
    as_if_built: tuple[str, ...] = ()  # without an engine: what only a build provides, seeded instead
    explicit: int = 0

    def lines(self, skipped: str | None) -> list[str]:
        out = []
        if self.build_commits:
            tm, vllm = self.build_commits
            out.append(
                f"left out the {len(self.left_out)} CI image(s) of tt-metal {tm} / vLLM {vllm} ({self.templates[0]} of "
                f"{self.templates[1]} vLLM templates)"
            )
            out.append("  so their dev and release images are built (offline recipe); the others are promoted")
        else:
            out.append(f"nothing is left to build: {skipped}")
            if self.as_if_built:
                out.append(
                    f"  ({len(self.as_if_built)} dev/release image(s) no simulated run provides were seeded as if "
                    "built earlier)"
                )
        return out


def plan_seeding(
    history: SimHistory,
    cat: Catalogue,
    plan: spec_plan.SpecUpdatePlan,
    *,
    tt_metal_commits: Sequence[str],
    can_build: bool,
    target: Catalogue,
) -> SeedPlan:
    """Seed what the simulated CI names and the explicit images; leave out the commits of the fewest templates
    when an engine can build them, else also seed (from `target`, the catalogue at the bumped VERSION) the images
    only a build could provide."""
    explicit = sorted({s.docker_image for s in cat.specs.values() if s.has_explicit_image})
    pairs = template_commits(plan)
    build = commits_to_build(pairs, tt_metal_commits) if can_build else None
    seeded, left = images_to_seed(history, explicit, leave_out=build)
    as_if_built = [] if can_build else unprovided_images(target, plan)
    return SeedPlan(
        images=tuple(dict.fromkeys([*seeded, *as_if_built])),
        left_out=tuple(left),
        build_commits=build,
        templates=(pairs[build] if build else 0, sum(pairs.values())),
        as_if_built=tuple(as_if_built),
        explicit=len(explicit),
    )
