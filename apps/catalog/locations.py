"""Reading registered locations: fetch over http(s), follow Location targets, ingest.

A refresh reads in two passes. First it fetches the registered file and, breadth
first, every file that Location entities point at (``spec.target``/``spec.targets``,
relative to the file that names them), parsing each. Then it ingests each valid file
as its own source, all-or-nothing per file; ``$text``/``$json``/``$yaml`` placeholders
are filled in from URLs relative to the file. A file that fails to read or validate
keeps its previous entities (and so do the files it pointed at last time); a file that
nothing points at any more has its entities orphaned. Only http and https are read:
never ``file://``, which would expose the server's own disk.
"""

from __future__ import annotations

import copy
import json
import logging
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import yaml

from apps.catalog import services
from apps.catalog.choices import EntityKind, ReadStatus, SourceKind
from apps.catalog.descriptors import (
    InvalidDescriptorFile,
    ParsedDocument,
    find_placeholders,
    parse_file,
)
from apps.catalog.models import Location, Source
from apps.core.errors import DomainError

log = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10
MAX_BYTES = 5_000_000
MAX_FILES = 200
MAX_PLACEHOLDERS = 100


class FetchError(Exception):
    """A URL could not be read; the message says why (HTTP status, timeout, scheme)."""


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> Any:
        if urlsplit(newurl).scheme not in ("http", "https"):
            raise FetchError(f"redirected to a non-http(s) URL ({newurl})")
        return super().redirect_request(req, fp, code, msg, headers, newurl)


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def fetch_text(url: str, *, timeout: float = TIMEOUT_SECONDS) -> str:
    """GET ``url`` (http or https only) and return its text, or raise FetchError."""
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchError("only http:// and https:// URLs are read")
    request = urllib.request.Request(
        url, headers={"User-Agent": "tarmac-catalog/1", "Accept": "application/yaml, text/*"}
    )
    try:
        with _OPENER.open(request, timeout=timeout) as response:
            body = response.read(MAX_BYTES + 1)
            charset = response.headers.get_content_charset() or "utf-8"
    except urllib.error.HTTPError as exc:
        raise FetchError(f"HTTP {exc.code} {exc.reason}") from exc
    except urllib.error.URLError as exc:
        raise FetchError(f"could not connect: {exc.reason}") from exc
    except TimeoutError as exc:
        raise FetchError(f"timed out after {timeout:g} s") from exc
    except OSError as exc:
        raise FetchError(str(exc) or exc.__class__.__name__) from exc
    if len(body) > MAX_BYTES:
        raise FetchError(f"larger than {MAX_BYTES:,} bytes")
    try:
        return body.decode(charset)
    except (LookupError, UnicodeDecodeError) as exc:
        raise FetchError(f"not {charset} text") from exc


@dataclass
class FileRead:
    """One file of a location tree: its text and documents, or why it could not be used."""

    url: str
    text: str = ""
    docs: list[ParsedDocument] | None = None
    error: str = ""
    optional: bool = False
    targets: list[str] = field(default_factory=list)


def _targets(url: str, docs: list[ParsedDocument]) -> tuple[list[tuple[str, bool]], list[str]]:
    found: list[tuple[str, bool]] = []
    errors: list[str] = []
    for doc in docs:
        optional = doc.spec.get("presence") == "optional"
        for target in doc.location_targets:
            absolute = urljoin(url, target)
            if urlsplit(absolute).scheme not in ("http", "https"):
                errors.append(f"{doc.ref}: target {target} is not an http(s) URL; not read")
                continue
            found.append((absolute, optional))
    return found, errors


def read_tree(root_url: str) -> tuple[dict[str, FileRead], list[str]]:
    """Fetch and parse the registered file and every file its Location entities reach."""
    files: dict[str, FileRead] = {}
    errors: list[str] = []
    queue: list[tuple[str, bool]] = [(root_url, False)]
    while queue:
        url, optional = queue.pop(0)
        if url in files:
            continue
        if len(files) >= MAX_FILES:
            errors.append(f"stopped after {MAX_FILES} files; {url} and others were not read")
            break
        read = FileRead(url=url, optional=optional)
        files[url] = read
        try:
            read.text = fetch_text(url)
        except FetchError as exc:
            read.error = str(exc)
            if not (optional and "HTTP 404" in read.error):
                errors.append(f"{url}: {read.error}")
            continue
        try:
            read.docs = parse_file(read.text)
        except InvalidDescriptorFile as exc:
            read.error = "; ".join(str(p) for p in exc.problems[:10])
            errors.append(f"{url}: {read.error}")
            continue
        found, target_errors = _targets(url, read.docs)
        errors.extend(f"{url}: {e}" for e in target_errors)
        read.targets = [t for t, _ in found]
        queue.extend(found)
    return files, errors


def make_resolver(file_url: str, files: dict[str, FileRead]) -> services.Resolver:
    """Errors of a document's targets, and its placeholders filled in from their URLs."""
    budget = {"left": MAX_PLACEHOLDERS}

    def resolve(doc: ParsedDocument) -> list[str]:
        errors: list[str] = []
        if doc.kind == EntityKind.LOCATION:
            for target in doc.location_targets:
                read = files.get(urljoin(file_url, target))
                if (
                    read is not None
                    and read.error
                    and not (read.optional and "HTTP 404" in read.error)
                ):
                    errors.append(f"target {target}: {read.error}")
        placeholders = find_placeholders(doc.spec)
        if not placeholders:
            return errors
        doc.spec = copy.deepcopy(doc.spec)
        for path, key, target in placeholders:
            where = "spec." + ".".join(str(p) for p in path)
            if budget["left"] <= 0:
                errors.append(f"{where}: {key} {target} not read (too many placeholders)")
                continue
            budget["left"] -= 1
            try:
                text = fetch_text(urljoin(file_url, target))
                value: Any = text
                if key == "$json":
                    value = json.loads(text)
                elif key == "$yaml":
                    value = yaml.safe_load(text)
            except (FetchError, ValueError, yaml.YAMLError) as exc:
                errors.append(f"{where}: {key} {target} could not be read: {exc}")
                continue
            _set_path(doc.spec, path, value)
        return errors

    return resolve


def _set_path(root: Any, path: tuple[Any, ...], value: Any) -> None:
    target = root
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value


def _protected(sources: dict[str, Source], failed: list[str]) -> set[str]:
    """Files a failed read may still point at: their entities must not be orphaned."""
    protected: set[str] = set()
    stack = list(failed)
    while stack:
        url = stack.pop()
        if url in protected:
            continue
        protected.add(url)
        source = sources.get(url)
        if source is not None:
            stack.extend(source.targets or [])
    return protected


def refresh(location: Location) -> dict[str, int]:
    """Read the location now and ingest what it holds. Never raises: errors are recorded."""
    totals = {"files": 0, "created": 0, "updated": 0, "unchanged": 0, "orphaned": 0}
    try:
        files, errors = read_tree(location.url)
        sources = {s.name: s for s in Source.objects.filter(location=location)}
        failed: list[str] = []
        for url, read in files.items():
            if read.docs is None:
                if read.error:
                    failed.append(url)
                    if url in sources:
                        Source.objects.filter(pk=sources[url].pk).update(
                            last_status=ReadStatus.ERROR, last_error=read.error[:4000]
                        )
                continue
            source = sources.get(url) or services.get_source(
                kind=SourceKind.LOCATION,
                name=url,
                team=location.team,
                actor=None,
                location=location,
            )
            sources[url] = source
            try:
                result = services.ingest_file(
                    read.text,
                    actor=None,
                    source=source,
                    docs=read.docs,
                    resolve=make_resolver(url, files),
                )
            except DomainError as exc:
                failed.append(url)
                errors.append(f"{url}: {exc.message}")
                Source.objects.filter(pk=source.pk).update(
                    last_status=ReadStatus.ERROR, last_error=exc.message[:4000]
                )
                continue
            Source.objects.filter(pk=source.pk).update(targets=read.targets)
            source.targets = read.targets
            errors.extend(f"{url}: {w}" for w in result.warnings)
            totals["files"] += 1
            for name, count in result.counts().items():
                totals[name] += count
        keep = set(files) | _protected(sources, failed)
        dropped = [s for url, s in sources.items() if url not in keep]
        totals["orphaned"] += len(services.orphan_sources(dropped, location=location))
        status = ReadStatus.ERROR if errors else ReadStatus.OK
        services.record_location_read(
            location, status=status, error="\n".join(errors), counts=totals
        )
    except Exception as exc:  # a beat task must never die on one bad location
        log.exception("refreshing catalog location %s failed", location.pk)
        services.record_location_read(
            location, status=ReadStatus.ERROR, error=f"internal error: {exc}", counts=totals
        )
    return totals
