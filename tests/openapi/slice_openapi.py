"""Slice the GitHub operations the kit uses out of @octokit/openapi's api.github.com.json.

    python tests/openapi/slice_openapi.py /tmp/oa/package/generated/api.github.com.json

Writes tests/openapi/github-api-slice.json: for each (method, path template) we use, the JSON schema of every
response status, plus the transitive closure of `#/components/schemas/*` they reference (refs unchanged).
Add an operation to OPERATIONS and run the script again when the fake server grows an endpoint.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

OPERATIONS = [  # (method, path template)
    ("get", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}"),
    ("get", "/repos/{owner}/{repo}/actions/workflows/{workflow_id}/runs"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/jobs"),
    ("get", "/repos/{owner}/{repo}/actions/runs/{run_id}/artifacts"),
    ("get", "/repos/{owner}/{repo}/actions/jobs/{job_id}/logs"),
    ("get", "/repos/{owner}/{repo}/actions/artifacts/{artifact_id}/{archive_format}"),
    # the project repository (release.sim.github_project): pulls, releases, refs, commits
    ("get", "/repos/{owner}/{repo}/pulls"),
    ("post", "/repos/{owner}/{repo}/pulls"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("patch", "/repos/{owner}/{repo}/pulls/{pull_number}"),
    ("get", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("put", "/repos/{owner}/{repo}/pulls/{pull_number}/merge"),
    ("get", "/repos/{owner}/{repo}/releases"),
    ("post", "/repos/{owner}/{repo}/releases"),
    ("get", "/repos/{owner}/{repo}/releases/tags/{tag}"),
    ("get", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("patch", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("get", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    ("post", "/repos/{owner}/{repo}/releases/{release_id}/assets"),
    ("delete", "/repos/{owner}/{repo}/releases/assets/{asset_id}"),
    ("get", "/repos/{owner}/{repo}/git/ref/{ref}"),
    ("get", "/repos/{owner}/{repo}/commits/{ref}"),
    # what `inv prerelease --undo` / `inv release --undo` write: a comment on the PR it closes, a draft release
    # deleted, and container package versions (ghcr.io images) listed and deleted
    ("post", "/repos/{owner}/{repo}/issues/{issue_number}/comments"),
    ("delete", "/repos/{owner}/{repo}/releases/{release_id}"),
    ("get", "/orgs/{org}/packages/{package_type}/{package_name}/versions"),
    ("delete", "/orgs/{org}/packages/{package_type}/{package_name}/versions/{package_version_id}"),
]
OUT = Path(__file__).with_name("github-api-slice.json")


def _refs(node: Any, found: set[str]) -> None:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/components/schemas/"):
            found.add(ref.rsplit("/", 1)[1])
        for v in node.values():
            _refs(v, found)
    elif isinstance(node, list):
        for v in node:
            _refs(v, found)


def _resolve_response(doc: dict[str, Any], response: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in response:
        response = doc["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response


def main(source: str) -> None:
    doc = json.loads(Path(source).read_text(encoding="utf-8"))
    paths: dict[str, Any] = {}
    for method, template in OPERATIONS:
        responses = doc["paths"][template][method]["responses"]
        out = {}
        for status, response in responses.items():
            response = _resolve_response(doc, response)
            schema = response.get("content", {}).get("application/json", {}).get("schema")
            out[status] = schema  # None: the answer has no JSON body (e.g. 302, 204)
        paths.setdefault(template, {})[method] = out
    wanted: set[str] = set()
    _refs(paths, wanted)
    schemas = doc["components"]["schemas"]
    closure: dict[str, Any] = {}
    while wanted:
        name = wanted.pop()
        if name in closure:
            continue
        closure[name] = schemas[name]
        more: set[str] = set()
        _refs(schemas[name], more)
        wanted |= more - set(closure)
    sliced = {
        "source": "npm @octokit/openapi 23.0.2, generated/api.github.com.json (sliced by slice_openapi.py)",
        "openapi": doc.get("openapi"),
        "paths": paths,
        "components": {"schemas": dict(sorted(closure.items()))},
    }
    OUT.write_text(json.dumps(sliced, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"{OUT}: {len(OPERATIONS)} operations, {len(closure)} schemas")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "/tmp/oa/package/generated/api.github.com.json")
