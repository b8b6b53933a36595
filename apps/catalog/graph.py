"""The relations graph of an entity page: one hop around the entity, expandable per node.

Laid out radially in Python and drawn as SVG by the template: the entity in the middle,
its neighbours on a circle, and the neighbours of an expanded node on an arc beyond
it. Nodes are links to their pages; unresolved ones (not in the catalog) are dashed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse

from apps.catalog.refs import from_canonical

NODE_W = 168
NODE_H = 38
RING = 230
ARC = 190
MAX_NEIGHBOURS = 24
MAX_EXPANDED = 6


@dataclass
class Node:
    ref: str
    label: str
    kind: str
    x: float
    y: float
    url: str
    resolved: bool
    center: bool = False
    expanded: bool = False

    @property
    def left(self) -> float:
        return self.x - NODE_W / 2

    @property
    def top(self) -> float:
        return self.y - NODE_H / 2

    @property
    def kind_y(self) -> float:
        return self.y - 5

    @property
    def name_y(self) -> float:
        return self.y + 11


@dataclass
class Edge:
    x1: float
    y1: float
    x2: float
    y2: float
    label: str

    @property
    def lx(self) -> float:
        return (self.x1 + self.x2) / 2

    @property
    def ly(self) -> float:
        return (self.y1 + self.y2) / 2 - 4


@dataclass
class Graph:
    nodes: list[Node] = field(default_factory=list)
    edges: list[Edge] = field(default_factory=list)
    hidden: int = 0
    view_box: str = "0 0 100 100"
    width: int = 100
    height: int = 100

    @property
    def neighbours(self) -> list[Node]:
        return [n for n in self.nodes if not n.center]


def _url(ref: str) -> str:
    parsed = from_canonical(ref)
    return reverse(
        "catalog:entity-detail",
        kwargs={"kind": parsed.kind, "namespace": parsed.namespace, "name": parsed.name},
    )


def _label(ref: str, target: Any) -> tuple[str, str]:
    parsed = from_canonical(ref)
    name = (target.display_title if target is not None else parsed.name)[:24]
    return name, parsed.kind


def _dedupe(relations: list[Any]) -> list[Any]:
    seen: set[tuple[str, str]] = set()
    out = []
    for rel in relations:
        key = (rel.type, rel.target_ref)
        if key not in seen:
            seen.add(key)
            out.append(rel)
    return out


def build_graph(
    entity: Any, relations: list[Any], expanded: dict[str, list[Any]] | None = None
) -> Graph:
    """Place ``entity``, its related entities, and those of each ``expanded`` ref."""
    graph = Graph()
    center = Node(
        ref=entity.ref,
        label=entity.display_title[:24],
        kind=entity.kind.lower(),
        x=0.0,
        y=0.0,
        url=entity.get_absolute_url(),
        resolved=True,
        center=True,
    )
    graph.nodes.append(center)
    placed: dict[str, Node] = {entity.ref: center}
    relations = _dedupe(relations)
    by_target: dict[str, list[str]] = {}
    targets: dict[str, Any] = {}
    for rel in relations:
        by_target.setdefault(rel.target_ref, []).append(rel.get_type_display())
        targets.setdefault(rel.target_ref, rel.target_entity)
    ordered = list(by_target)[:MAX_NEIGHBOURS]
    graph.hidden = max(0, len(by_target) - len(ordered))
    for i, ref in enumerate(ordered):
        angle = 2 * math.pi * i / max(1, len(ordered)) - math.pi / 2
        label, kind = _label(ref, targets[ref])
        node = Node(
            ref=ref,
            label=label,
            kind=kind,
            x=RING * math.cos(angle),
            y=RING * math.sin(angle),
            url=_url(ref),
            resolved=targets[ref] is not None,
        )
        graph.nodes.append(node)
        placed[ref] = node
        graph.edges.append(Edge(0.0, 0.0, node.x, node.y, ", ".join(by_target[ref])))
    for ref, rels in (expanded or {}).items():
        parent = placed.get(ref)
        if parent is None or parent.center:
            continue
        parent.expanded = True
        base = math.atan2(parent.y, parent.x)
        extra = [r for r in _dedupe(rels) if r.target_ref not in placed][:8]
        for j, rel in enumerate(extra):
            spread = (j - (len(extra) - 1) / 2) * (math.pi / 9)
            label, kind = _label(rel.target_ref, rel.target_entity)
            node = Node(
                ref=rel.target_ref,
                label=label,
                kind=kind,
                x=parent.x + ARC * math.cos(base + spread),
                y=parent.y + ARC * math.sin(base + spread),
                url=_url(rel.target_ref),
                resolved=rel.target_entity is not None,
            )
            graph.nodes.append(node)
            placed[rel.target_ref] = node
            graph.edges.append(Edge(parent.x, parent.y, node.x, node.y, rel.get_type_display()))
    xs = [n.x for n in graph.nodes]
    ys = [n.y for n in graph.nodes]
    pad_x, pad_y = NODE_W / 2 + 20, NODE_H / 2 + 24
    left, top = min(xs) - pad_x, min(ys) - pad_y
    graph.width = int(max(xs) - min(xs) + 2 * pad_x)
    graph.height = int(max(ys) - min(ys) + 2 * pad_y)
    graph.view_box = f"{left:.0f} {top:.0f} {graph.width} {graph.height}"
    return graph
