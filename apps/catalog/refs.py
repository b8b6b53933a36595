"""Entity references: ``[<kind>:][<namespace>/]<name>``, compared case-insensitively.

Parsing follows Backstage's ``parseEntityRef``: a ``/`` before the first ``:`` means
there is no kind part; omitted parts take the defaults of the field they appear in
(``spec.owner`` defaults to kind ``group``, every field to the referring entity's
namespace). The canonical string form is all lower case — ``component:default/petstore``
— which is what the database stores and compares.
"""

from __future__ import annotations

from dataclasses import dataclass

from apps.catalog.choices import KIND_BY_LOWER

DEFAULT_NAMESPACE = "default"


class RefError(ValueError):
    """A string that is not an entity reference (or lacks a kind where one is needed)."""


@dataclass(frozen=True)
class EntityRef:
    """A parsed entity reference; ``kind`` is lower case as references write it."""

    kind: str
    namespace: str
    name: str

    def __str__(self) -> str:
        return self.canonical

    @property
    def canonical(self) -> str:
        """The lower-case ``kind:namespace/name`` string used for storage and comparison."""
        return f"{self.kind}:{self.namespace}/{self.name}".lower()

    @property
    def kind_label(self) -> str:
        """The kind spelled as descriptors spell it (``API``, ``Component``)."""
        return KIND_BY_LOWER.get(self.kind.lower(), self.kind)

    @property
    def short(self) -> str:
        """The reference without the default namespace, for display."""
        if self.namespace.lower() == DEFAULT_NAMESPACE:
            return f"{self.kind.lower()}:{self.name}"
        return f"{self.kind.lower()}:{self.namespace}/{self.name}"


def parse_ref(
    text: str, *, default_kind: str | None = None, default_namespace: str = DEFAULT_NAMESPACE
) -> EntityRef:
    """Parse ``text`` with the given defaults; raises RefError with a readable reason."""
    if not isinstance(text, str) or not text.strip():
        raise RefError("an entity reference must be a non-empty string")
    text = text.strip()
    colon = text.find(":")
    slash = text.find("/")
    if slash != -1 and slash < colon:
        colon = -1
    kind = text[:colon] if colon != -1 else None
    namespace = text[colon + 1 : slash] if slash != -1 else None
    name = text[max(colon + 1, slash + 1) :]
    if kind == "" or namespace == "" or name == "":
        raise RefError(f'"{text}" is not on the form [<kind>:][<namespace>/]<name>')
    if "/" in name:
        raise RefError(f'"{text}" is not on the form [<kind>:][<namespace>/]<name>')
    if kind is None:
        if default_kind is None:
            raise RefError(
                f'"{text}" needs a kind here (for example "component:{name}" or "resource:{name}")'
            )
        kind = default_kind
    return EntityRef(kind=kind.lower(), namespace=namespace or default_namespace, name=name)


def canonical(kind: str, namespace: str, name: str) -> str:
    """The canonical reference of an entity's own kind, namespace and name."""
    return EntityRef(kind.lower(), namespace or DEFAULT_NAMESPACE, name).canonical


def from_canonical(ref: str) -> EntityRef:
    """Split a canonical reference (as stored) back into its parts."""
    return parse_ref(ref)
