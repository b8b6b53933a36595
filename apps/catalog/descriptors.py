"""Backstage descriptor files: parse, validate, and derive relations — no database here.

A file (``catalog-info.yaml``) holds one or more YAML documents, each an entity::

    apiVersion: backstage.io/v1alpha1
    kind: Component
    metadata: {name: petstore, tags: [rest]}
    spec: {type: service, lifecycle: production, owner: team-c, providesApis: [petstore]}

``parse_file`` checks every document before the caller stores anything and raises
``InvalidDescriptorFile`` listing each problem with its document index, line and field
(``document 2, line 14, field metadata.name: "invalid component" is not a valid name``).
The rules are Backstage's: the envelope and metadata formats of its
``FieldFormatEntityPolicy`` and the JSON schemas of each built-in kind; relations are
derived as its ``BuiltinKindsEntityProcessor`` derives them.

YAML is read as YAML 1.2 reads it (as Backstage's parser does): ``yes``/``no``/``on``
are strings and dates stay strings, so what is stored is exactly JSON.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from apps.catalog.choices import KIND_BY_LOWER, EntityKind, RelationType
from apps.catalog.refs import DEFAULT_NAMESPACE, EntityRef, RefError, parse_ref
from apps.catalog.validation import SPEC_SCHEMAS, Issue, check_metadata, spec_issues, type_name
from apps.core.errors import DomainError

MAX_FILE_CHARS = 5_000_000
MAX_NODES = 500_000
MAX_PROBLEMS = 50
API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
ROOT_FIELDS = ("apiVersion", "kind", "metadata", "spec", "relations", "status")
PLACEHOLDER_KEYS = ("$text", "$json", "$yaml")

Path = tuple[str | int, ...]


# --- YAML with line numbers ---------------------------------------------------------


# libyaml's parser when PyYAML was built with it (ten times faster), else the pure one.
_SafeBase: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeBase):
    """Safe loading with YAML 1.2 scalars: only true/false are booleans, no timestamps."""


_DROPPED_TAGS = {
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:value",
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_TAGS]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool",
    re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"),
    list("tTfF"),
)


@dataclass(frozen=True)
class DescriptorProblem:
    """One reason a document was rejected, located as precisely as the YAML allows."""

    document: int
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"document {self.document}"
        if self.line is not None:
            where += f", line {self.line}"
        if self.field:
            where += f", field {self.field}"
        return f"{where}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "document": self.document,
            "line": self.line,
            "field": self.field,
            "message": self.message,
        }


class InvalidDescriptorFile(DomainError):
    """The file has at least one invalid document; nothing from it may be stored."""

    def __init__(self, problems: list[DescriptorProblem]) -> None:
        self.problems = problems[:MAX_PROBLEMS]
        first = str(problems[0]) if problems else "the file is empty"
        count = len(problems)
        summary = f"The file was not ingested ({count} problem{'s' if count != 1 else ''}): {first}"
        super().__init__(summary)


@dataclass(frozen=True)
class DerivedRelation:
    """A relation the entity's descriptor implies: this entity ``type`` ``target``."""

    type: str
    target: str
    inverse: str


@dataclass
class ParsedDocument:
    """One valid entity document, with what the catalog indexes from it."""

    index: int
    line: int
    data: dict[str, Any]
    raw_text: str
    kind: str
    namespace: str
    name: str
    ref: str
    title: str
    description: str
    type: str
    lifecycle: str
    owner_ref: str
    system_ref: str
    domain_ref: str
    tags: list[str]
    labels: dict[str, str]
    annotations: dict[str, str]
    links: list[dict[str, Any]]
    spec: dict[str, Any]
    relations: list[DerivedRelation] = field(default_factory=list)
    content_hash: str = ""

    @property
    def location_targets(self) -> list[str]:
        """The targets a Location entity points at (``spec.target`` and ``spec.targets``)."""
        if self.kind != EntityKind.LOCATION:
            return []
        targets = list(self.spec.get("targets") or [])
        if self.spec.get("target"):
            targets.insert(0, self.spec["target"])
        return [t for t in targets if isinstance(t, str)]


class _TooBig(Exception):
    pass


@dataclass
class _Lines:
    """The line of every key and item of one document, by path."""

    start: int
    by_path: dict[Path, int] = field(default_factory=dict)
    duplicates: list[tuple[Path, int]] = field(default_factory=list)
    non_string_keys: list[tuple[Path, int]] = field(default_factory=list)
    nodes: int = 0

    def line_of(self, path: Path) -> int:
        """The line of ``path``, or of its nearest ancestor that has one."""
        for end in range(len(path), 0, -1):
            line = self.by_path.get(path[:end])
            if line is not None:
                return line
        return self.start


def _walk(node: yaml.Node, path: Path, lines: _Lines) -> None:
    lines.nodes += 1
    if lines.nodes > MAX_NODES:
        raise _TooBig
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key_node, value_node in node.value:
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                lines.non_string_keys.append((path, line))
                continue
            key = key_node.value
            if key == "<<" and key_node.tag == "tag:yaml.org,2002:merge":
                _walk(value_node, path, lines)
                continue
            if key in seen:
                lines.duplicates.append(((*path, key), line))
            seen.add(key)
            lines.by_path.setdefault((*path, key), line)
            _walk(value_node, (*path, key), lines)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines.by_path.setdefault((*path, i), item.start_mark.line + 1)
            _walk(item, (*path, i), lines)


def format_path(path: Path) -> str:
    """``("metadata", "tags", 1)`` → ``metadata.tags[1]``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _yaml_error(exc: yaml.YAMLError, index: int) -> DescriptorProblem:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    problem = getattr(exc, "problem", None) or str(exc)
    context = getattr(exc, "context", None)
    message = f"not valid YAML: {problem}" + (f" ({context})" if context else "")
    return DescriptorProblem(index, mark.line + 1 if mark else None, "", message)


@dataclass
class _RawDocument:
    index: int
    data: Any
    raw_text: str
    lines: _Lines


def _documents(text: str) -> Iterator[_RawDocument | DescriptorProblem]:
    """Yield each document's data and lines, or the problem that stopped the reading."""
    loader = _Loader(text)
    index = 0
    try:
        while True:
            try:
                if not loader.check_node():
                    return
                index += 1
                node = loader.get_node()
            except yaml.YAMLError as exc:
                yield _yaml_error(exc, index if index else 1)
                return
            if node is None:
                continue
            lines = _Lines(start=node.start_mark.line + 1)
            try:
                _walk(node, (), lines)
            except _TooBig:
                yield DescriptorProblem(
                    index, lines.start, "", "the document is too large or uses too many aliases"
                )
                return
            try:
                data = loader.construct_document(node)
            except yaml.YAMLError as exc:
                yield _yaml_error(exc, index)
                continue
            raw = text[node.start_mark.index : node.end_mark.index].rstrip() + "\n"
            yield _RawDocument(index, data, raw, lines)
    finally:
        loader.dispose()


# --- Relations (Backstage's BuiltinKindsEntityProcessor) ------------------------------

R = RelationType
# (spec field, default kind or None = a kind is required, outgoing, incoming)
RELATION_FIELDS: dict[str, list[tuple[str, str | None, str, str]]] = {
    EntityKind.COMPONENT: [
        ("owner", "group", R.OWNED_BY, R.OWNER_OF),
        ("subcomponentOf", "component", R.PART_OF, R.HAS_PART),
        ("providesApis", "api", R.PROVIDES_API, R.API_PROVIDED_BY),
        ("consumesApis", "api", R.CONSUMES_API, R.API_CONSUMED_BY),
        ("dependsOn", None, R.DEPENDS_ON, R.DEPENDENCY_OF),
        ("dependencyOf", None, R.DEPENDENCY_OF, R.DEPENDS_ON),
        ("system", "system", R.PART_OF, R.HAS_PART),
    ],
    EntityKind.API: [
        ("owner", "group", R.OWNED_BY, R.OWNER_OF),
        ("system", "system", R.PART_OF, R.HAS_PART),
    ],
    EntityKind.RESOURCE: [
        ("owner", "group", R.OWNED_BY, R.OWNER_OF),
        ("dependsOn", None, R.DEPENDS_ON, R.DEPENDENCY_OF),
        ("dependencyOf", None, R.DEPENDENCY_OF, R.DEPENDS_ON),
        ("system", "system", R.PART_OF, R.HAS_PART),
    ],
    EntityKind.USER: [("memberOf", "group", R.MEMBER_OF, R.HAS_MEMBER)],
    EntityKind.GROUP: [
        ("parent", "group", R.CHILD_OF, R.PARENT_OF),
        ("children", "group", R.PARENT_OF, R.CHILD_OF),
        ("members", "user", R.HAS_MEMBER, R.MEMBER_OF),
    ],
    EntityKind.SYSTEM: [
        ("owner", "group", R.OWNED_BY, R.OWNER_OF),
        ("domain", "domain", R.PART_OF, R.HAS_PART),
    ],
    EntityKind.DOMAIN: [
        ("owner", "group", R.OWNED_BY, R.OWNER_OF),
        ("subdomainOf", "domain", R.PART_OF, R.HAS_PART),
    ],
    EntityKind.LOCATION: [],
}


def _derive(
    kind: str, namespace: str, spec: dict[str, Any]
) -> tuple[list[DerivedRelation], dict[str, str], list[Issue]]:
    """Relations of one entity, the canonical refs of its single-valued fields, problems."""
    relations: list[DerivedRelation] = []
    single: dict[str, str] = {}
    issues: list[Issue] = []
    seen: set[tuple[str, str]] = set()
    for spec_field, default_kind, outgoing, incoming in RELATION_FIELDS[kind]:
        value = spec.get(spec_field)
        if value is None:
            continue
        items = value if isinstance(value, list) else [value]
        for i, item in enumerate(items):
            path: Path = (
                ("spec", spec_field, i) if isinstance(value, list) else ("spec", spec_field)
            )
            try:
                ref = parse_ref(item, default_kind=default_kind, default_namespace=namespace)
            except RefError as exc:
                issues.append((path, str(exc)))
                continue
            if ref.kind not in KIND_BY_LOWER:
                issues.append((path, f'"{item}" refers to an unknown kind "{ref.kind}"'))
                continue
            if not isinstance(value, list):
                single[spec_field] = ref.canonical
            if (outgoing, ref.canonical) in seen:
                continue
            seen.add((outgoing, ref.canonical))
            relations.append(DerivedRelation(str(outgoing), ref.canonical, str(incoming)))
    return relations, single, issues


# --- The document and the file -------------------------------------------------------


def content_hash(data: Any) -> str:
    """SHA-256 of the document's canonical JSON: equal descriptors hash equal."""
    canonical = json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _check_document(raw: _RawDocument) -> tuple[ParsedDocument | None, list[DescriptorProblem]]:
    lines = raw.lines

    def problem(path: Path, message: str) -> DescriptorProblem:
        return DescriptorProblem(raw.index, lines.line_of(path), format_path(path), message)

    problems = [
        DescriptorProblem(raw.index, line, format_path(path), "is given twice in the same mapping")
        for path, line in lines.duplicates
    ]
    problems += [
        DescriptorProblem(raw.index, line, format_path(path), "mapping keys must be strings")
        for path, line in lines.non_string_keys
    ]
    data = raw.data
    if not isinstance(data, dict):
        problems.append(
            problem(
                (),
                f"expected an entity (a mapping with apiVersion, kind, metadata and spec), "
                f"not {type_name(data)}",
            )
        )
        return None, problems
    try:
        json.dumps(data, allow_nan=False)
    except (TypeError, ValueError):
        problems.append(problem((), "holds values that are not JSON (binary, sets or NaN)"))
        return None, problems
    for key in data:
        if key not in ROOT_FIELDS:
            problems.append(
                problem((key,), f"is not an allowed root field ({', '.join(ROOT_FIELDS)})")
            )
    api_version = data.get("apiVersion")
    if api_version not in API_VERSIONS:
        shown = f'"{api_version}"' if api_version is not None else "missing"
        problems.append(
            problem(("apiVersion",), f"{shown} is not supported (use {' or '.join(API_VERSIONS)})")
        )
    kind = data.get("kind")
    if kind not in SPEC_SCHEMAS:
        if isinstance(kind, str) and kind.lower() in KIND_BY_LOWER:
            hint = f' (kinds are case-sensitive: write "{KIND_BY_LOWER[kind.lower()]}")'
        else:
            hint = f" (known kinds: {', '.join(EntityKind.values)})"
        shown = f'"{kind}"' if kind is not None else "missing"
        problems.append(problem(("kind",), f"{shown} is not a known kind{hint}"))
    for path, message in check_metadata(data.get("metadata")):
        problems.append(problem(path, message))
    if kind not in SPEC_SCHEMAS:
        return None, problems
    spec = data.get("spec")
    if spec is None:
        problems.append(problem(("spec",), "is required"))
        return None, problems
    if not isinstance(spec, dict):
        problems.append(problem(("spec",), f"must be a mapping, not {type_name(spec)}"))
        return None, problems
    for path, message in spec_issues(kind, spec):
        problems.append(problem(path, message))
    if problems:
        return None, problems
    metadata = data["metadata"]
    namespace = metadata.get("namespace") or DEFAULT_NAMESPACE
    relations, single, ref_issues = _derive(kind, namespace, spec)
    if ref_issues:
        return None, [problem(path, message) for path, message in ref_issues]
    self_ref = EntityRef(kind.lower(), namespace, metadata["name"])
    doc = ParsedDocument(
        index=raw.index,
        line=lines.start,
        data=data,
        raw_text=_raw_or_dump(raw),
        kind=kind,
        namespace=namespace,
        name=metadata["name"],
        ref=self_ref.canonical,
        title=metadata.get("title") or "",
        description=metadata.get("description") or "",
        type=str(spec.get("type") or ""),
        lifecycle=str(spec.get("lifecycle") or ""),
        owner_ref=single.get("owner", ""),
        system_ref=single.get("system", ""),
        domain_ref=single.get("domain", ""),
        tags=list(metadata.get("tags") or []),
        labels=dict(metadata.get("labels") or {}),
        annotations=dict(metadata.get("annotations") or {}),
        links=list(metadata.get("links") or []),
        spec=spec,
        relations=relations,
        content_hash=content_hash(data),
    )
    return doc, []


def _raw_or_dump(raw: _RawDocument) -> str:
    """The document's own text when it reads back to the same data, else a clean dump."""
    try:
        if yaml.load(raw.raw_text, Loader=_Loader) == raw.data:
            return raw.raw_text
    except yaml.YAMLError:
        pass
    return dump_document(raw.data)


def dump_document(data: dict[str, Any]) -> str:
    """One descriptor as YAML, keys in their original order."""
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True, default_flow_style=False)


def parse_file(text: str) -> list[ParsedDocument]:
    """Every entity document of ``text``, or InvalidDescriptorFile listing each problem."""
    if len(text) > MAX_FILE_CHARS:
        raise InvalidDescriptorFile(
            [
                DescriptorProblem(
                    1, None, "", f"the file is larger than {MAX_FILE_CHARS:,} characters"
                )
            ]
        )
    docs: list[ParsedDocument] = []
    problems: list[DescriptorProblem] = []
    first_seen: dict[str, int] = {}
    for item in _documents(text):
        if isinstance(item, DescriptorProblem):
            problems.append(item)
            continue
        if item.data is None:
            continue  # an empty document, e.g. a trailing '---'
        doc, doc_problems = _check_document(item)
        problems.extend(doc_problems)
        if doc is None:
            continue
        if doc.ref in first_seen:
            problems.append(
                DescriptorProblem(
                    doc.index,
                    item.lines.line_of(("metadata", "name")),
                    "metadata.name",
                    f"{doc.ref} is defined twice in this file "
                    f"(also in document {first_seen[doc.ref]})",
                )
            )
            continue
        first_seen[doc.ref] = doc.index
        docs.append(doc)
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise InvalidDescriptorFile(problems)
    if not docs:
        raise InvalidDescriptorFile(
            [DescriptorProblem(1, None, "", "the file holds no entity documents")]
        )
    return docs


def find_placeholders(value: Any, path: Path = ()) -> list[tuple[Path, str, str]]:
    """``(path, "$text", target)`` for every substitution placeholder in a spec."""
    found: list[tuple[Path, str, str]] = []
    if isinstance(value, dict):
        if len(value) == 1:
            ((key, target),) = value.items()
            if key in PLACEHOLDER_KEYS and isinstance(target, str):
                return [(path, key, target)]
        for key, item in value.items():
            found += find_placeholders(item, (*path, key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            found += find_placeholders(item, (*path, i))
    return found
