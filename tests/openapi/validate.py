"""Validate the fake GitHub server's JSON answers against the sliced OpenAPI description.

OpenAPI 3.0 schemas are JSON Schema plus `nullable: true`; `to_json_schema` rewrites that into JSON Schema
(`type: [T, "null"]`, or `anyOf [..., {type: null}]` around refs and compositions) so jsonschema can check it.
Error answers of statuses an operation does not document are checked against GitHub's `basic-error`.
"""

from __future__ import annotations

import copy
import functools
import json
from pathlib import Path
from typing import Any

import jsonschema

SLICE = Path(__file__).with_name("github-api-slice.json")


def to_json_schema(node: Any) -> Any:
    if isinstance(node, list):
        return [to_json_schema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: to_json_schema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable") is True:
        if "type" in out and not any(k in out for k in ("allOf", "anyOf", "oneOf", "$ref")):
            out["type"] = [out["type"], "null"] if isinstance(out["type"], str) else [*out["type"], "null"]
            if "enum" in out:
                out["enum"] = [*out["enum"], None]
        else:
            out = {"anyOf": [out, {"type": "null"}]}
    return out


@functools.cache
def _document() -> dict[str, Any]:
    doc = json.loads(SLICE.read_text(encoding="utf-8"))
    return {"paths": doc["paths"], "components": to_json_schema(doc["components"])}


@functools.cache
def _validator(method: str, route: str, status: int) -> jsonschema.protocols.Validator | None:
    doc = _document()
    op = doc["paths"].get(route, {}).get(method.lower())
    if op is None:
        raise AssertionError(
            f"{method} {route} is not in the OpenAPI slice: add it to OPERATIONS in tests/openapi/slice_openapi.py"
        )
    if str(status) in op:
        schema = op[str(status)]
        if schema is None:
            return None
        schema = to_json_schema(schema)
    elif status >= 400:
        schema = {"$ref": "#/components/schemas/basic-error"}
    else:
        raise AssertionError(f"{method} {route} answered {status}, which GitHub does not document")
    root = (
        {**copy.deepcopy(schema), "components": doc["components"]}
        if "$ref" not in schema
        else {"allOf": [schema], "components": doc["components"]}
    )
    return jsonschema.Draft7Validator(root)


def validate(method: str, route: str, status: int, body: Any) -> None:
    """Raise AssertionError naming the first schema violation (hook for GitHubServer(validator=...))."""
    if route in ("auth", "fault", "unknown"):
        route_doc = {"$ref": "#/components/schemas/basic-error"}
        jsonschema.Draft7Validator({**route_doc, "components": _document()["components"]}).validate(body)
        return
    v = _validator(method, route, status)
    if v is None:
        if body is not None:
            raise AssertionError(f"{method} {route} {status} must have no JSON body")
        return
    errors = sorted(v.iter_errors(body), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        where = "/".join(str(p) for p in e.absolute_path)
        raise AssertionError(f"{method} {route} {status} at {where or '(root)'}: {e.message[:300]}")
