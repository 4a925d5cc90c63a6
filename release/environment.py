"""The environment variables the kit reads, as plain tuples. This file imports nothing (not even the rest of the
kit), so noxfile.py, which runs without the kit's dependencies, takes its list of variables for `nox -s release`
from here; release/config.py reads them."""

TOKEN_VARIABLES = ("GH_PAT", "GITHUB_TOKEN")
# Each GitHub token role reads its variables in this order: reading Models CI (tt-shield) prefers GH_PAT (a token
# that can read the other repository); writing this repository prefers GITHUB_TOKEN (the workflow's own token).
CI_TOKEN_VARIABLES = ("GH_PAT", "GITHUB_TOKEN")
PROJECT_TOKEN_VARIABLES = ("GITHUB_TOKEN", "GH_PAT")
# Every environment variable the kit reads.
ENV_VARIABLES: tuple[str, ...] = (
    *TOKEN_VARIABLES,
    "GITHUB_API_URL",
    "RELEASE_REGISTRY_REWRITE",
    "RELEASE_SOURCE_REGISTRIES",
    "REGISTRY_USERNAME",
    "REGISTRY_PASSWORD",
    "DOCKER_CONFIG",
    "DOCKER_HOST",
    "RELEASE_DOCKER_HOSTS",
    "RELEASE_BUILD_RECIPE",
    "RELEASE_TT_METAL_REPO",
    "GITHUB_STEP_SUMMARY",
)
SECRET_VARIABLES: tuple[str, ...] = (*TOKEN_VARIABLES, "REGISTRY_PASSWORD")
