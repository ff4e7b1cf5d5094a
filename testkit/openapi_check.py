"""Validate JSON documents against the official OpenAI OpenAPI 3.1 spec.

The spec (``testkit/specs/openai-openapi.yaml``, ~3 MB) is parsed once per process and
cached; every validator shares that one parsed document through a ``referencing``
registry, so ``$ref``s are resolved lazily and validation itself takes about a millisecond.

Two deliberate deviations from a literal reading of the spec:

* ``oneOf`` is checked as ``anyOf``: some ``oneOf`` branches in the spec overlap (a message
  ``content`` list matches more than one), so strict ``oneOf`` rejects valid documents.
* Request bodies get a closed-world check at the top level: the real API answers
  ``400 Unknown parameter: 'x'.`` for a parameter it does not know, but the spec leaves
  ``additionalProperties`` open, so :func:`request_violations` reports unknown top-level
  keys itself (nested objects are not checked for unknown keys).

The spec is the repository's own copy in ``testkit/specs/`` (see its README for where it comes
from and how to refresh it); ``$OPENAI_OPENAPI_SPEC`` points at another file instead.
"""

from __future__ import annotations

import functools
import os
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

# jsonschema ships no type information; its validators are handled as `Any` here.
from jsonschema import Draft202012Validator, validators  # type: ignore[import-untyped]
from jsonschema.exceptions import ValidationError, best_match  # type: ignore[import-untyped]
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

SPEC_ENV_VAR = "OPENAI_OPENAPI_SPEC"
SPEC_FILENAME = "openai-openapi.yaml"
#: The copies of the official specs the tests use, kept in the repository.
SPEC_DIR = Path(__file__).resolve().parent / "specs"
_SPEC_URI = "urn:openai-openapi"

# Draft 2020-12 with `oneOf` evaluated exactly like `anyOf` (see module docstring).
_LenientValidator = validators.extend(
    Draft202012Validator,
    validators={"oneOf": Draft202012Validator.VALIDATORS["anyOf"]},
)

#: Seconds the last (uncached) spec load took; ``None`` until the spec was loaded.
load_seconds: float | None = None


def find_spec() -> Path:
    """Locate ``openai-openapi.yaml``: ``$OPENAI_OPENAPI_SPEC``, else the repository's copy."""
    override = os.environ.get(SPEC_ENV_VAR)
    if override:
        return Path(override)
    return SPEC_DIR / SPEC_FILENAME


@functools.cache
def spec() -> dict[str, Any]:
    """The parsed spec (loaded once per process; LibYAML's CLoader when available)."""
    global load_seconds
    started = time.perf_counter()
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    with find_spec().open("rb") as fh:
        document: dict[str, Any] = yaml.load(fh, Loader=loader)
    load_seconds = time.perf_counter() - started
    return document


@functools.cache
def _registry() -> Registry[Any]:
    resource: Resource[Any] = Resource.from_contents(spec(), default_specification=DRAFT202012)
    registry: Registry[Any] = Registry().with_resource(_SPEC_URI, resource)
    return registry


def _pointer(*segments: str) -> str:
    """A JSON pointer into the spec, escaping ``~`` and ``/`` in each segment."""
    escaped = (s.replace("~", "~0").replace("/", "~1") for s in segments)
    return "#/" + "/".join(escaped)


@functools.cache
def _validator(pointer: str) -> Any:
    return _LenientValidator({"$ref": _SPEC_URI + pointer}, registry=_registry())


def schema_pointer(name: str) -> str:
    """Pointer to ``#/components/schemas/<name>``."""
    if name not in spec()["components"]["schemas"]:
        raise KeyError(f"no schema {name!r} in the OpenAI spec")
    return _pointer("components", "schemas", name)


def request_body_pointer(path: str, method: str) -> str:
    """Pointer to the JSON request body schema of ``method path`` (spec path, no ``/v1``)."""
    operation = spec()["paths"][path][method.lower()]
    if "application/json" not in operation["requestBody"]["content"]:
        raise KeyError(f"{method.upper()} {path} takes no JSON body")
    return _pointer(
        "paths", path, method.lower(), "requestBody", "content", "application/json", "schema"
    )


def _resolve(node: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow local ``$ref``s of a spec node until a concrete schema is reached."""
    while "$ref" in node:
        ref: str = node["$ref"]
        current: Any = spec()
        for raw in ref.removeprefix("#/").split("/"):
            current = current[raw.replace("~1", "/").replace("~0", "~")]
        node = current
    return node


def known_properties(pointer: str) -> frozenset[str]:
    """Top-level property names a schema declares, through ``$ref`` and ``allOf``."""
    return _known_properties(pointer)


@functools.cache
def _known_properties(pointer: str) -> frozenset[str]:
    names: set[str] = set()

    def walk(node: Mapping[str, Any]) -> None:
        node = _resolve(node)
        names.update(node.get("properties", {}))
        for part in node.get("allOf", []):
            walk(part)

    walk({"$ref": pointer})
    return frozenset(names)


def _describe(error: ValidationError) -> str:
    # For anyOf/oneOf failures `best_match` digs into the most relevant branch error.
    deepest = best_match([error]) or error
    return f"{deepest.message} (at {deepest.json_path})"


def iter_violations(pointer: str, instance: object) -> Iterator[str]:
    """Human-readable schema violations of ``instance`` against the schema at ``pointer``."""
    errors = sorted(_validator(pointer).iter_errors(instance), key=lambda e: list(e.path))
    for error in errors:
        yield _describe(error)


def violations(schema_name: str, instance: object) -> list[str]:
    """Violations of ``instance`` against ``#/components/schemas/<schema_name>``."""
    return list(iter_violations(schema_pointer(schema_name), instance))


def request_violations(path: str, method: str, body: object) -> list[str]:
    """Violations of a request body: schema errors plus unknown top-level parameters.

    ``path`` is the spec path without the ``/v1`` prefix, e.g. ``"/responses"``.
    """
    pointer = request_body_pointer(path, method)
    found = list(iter_violations(pointer, body))
    if isinstance(body, Mapping):
        known = known_properties(pointer)
        found.extend(f"Unknown parameter: {key!r}." for key in body if key not in known)
    return found


def preload() -> float:
    """Load the spec now (e.g. in a worker thread) and return how long loading took."""
    spec()
    _registry()
    return load_seconds or 0.0
