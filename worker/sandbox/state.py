"""One cluster's objects and the API server semantics applied to them.

``ClusterState`` is the storage and the rules: resourceVersion (one counter per cluster),
uid, creationTimestamp, generation, 404/409/422, optimistic concurrency, merge patch,
server-side apply with field ownership (``metadata.managedFields``), paged lists, and the
request log tests read. It knows nothing about HTTP; ``server.py`` maps requests onto it.

Stored objects are never mutated in place: every write stores a new dict, so a reader
holding a reference (a list being serialised) never sees a half-written object.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import copy
import json
import threading
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from worker.sandbox import controllers, errors, resources, schemas
from worker.sandbox.admission import admit, check_body
from worker.sandbox.patching import (
    Path,
    deep_merge,
    delete_path,
    fields_v1,
    get_path,
    leaf_paths,
    merge_patch,
)
from worker.sandbox.resources import ResourceType
from worker.sandbox.selectors import field_selector, label_selector

Key = tuple[str, str]  # (namespace or "", name)


def now_rfc3339() -> str:
    """The current time as the API server writes timestamps."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class RequestRecord:
    """One API request as the sandbox saw it; ``(group, resource, verb)`` is what RBAC checks."""

    method: str
    path: str
    group: str
    resource: str
    verb: str
    namespace: str | None
    name: str | None
    status: int = 0

    @property
    def permission(self) -> tuple[str, str, str]:
        """The (apiGroup, resource, verb) triple an RBAC rule must grant."""
        return (self.group, self.resource, self.verb)


@dataclass
class _Manager:
    operation: str  # "Apply" or "Update"
    time: str
    paths: set[Path] = field(default_factory=set)


def _encode_continue(key: Key, resource_version: int) -> str:
    raw = json.dumps({"rv": resource_version, "start": list(key)}).encode()
    return base64.urlsafe_b64encode(raw).decode()


def _decode_continue(token: str) -> Key:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
        namespace, name = data["start"]
        return (str(namespace), str(name))
    except (ValueError, KeyError, TypeError, binascii.Error) as exc:
        raise errors.bad_request(f"continue key is not valid: {exc}") from exc


def resolve_type(ref: str) -> ResourceType:
    """A resource type from a kind, plural, short name or ``apiVersion/Kind``."""
    wanted = ref.lower()
    for rt in resources.ALL:
        names = {rt.kind.lower(), rt.plural, f"{rt.api_version}/{rt.kind}".lower(), *rt.short_names}
        if wanted in names:
            return rt
    raise LookupError(f"unknown resource type {ref!r}")


class ClusterState:
    """The objects of one sandbox cluster, thread-safe, with API server semantics."""

    def __init__(
        self,
        name: str = "default",
        objects: Iterable[dict[str, Any]] = (),
        *,
        strict_fields: bool = True,
    ) -> None:
        self.name = name
        self.strict_fields = strict_fields
        self._lock = threading.RLock()
        self._initial = [copy.deepcopy(obj) for obj in objects]
        self._rv = 0
        self._stores: dict[ResourceType, dict[Key, dict[str, Any]]] = {}
        self._sorted: dict[ResourceType, list[Key] | None] = {}
        self._managers: dict[tuple[ResourceType, Key], dict[str, _Manager]] = {}
        self._requests: list[RequestRecord] = []
        self._gpu_cache: tuple[int, dict[str, Decimal]] | None = None
        self._pods_version = 0
        self.reset()

    # ----------------------------------------------------------------- test helpers

    def reset(self) -> None:
        """Back to the objects the state was created with; the request log is emptied."""
        with self._lock:
            self._stores = {rt: {} for rt in resources.ALL}
            self._sorted = {rt: None for rt in resources.ALL}
            self._managers = {}
            self._requests = []
            self._gpu_cache = None
            self._pods_version += 1
            self.load(self._initial)

    def load(self, objects: Iterable[dict[str, Any]]) -> int:
        """Store plain Kubernetes objects as they are (seeding); return how many were stored.

        Unknown kinds raise ValueError. Namespaces that namespaced objects name are created
        when missing. Custom objects are pruned and defaulted but not rejected.
        """
        count = 0
        with self._lock:
            for obj in objects:
                rt = resources.by_kind(obj.get("apiVersion", ""), obj.get("kind", ""))
                if rt is None:
                    raise ValueError(
                        f"cannot seed {obj.get('apiVersion')}/{obj.get('kind')}: not served"
                    )
                self._seed_one(rt, copy.deepcopy(obj))
                count += 1
        return count

    def _seed_one(self, rt: ResourceType, obj: dict[str, Any]) -> None:
        metadata = obj.setdefault("metadata", {})
        if "name" not in metadata:
            raise ValueError(f"cannot seed a {rt.kind} without metadata.name")
        namespace = metadata.get("namespace", "default") if rt.namespaced else ""
        if rt.namespaced:
            metadata["namespace"] = namespace
            if ("", namespace) not in self._stores[resources.NAMESPACES]:
                self._seed_one(
                    resources.NAMESPACES,
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}},
                )
        else:
            metadata.pop("namespace", None)
        schema = schemas.schema_for(rt)
        if schema is not None:
            schemas.prune(obj, schema)
            schemas.apply_defaults(obj, schema)
        if rt == resources.PODS:
            controllers.default_pod_requests(obj)
        key = (namespace, metadata["name"])
        old = self._stores[rt].get(key)
        self._finish(rt, key, obj, old, keep_status=True)

    def get(self, ref: str, namespace: str | None, name: str) -> dict[str, Any] | None:
        """A copy of an object as a GET would return it, or None.

        ``ref`` is a kind ("ResourceQuota"), plural, short name or "apiVersion/Kind".
        """
        rt = resolve_type(ref)
        with self._lock:
            obj = self._stores[rt].get((namespace or "" if rt.namespaced else "", name))
            return copy.deepcopy(self._present(rt, obj)) if obj is not None else None

    def objects(self, ref: str | None = None) -> list[dict[str, Any]]:
        """Copies of all objects (of one type when ``ref`` is given), as GET would return them."""
        with self._lock:
            types = [resolve_type(ref)] if ref else list(resources.ALL)
            return [
                copy.deepcopy(self._present(rt, self._stores[rt][key]))
                for rt in types
                for key in self._keys(rt)
            ]

    def apply_out_of_band(
        self,
        ref: str,
        namespace: str | None,
        name: str,
        patch: dict[str, Any],
        *,
        manager: str = "kubectl-edit",
    ) -> dict[str, Any]:
        """Merge-patch an object as someone else would (``kubectl edit``); return the result.

        Goes through the same validation and resourceVersion bump as an API request. Creates
        the object when it does not exist (``patch`` must then be a whole object).
        """
        rt = resolve_type(ref)
        ns = namespace if rt.namespaced else None
        with self._lock:
            if (ns or "", name) not in self._stores[rt]:
                body = copy.deepcopy(patch)
                body.setdefault("metadata", {})["name"] = name
                body.setdefault("apiVersion", rt.api_version)
                body.setdefault("kind", rt.kind)
                if rt.namespaced:
                    body["metadata"]["namespace"] = ns
                if rt in (resources.PODS, resources.NODES):
                    self.load([body])
                    return self.get(ref, ns, name) or {}
                created, _ = self.create(rt, ns, body, field_manager=manager)
                return created
            if rt in (resources.PODS, resources.NODES):
                current = self._stores[rt][(ns or "", name)]
                self.load([merge_patch(current, patch)])
                return self.get(ref, ns, name) or {}
            result, _, _ = self.patch(
                rt, ns, name, patch, "application/merge-patch+json", field_manager=manager
            )
            return result

    def delete_out_of_band(self, ref: str, namespace: str | None, name: str) -> bool:
        """Delete an object as someone else would; return whether it existed."""
        rt = resolve_type(ref)
        with self._lock:
            key = (namespace or "" if rt.namespaced else "", name)
            if key not in self._stores[rt]:
                return False
            self._remove(rt, key)
            return True

    @property
    def resource_version(self) -> int:
        """The cluster's current resourceVersion counter."""
        with self._lock:
            return self._rv

    # ----------------------------------------------------------------- request log

    def record(self, request: RequestRecord) -> RequestRecord:
        """Append a request to the log (the server updates ``status`` when it answers)."""
        with self._lock:
            self._requests.append(request)
        return request

    @property
    def requests(self) -> list[RequestRecord]:
        """A copy of the request log, oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        """Empty the request log."""
        with self._lock:
            self._requests.clear()

    # ----------------------------------------------------------------- reads

    def _keys(self, rt: ResourceType) -> list[Key]:
        keys = self._sorted[rt]
        if keys is None:
            keys = sorted(self._stores[rt])
            self._sorted[rt] = keys
        return keys

    def _gpu_used(self) -> dict[str, Decimal]:
        if self._gpu_cache is None or self._gpu_cache[0] != self._pods_version:
            pods = self._stores[resources.PODS].values()
            self._gpu_cache = (self._pods_version, controllers.gpu_requests_by_namespace(pods))
        return self._gpu_cache[1]

    def _present(self, rt: ResourceType, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as served: ResourceQuota status is computed from the current pods."""
        if rt == resources.RESOURCE_QUOTAS:
            used = self._gpu_used().get(obj["metadata"]["namespace"], Decimal(0))
            return controllers.resource_quota_with_status(obj, used)
        return obj

    def read(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """GET of one object; 404 ApiError when absent."""
        with self._lock:
            obj = self._stores[rt].get((namespace or "", name))
            if obj is None:
                raise errors.not_found(rt, name)
            return self._present(rt, obj)

    def list_objects(
        self,
        rt: ResourceType,
        namespace: str | None,
        *,
        labels: str | None = None,
        fields: str | None = None,
        limit: int | None = None,
        continue_token: str | None = None,
    ) -> dict[str, Any]:
        """A list response with ``limit``/``continue`` paging in key order (namespace, name)."""
        match_labels = label_selector(labels)
        match_fields = field_selector(fields)
        with self._lock:
            keys = self._keys(rt)
            if namespace is not None and rt.namespaced:
                low = bisect.bisect_left(keys, (namespace, ""))
                high = bisect.bisect_left(keys, (namespace + "\x00", ""))
            else:
                low, high = 0, len(keys)
            start = low
            if continue_token:
                start = max(low, bisect.bisect_right(keys, _decode_continue(continue_token)))
            store = self._stores[rt]
            items: list[dict[str, Any]] = []
            next_token = None
            index = start
            while index < high:
                obj = store[keys[index]]
                index += 1
                if match_labels(obj) and match_fields(obj):
                    items.append(self._present(rt, obj))
                    if limit and len(items) >= limit and index < high:
                        next_token = _encode_continue(keys[index - 1], self._rv)
                        break
            metadata: dict[str, Any] = {"resourceVersion": str(self._rv)}
            if next_token:
                metadata["continue"] = next_token
                if not labels and not fields:
                    metadata["remainingItemCount"] = high - index
        if not rt.custom:
            items = [
                {k: v for k, v in item.items() if k not in ("apiVersion", "kind")} for item in items
            ]
        return {
            "kind": f"{rt.kind}List",
            "apiVersion": rt.api_version,
            "metadata": metadata,
            "items": items,
        }

    # ----------------------------------------------------------------- writes

    def create(
        self,
        rt: ResourceType,
        namespace: str | None,
        body: Any,
        *,
        field_manager: str = "unknown",
        field_validation: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """POST: create a new object; 409 AlreadyExists if the name is taken."""
        obj = check_body(rt, namespace, None, body)
        name = obj["metadata"]["name"]
        with self._lock:
            key = (namespace or "", name)
            self._require_namespace(rt, namespace)
            if key in self._stores[rt]:
                raise errors.already_exists(rt, name)
            warnings = admit(
                rt,
                obj,
                strict_fields=self.strict_fields,
                field_validation=field_validation,
                apply=False,
            )
            stored = self._finish(rt, key, obj, None)
            self._track_update(rt, key, None, stored, field_manager)
            return self._present(rt, self._stores[rt][key]), warnings

    def replace(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        body: Any,
        *,
        field_manager: str = "unknown",
        field_validation: str | None = None,
    ) -> tuple[dict[str, Any], list[str]]:
        """PUT: replace an existing object; 409 Conflict on a stale metadata.resourceVersion."""
        obj = check_body(rt, namespace, name, body)
        with self._lock:
            key = (namespace or "", name)
            old = self._stores[rt].get(key)
            if old is None:
                raise errors.not_found(rt, name)
            self._check_precondition(rt, name, body, old)
            warnings = admit(
                rt,
                obj,
                strict_fields=self.strict_fields,
                field_validation=field_validation,
                apply=False,
            )
            stored = self._finish(rt, key, obj, old)
            self._track_update(rt, key, old, stored, field_manager)
            return self._present(rt, stored), warnings

    def patch(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        patch: Any,
        content_type: str,
        *,
        field_manager: str | None = None,
        field_validation: str | None = None,
        force: bool = False,
    ) -> tuple[dict[str, Any], list[str], bool]:
        """PATCH: merge patch, strategic merge patch or server-side apply.

        Returns (object, warnings, created); only an apply can create.
        """
        kind = content_type.split(";")[0].strip().lower()
        if kind == "application/apply-patch+yaml":
            return self._apply(rt, namespace, name, patch, field_manager, field_validation, force)
        if kind not in ("application/merge-patch+json", "application/strategic-merge-patch+json"):
            raise errors.unsupported_media_type(content_type)
        if force:
            raise errors.bad_request("force may not be specified for non-apply patch")
        if not isinstance(patch, dict):
            raise errors.bad_request("the patch must be a JSON object")
        with self._lock:
            key = (namespace or "", name)
            old = self._stores[rt].get(key)
            if old is None:
                raise errors.not_found(rt, name)
            self._check_precondition(rt, name, patch, old)
            merged = merge_patch(copy.deepcopy(old), patch)
            obj = check_body(rt, namespace, name, merged)
            warnings = admit(
                rt,
                obj,
                strict_fields=self.strict_fields,
                field_validation=field_validation,
                apply=False,
            )
            stored = self._finish(rt, key, obj, old)
            self._track_update(rt, key, old, stored, field_manager or "unknown")
            return self._present(rt, stored), warnings, False

    def _apply(
        self,
        rt: ResourceType,
        namespace: str | None,
        name: str,
        applied: Any,
        field_manager: str | None,
        field_validation: str | None,
        force: bool,
    ) -> tuple[dict[str, Any], list[str], bool]:
        """Server-side apply: merge the applied configuration, tracking field ownership."""
        if not field_manager:
            raise errors.bad_request(
                "PATCH, fieldManager: Required value: is required for apply patch"
            )
        if not isinstance(applied, dict):
            raise errors.bad_request("the apply configuration must be an object")
        for required in ("apiVersion", "kind"):
            if not applied.get(required):
                raise errors.bad_request(f"{required} must be set in an apply configuration")
        config = check_body(rt, namespace, name, applied)
        applied_paths = leaf_paths(config)
        with self._lock:
            key = (namespace or "", name)
            old = self._stores[rt].get(key)
            owners = self._managers.get((rt, key), {})
            if old is None:
                self._require_namespace(rt, namespace)
                merged = copy.deepcopy(config)
            else:
                self._check_precondition(rt, name, applied, old)
                conflicts = [
                    (manager, "." + ".".join(path))
                    for manager, entry in sorted(owners.items())
                    if manager != field_manager
                    for path in sorted(entry.paths & applied_paths)
                    if get_path(old, path) != get_path(config, path)
                ]
                if conflicts and not force:
                    raise errors.apply_conflict(rt, name, conflicts)
                merged = copy.deepcopy(old)
                previous = owners.get(field_manager)
                if previous is not None and previous.operation == "Apply":
                    others = set().union(
                        *(e.paths for m, e in owners.items() if m != field_manager)
                    )
                    for path in previous.paths - applied_paths - others:
                        delete_path(merged, path)
                deep_merge(merged, {k: v for k, v in config.items() if k != "status"})
            obj = check_body(rt, namespace, name, merged)
            warnings = admit(
                rt, obj, strict_fields=self.strict_fields, field_validation="Strict", apply=True
            )
            stored = self._finish(rt, key, obj, old)
            owners = self._managers.setdefault((rt, key), {})
            for manager, entry in list(owners.items()):
                if manager == field_manager:
                    continue
                entry.paths = {
                    path
                    for path in entry.paths
                    if path not in applied_paths
                    or get_path(old or {}, path) == get_path(config, path)
                }
                if not entry.paths:
                    del owners[manager]
            owners[field_manager] = _Manager("Apply", now_rfc3339(), set(applied_paths))
            stored = self._render_managed_fields(rt, key, stored)
            return self._present(rt, stored), warnings, old is None

    def delete(self, rt: ResourceType, namespace: str | None, name: str) -> dict[str, Any]:
        """DELETE: remove an object and return it as it was; 404 if absent."""
        with self._lock:
            key = (namespace or "", name)
            obj = self._stores[rt].get(key)
            if obj is None:
                raise errors.not_found(rt, name)
            presented = self._present(rt, obj)
            self._remove(rt, key)
            return presented

    # ----------------------------------------------------------------- write helpers

    def _remove(self, rt: ResourceType, key: Key) -> None:
        del self._stores[rt][key]
        self._sorted[rt] = None
        self._managers.pop((rt, key), None)
        self._rv += 1
        if rt == resources.PODS:
            self._pods_version += 1

    def _require_namespace(self, rt: ResourceType, namespace: str | None) -> None:
        if rt.namespaced and ("", namespace or "") not in self._stores[resources.NAMESPACES]:
            raise errors.namespace_not_found(namespace or "")

    def _check_precondition(
        self, rt: ResourceType, name: str, body: Any, old: dict[str, Any]
    ) -> None:
        wanted = ((body or {}).get("metadata") or {}).get("resourceVersion")
        if wanted and str(wanted) != old["metadata"]["resourceVersion"]:
            raise errors.conflict(rt, name)

    def _finish(
        self,
        rt: ResourceType,
        key: Key,
        obj: dict[str, Any],
        old: dict[str, Any] | None,
        *,
        keep_status: bool = False,
    ) -> dict[str, Any]:
        """Set server-owned metadata and status, bump resourceVersion, store; return stored."""
        metadata = obj["metadata"]
        if old is not None:
            old_meta = old["metadata"]
            for carried in ("uid", "creationTimestamp", "generation", "managedFields"):
                if carried in old_meta:
                    metadata[carried] = old_meta[carried]
            if not keep_status and "status" in old:
                obj["status"] = copy.deepcopy(old["status"])
            elif not keep_status:
                obj.pop("status", None)
        else:
            metadata.setdefault("uid", str(uuid.uuid4()))
            metadata.setdefault("creationTimestamp", now_rfc3339())
            if not keep_status:
                obj.pop("status", None)
        if rt.custom:
            if old is None:
                metadata.setdefault("generation", 1)
            elif _spec_of(obj) != _spec_of(old):
                metadata["generation"] = old["metadata"].get("generation", 1) + 1
        if rt == resources.NAMESPACES:
            obj.setdefault("spec", {"finalizers": ["kubernetes"]})
            obj["status"] = {"phase": "Active"}
            metadata.setdefault("labels", {})["kubernetes.io/metadata.name"] = metadata["name"]
        if rt == resources.RESOURCE_QUOTAS:
            obj.pop("status", None)  # computed when served
        if rt == resources.INFERENCE_SERVICES and (
            not keep_status or "status" not in obj or old is not None
        ):
            controllers.reconcile_inference_service(old, obj, now=now_rfc3339())
        if old is not None and _same_object(old, obj):
            return old  # a no-op write does not change resourceVersion
        self._rv += 1
        metadata["resourceVersion"] = str(self._rv)
        if key not in self._stores[rt]:
            self._sorted[rt] = None
        self._stores[rt][key] = obj
        if rt == resources.PODS:
            self._pods_version += 1
        return obj

    def _track_update(
        self,
        rt: ResourceType,
        key: Key,
        old: dict[str, Any] | None,
        new: dict[str, Any],
        manager: str,
    ) -> None:
        """Give ``manager`` ownership of the fields an Update operation changed."""
        if old is new:
            return
        new_paths = leaf_paths(new)
        old_paths = leaf_paths(old) if old is not None else set()
        changed = {p for p in new_paths if get_path(old or {}, p) != get_path(new, p)}
        removed = old_paths - new_paths
        owners = self._managers.setdefault((rt, key), {})
        for name, entry in list(owners.items()):
            entry.paths -= removed
            if name != manager:
                entry.paths -= changed
            if not entry.paths:
                del owners[name]
        if changed:
            updater = owners.get(manager)
            if updater is None or updater.operation != "Update":
                updater = owners[manager] = _Manager("Update", now_rfc3339(), set())
            updater.paths |= changed
            updater.time = now_rfc3339()
        self._render_managed_fields(rt, key, new)

    def _render_managed_fields(
        self, rt: ResourceType, key: Key, stored: dict[str, Any]
    ) -> dict[str, Any]:
        owners = self._managers.get((rt, key), {})
        metadata = {k: v for k, v in stored["metadata"].items() if k != "managedFields"}
        managed = [
            {
                "manager": manager,
                "operation": entry.operation,
                "apiVersion": rt.api_version,
                "time": entry.time,
                "fieldsType": "FieldsV1",
                "fieldsV1": fields_v1(entry.paths),
            }
            for manager, entry in sorted(owners.items())
        ]
        if managed:
            metadata["managedFields"] = managed
        # Replace rather than mutate: a reader may be serialising the old metadata dict.
        stored["metadata"] = metadata
        return stored


def _spec_of(obj: dict[str, Any]) -> dict[str, Any]:
    """Everything but metadata and status: what ``metadata.generation`` counts changes of."""
    return {k: v for k, v in obj.items() if k not in ("metadata", "status")}


def _same_object(old: dict[str, Any], new: dict[str, Any]) -> bool:
    def comparable(obj: dict[str, Any]) -> dict[str, Any]:
        meta = {
            k: v
            for k, v in obj["metadata"].items()
            if k not in ("managedFields", "resourceVersion")
        }
        return {**obj, "metadata": meta}

    return comparable(old) == comparable(new)
