"""Check requests (and the fake's responses) against Allegro's official OpenAPI spec.

The spec (tests/fixtures/allegro/openapi.yaml, 1.4 MB) is parsed once per process and the
parse is cached as JSON under .pytest_cache, keyed by the file's SHA-256, because YAML parsing
takes about half a second and JSON loading a few milliseconds.

OpenAPI 3.0 schemas are JSON Schema draft 4 plus a few keywords; `nullable` is translated, the
rest (`example`, `discriminator`, `readOnly`) is ignored, as validators ignore unknown keywords.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import yaml
from jsonschema import Draft4Validator
from referencing import Registry
from referencing.jsonschema import DRAFT4

from tests.fakes import fixture_path

MEDIA_TYPE = "application/vnd.allegro.public.v1+json"
SPEC_URI = "urn:kontor:allegro-openapi"
CACHE_DIR = Path(__file__).resolve().parents[2] / ".pytest_cache" / "kontor"
HTTP_METHODS = ("get", "put", "post", "delete", "patch")


class SpecViolation(AssertionError):
    """A request that the official Allegro spec does not allow; `violations` lists why."""

    def __init__(self, method: str, path: str, violations: list[str]) -> None:
        super().__init__(f"{method.upper()} {path} breaks the Allegro spec: " + "; ".join(violations))
        self.violations = violations


# --- loading ---------------------------------------------------------------------------------

@functools.cache
def load_spec() -> dict[str, Any]:
    """The parsed spec with `nullable` translated to JSON Schema (memoised; disk-cached parse)."""
    return _translate_nullable(_parsed_spec(fixture_path("allegro", "openapi.yaml")))


def _parsed_spec(source: Path) -> dict[str, Any]:
    raw = source.read_bytes()
    cache = CACHE_DIR / f"allegro-openapi-{hashlib.sha256(raw).hexdigest()[:16]}.json"
    try:
        return json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    spec = yaml.load(raw, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    _write_atomically(cache, json.dumps(spec, default=str))
    return spec


def _write_atomically(path: Path, text: str) -> None:
    # Parallel test processes may build the cache at the same moment; os.replace keeps it whole.
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        temporary.write_text(text, encoding="utf-8")
        os.replace(temporary, path)
    except OSError:
        pass  # a read-only checkout only loses the speed-up


def _translate_nullable(node: Any) -> Any:
    if isinstance(node, list):
        return [_translate_nullable(item) for item in node]
    if not isinstance(node, dict):
        return node
    translated = {key: _translate_nullable(value) for key, value in node.items() if key != "nullable"}
    if node.get("nullable") is True:
        return {"anyOf": [translated, {"type": "null"}]}
    return translated


@functools.cache
def _registry() -> Registry:
    return Registry().with_resource(SPEC_URI, DRAFT4.create_resource(load_spec()))


@functools.cache
def _validator(pointer: str) -> Draft4Validator:
    return Draft4Validator({"$ref": f"{SPEC_URI}#{quote(pointer, safe='/~')}"}, registry=_registry())


def _pointer(*parts: str) -> str:
    return "".join("/" + part.replace("~", "~0").replace("/", "~1") for part in parts)


# --- operations ------------------------------------------------------------------------------

@functools.cache
def _path_patterns() -> list[tuple[re.Pattern, str]]:
    patterns = []
    for template in load_spec()["paths"]:
        regex = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(template))
        patterns.append((re.compile(f"^{regex}$"), template))
    # Literal segments win over parameters: /order/checkout-forms/{id} must not swallow a literal path.
    return sorted(patterns, key=lambda item: (item[1].count("{"), -len(item[1])))


def find_template(method: str, path: str) -> str:
    """The spec's path template for a concrete path; SpecViolation if the spec has no such operation."""
    paths = load_spec()["paths"]
    matches = [template for pattern, template in _path_patterns() if pattern.match(path)]
    for template in matches:
        if method.lower() in paths[template]:
            return template
    reason = f"the spec has no {method.upper()} on this path" if matches else "the spec has no such path"
    raise SpecViolation(method, path, [reason])


def operation(method: str, path_template: str) -> dict[str, Any]:
    """The spec's operation object; SpecViolation if the path or the method is not in the spec."""
    item = load_spec()["paths"].get(path_template)
    if item is None:
        raise SpecViolation(method, path_template, ["the spec has no such path"])
    if method.lower() not in item:
        raise SpecViolation(method, path_template, [f"the spec has no {method.upper()} on this path"])
    return item[method.lower()]


def _parameters(method: str, path_template: str, location: str) -> dict[str, dict]:
    item = load_spec()["paths"][path_template]
    declared = [*item.get("parameters", []), *operation(method, path_template).get("parameters", [])]
    resolved = (_resolve(parameter) for parameter in declared)
    return {parameter["name"]: parameter for parameter in resolved if parameter.get("in") == location}


def _located(node: dict, *parts: str) -> str:
    """The JSON pointer of the object at `parts`, or of its target when it is a $ref."""
    ref = node.get("$ref")
    return ref.removeprefix("#") if ref else _pointer(*parts)


def _resolve(node: dict) -> dict:
    ref = node.get("$ref")
    if not ref:
        return node
    target: Any = load_spec()
    for part in ref.removeprefix("#/").split("/"):
        target = target[part.replace("~1", "/").replace("~0", "~")]
    return _resolve(target)


# --- requests --------------------------------------------------------------------------------

def request_violations(method: str, path_template: str, body: Any = None, *,
                       query: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                       content_type: str | None = MEDIA_TYPE) -> list[str]:
    """Why the request breaks the spec (empty if it does not).

    `body` is the decoded JSON body (None: no body); `query` maps names to a value or a list of
    values; only the headers the spec declares for the operation (and Accept) are checked.
    """
    try:
        op = operation(method, path_template)
    except SpecViolation as violation:
        return violation.violations
    return [*_query_violations(method, path_template, query or {}),
            *_header_violations(method, path_template, op, headers or {}),
            *_body_violations(method, path_template, op, body, content_type)]


def validate_request(method: str, path_template: str, body: Any = None, *,
                     query: Mapping[str, Any] | None = None, headers: Mapping[str, str] | None = None,
                     content_type: str | None = MEDIA_TYPE) -> None:
    """Raise SpecViolation unless the spec allows the request (see request_violations)."""
    violations = request_violations(method, path_template, body, query=query, headers=headers,
                                     content_type=content_type)
    if violations:
        raise SpecViolation(method, path_template, violations)


def http_request_violations(method: str, url: str, body: bytes | str | None,
                            headers: Mapping[str, str]) -> list[str]:
    """request_violations for a request as sent on the wire (any host; the path is what counts)."""
    parts = urlsplit(url)
    try:
        template = find_template(method, parts.path)
    except SpecViolation as violation:
        return violation.violations
    query: dict[str, list[str]] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        query.setdefault(name, []).append(value)
    lowered = {name.lower(): value for name, value in headers.items()}
    decoded, problem = _decode_json(body)
    if problem:
        return [problem]
    return request_violations(method, template, decoded, query=query, headers=headers,
                              content_type=lowered.get("content-type"))


def validate_http_request(method: str, url: str, body: bytes | str | None, headers: Mapping[str, str]) -> None:
    """Raise SpecViolation unless the spec allows this request as sent (see http_request_violations)."""
    violations = http_request_violations(method, url, body, headers)
    if violations:
        raise SpecViolation(method, urlsplit(url).path, violations)


def _decode_json(body: bytes | str | None) -> tuple[Any, str]:
    if body is None or body in (b"", ""):
        return None, ""
    try:
        return json.loads(body), ""
    except ValueError as error:
        return None, f"the body is not JSON ({error})"


def _query_violations(method: str, path_template: str, query: Mapping[str, Any]) -> list[str]:
    declared = _parameters(method, path_template, "query")
    violations = [f"query parameter {name!r} is not declared" for name in query if name not in declared]
    for name, parameter in declared.items():
        if name not in query:
            if parameter.get("required"):
                violations.append(f"required query parameter {name!r} is missing")
            continue
        violations += _value_violations(f"query parameter {name!r}", parameter.get("schema", {}), query[name])
    return violations


def _header_violations(method: str, path_template: str, op: dict, headers: Mapping[str, str]) -> list[str]:
    lowered = {name.lower(): value for name, value in headers.items()}
    violations = []
    for name, parameter in _parameters(method, path_template, "header").items():
        if name.lower() in lowered:
            violations += _value_violations(f"header {name}", parameter.get("schema", {}), lowered[name.lower()])
    accept = lowered.get("accept")
    produced = {media for response in op.get("responses", {}).values() for media in response.get("content", {})}
    if accept is not None and produced and not _accepts(accept, produced):
        violations.append(f"Accept {accept!r} matches none of the response types {sorted(produced)}")
    return violations


def _accepts(accept: str, produced: set[str]) -> bool:
    wanted = {part.split(";")[0].strip().lower() for part in accept.split(",")}
    return bool(wanted & {media.lower() for media in produced})


def _value_violations(label: str, schema: dict, value: Any) -> list[str]:
    values = value if isinstance(value, list) else [value]
    if schema.get("type") == "array":
        checked: Any = [_coerce(item, schema.get("items", {})) for item in values]
    elif len(values) > 1:
        return [f"{label} is given {len(values)} times"]
    else:
        checked = _coerce(values[0], schema)
    return [f"{label}: {error.message}" for error in Draft4Validator(schema).iter_errors(checked)]


def _coerce(value: Any, schema: dict) -> Any:
    kind = schema.get("type")
    try:
        if kind == "integer":
            return int(value)
        if kind == "number":
            return float(value)
    except (TypeError, ValueError):
        return value
    if kind == "boolean" and value in ("true", "false"):
        return value == "true"
    return value


def _body_violations(method: str, path_template: str, op: dict, body: Any, content_type: str | None) -> list[str]:
    request_body = _resolve(op.get("requestBody") or {})
    if not request_body:
        return [] if body is None else ["the operation takes no request body"]
    if body is None:
        return ["the request body is required"] if request_body.get("required") else []
    media = (content_type or "").split(";")[0].strip().lower()
    if media not in request_body.get("content", {}):
        return [f"Content-Type {content_type!r} is not one of {sorted(request_body.get('content', {}))}"]
    pointer = _located(op["requestBody"], "paths", path_template, method.lower(), "requestBody")
    return _schema_violations(pointer + _pointer("content", media, "schema"), body)


# --- responses -------------------------------------------------------------------------------

def response_violations(method: str, path_template: str, status: int, body: Any,
                        content_type: str = MEDIA_TYPE) -> list[str]:
    """Why a response body does not match the spec's schema for that status (empty if it does)."""
    responses = operation(method, path_template).get("responses", {})
    key = str(status) if str(status) in responses else "default"
    response = responses.get(key)
    if response is None:
        return [f"the spec lists no {status} response"]
    content = _resolve(response).get("content") or {}
    if not content:
        return [] if body is None else [f"the spec's {status} response has no body"]
    if content_type not in content:
        return [f"the {status} response is not served as {content_type!r}"]
    pointer = _located(response, "paths", path_template, method.lower(), "responses", key)
    return _schema_violations(pointer + _pointer("content", content_type, "schema"), body)


def _schema_violations(pointer: str, instance: Any) -> list[str]:
    violations = []
    for error in _validator(pointer).iter_errors(instance):
        where = "/".join(str(part) for part in error.absolute_path)
        violations.append(f"{where or 'body'}: {error.message}")
    return violations
