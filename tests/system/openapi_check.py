"""The OpenAPI check (docs/api.md 4.6): docs/openapi.json against the server it describes.

    /usr/bin/python3 tests/system/openapi_check.py [DOCUMENT [FRONTEND BINARY]]

exits 1 naming every route of the frontend's route table (`profai-frontend --list-routes`)
that the document does not describe, every operation it describes that the server does not
have, and every schema or $ref that is not valid; 0 when they agree. tests/system/test_openapi.py
runs it, and uses `schema_of` / `validate_answer` to hold sample answers of every route to the
document (python3-jsonschema, JSON Schema 2020-12 as OpenAPI 3.1 uses it).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "openapi.json"
FRONTEND = ROOT / "bin" / "profai-frontend"
METHODS = ("get", "post", "delete", "put", "patch")


def server_routes(binary: Path = FRONTEND) -> list[tuple[str, str]]:
    """(method, OpenAPI path) of every route the frontend serves: its route table, with a
    route of any method as its GET (the web page) and a final "*" as "{file}"."""
    out = subprocess.run([str(binary), "--list-routes"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    routes = []
    for line in out.splitlines():
        method, pattern = line.split(" ", 1)
        method = "get" if method == "*" else method.lower()
        if pattern.endswith("/*"):
            pattern = pattern[:-1] + "{file}"
        routes.append((method, pattern))
    assert routes, "the frontend lists no routes"
    return routes


def documented(doc: dict) -> set[tuple[str, str]]:
    return {(m, path) for path, item in doc.get("paths", {}).items() for m in item
            if m in METHODS}


def resolve(doc: dict, node: dict) -> dict:
    """node, or what its local $ref names (one level at a time, until none)."""
    seen = 0
    while isinstance(node, dict) and "$ref" in node and len(node) == 1 and \
            node["$ref"].startswith("#/components/responses/"):
        node = doc["components"]["responses"][node["$ref"].rsplit("/", 1)[1]]
        seen += 1
        assert seen < 10, "a $ref cycle"
    return node


def _refs(node, out: list) -> None:
    if isinstance(node, dict):
        if isinstance(node.get("$ref"), str):
            out.append(node["$ref"])
        for v in node.values():
            _refs(v, out)
    elif isinstance(node, list):
        for v in node:
            _refs(v, out)


def problems(doc: dict, routes: list[tuple[str, str]]) -> list[str]:
    """Every disagreement between the document and the routes, as sentences."""
    found = []
    if not str(doc.get("openapi", "")).startswith("3.1."):
        found.append("the document is not OpenAPI 3.1")
    have = documented(doc)
    for method, path in routes:
        if (method, path) not in have:
            found.append(f"route {method.upper()} {path} is not in the document")
    for method, path in sorted(have - set(routes)):
        found.append(f"the document has {method.upper()} {path}, which the server does not")
    for method, path in sorted(have):
        op = doc["paths"][path][method]
        if not op.get("responses"):
            found.append(f"{method.upper()} {path} has no responses")
        for name in [s[s.index("{") + 1:s.index("}")] for s in path.split("/") if "{" in s]:
            params = [resolve(doc, p) for p in op.get("parameters", [])]
            if not any(p.get("in") == "path" and p.get("name") == name for p in params):
                found.append(f"{method.upper()} {path} does not describe its path parameter "
                             f"{name}")
    refs = []
    _refs(doc, refs)
    for ref in refs:
        node = doc
        for part in ref.lstrip("#/").split("/"):
            node = node.get(part) if isinstance(node, dict) else None
        if not ref.startswith("#/") or node is None:
            found.append(f"$ref {ref} names nothing")
    for name, schema in doc.get("components", {}).get("schemas", {}).items():
        try:
            jsonschema.Draft202012Validator.check_schema(schema)
        except jsonschema.SchemaError as e:
            found.append(f"schema {name} is not valid JSON Schema: {e.message}")
    return found


def schema_of(doc: dict, method: str, path: str, status: int, media: str) -> dict | None:
    """The schema the document gives the answer (status, media type without parameters) of an
    operation, or None when it describes no such answer."""
    op = doc["paths"].get(path, {}).get(method)
    if op is None:
        return None
    answer = resolve(doc, op["responses"].get(str(status), {}))
    if not answer:
        return None
    content = answer.get("content")
    if content is None:
        return {} if media == "" else None
    for key in (media, media.split("/")[0] + "/*", "*/*"):
        if key in content:
            return content[key].get("schema", {})
    return None


def validate_answer(doc: dict, method: str, path: str, response) -> None:
    """Hold a requests.Response of (method, OpenAPI path) to the document: its status and
    media type must be described, and a JSON body must validate against their schema."""
    media = response.headers.get("Content-Type", "").split(";")[0].strip()
    if response.status_code in (204, 304):
        media = ""
    schema = schema_of(doc, method, path, response.status_code, media)
    assert schema is not None, \
        f"{method.upper()} {path}: {response.status_code} {media or '(no body)'} is not described"
    if media in ("application/json", "application/problem+json"):
        root = {**doc, **schema}  # so that "#/components/..." refs resolve in the document
        jsonschema.Draft202012Validator(root).validate(response.json())


def main(argv: list[str]) -> int:
    doc_path = Path(argv[1]) if len(argv) > 1 else DOC
    binary = Path(argv[2]) if len(argv) > 2 else FRONTEND
    doc = json.loads(doc_path.read_text())
    found = problems(doc, server_routes(binary))
    for line in found:
        print(f"openapi_check: {doc_path}: {line}", file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
