"""``ClusterEmulator``: kmock's KubernetesEmulator with the semantics of a real API server.

Request flow (:meth:`ClusterEmulator.__call__` → :meth:`ClusterEmulator._handle`):

1. The request is parsed into a :class:`kmock.Request` (URLs of namespaces parsed correctly) and
   appended to the bounded request log (``request_log_limit`` newest requests; kmock's views such as
   ``emulator['patch']`` see only those).
2. User reactions registered through kmock's DSL are tried first, in kmock's priority order, e.g.
   ``emulator['patch', kmock.resource('example.com', 'v1', 'widgets')] << 500`` injects a fault
   (the store is then left untouched, as with a real failed request). For resource URLs, reactions
   registered as fallbacks (``emulator.fallback[...]``) are not consulted: the emulator answers.
3. Resource URLs are served from :class:`~.store.ObjectStore`: get, list (paginated, :mod:`.paging`),
   watch, create, update (PUT), patch (merge, JSON, strategic, apply), delete, deletecollection, and the
   ``status`` subresource. Bodies are JSON (YAML for apply patches); protobuf bodies of a few core kinds are
   decoded too (:mod:`.protobuf`), since client-go's typed clients (kubectl create, helm) send them that way.
   Answers are always JSON; ``kubectl get`` gets server-side Tables (:mod:`.tables`).
4. Everything else (``/api``, ``/apis``, ``/apis/<group>[/<version>]``, ``/version``, ``/healthz``)
   goes through kmock's discovery scaffold, whose renderers are overridden here to describe
   :class:`~.discovery.ResourceRegistry` (built-ins plus CRD-declared resources).

Every write applies the server's rules (:mod:`.lifecycle`, custom resources' schemas: :mod:`.schema`). The work
a real server's controllers do after some writes is done here within the request: a new CRD is established by a
second write; deleting a namespace or a CRD deletes its content first (finalizers respected), and the namespace
or CRD goes with its last object (``_delete_namespace``, ``_delete_crd``, ``_after_delete``).

API errors are answered as ``v1/Status`` documents with the conventional reasons (see :mod:`.errors`), except
for URLs that serve nothing: a plain-text ``404 page not found``, as from a real server's HTTP mux.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import dataclasses
import json
import logging
import math
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp.web
import attrs
import kmock
import yaml
from kmock._internal import parsing
from kmock._internal.apps import KMockError
from kmock._internal.rendering import ReactionMismatchError, StreamingError
from typing_extensions import override

from modelops_sandbox.cluster import (
    discovery,
    errors,
    lifecycle,
    paging,
    patching,
    protobuf,
    schema,
    selectors,
    tables,
)
from modelops_sandbox.cluster.discovery import ResourceRegistry, ResourceSpec
from modelops_sandbox.cluster.errors import api_error
from modelops_sandbox.cluster.routing import (
    ResourcePath,
    content_type,
    negotiate,
    parse_resource_path,
)
from modelops_sandbox.cluster.store import Expired, ObjectStore, StorageKey, Watcher, WatchEvent

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACES: StorageKey = ("", "namespaces")
SECRETS: StorageKey = ("", "secrets")
EVENTS: StorageKey = ("", "events")
CRDS: StorageKey = ("apiextensions.k8s.io", "customresourcedefinitions")

# The namespaces every cluster has; the first three can never be deleted.
SYSTEM_NAMESPACES = ("default", "kube-node-lease", "kube-public", "kube-system")
IMMORTAL_NAMESPACES = frozenset({"default", "kube-public", "kube-system"})
NAMESPACE_FINALIZER = "kubernetes"  # spec.finalizers: the namespace controller's, released once it is empty
CRD_FINALIZER = "customresourcecleanup.apiextensions.k8s.io"  # deletes a CRD's custom resources first
PATCH_ORDER = [
    patching.JSON_PATCH,
    patching.MERGE_PATCH,
    patching.STRATEGIC_MERGE_PATCH,
    patching.APPLY_PATCH,
]

VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "37",
    "emulationMajor": "1",
    "emulationMinor": "37",
    "minCompatibilityMajor": "1",
    "minCompatibilityMinor": "36",
    "gitVersion": "v1.37.2",
    "gitCommit": "0000000000000000000000000000000000000000",
    "gitTreeState": "clean",
    "buildDate": "2026-01-01T00:00:00Z",
    "goVersion": "go1.25.0",
    "compiler": "gc",
    "platform": "linux/amd64",
}


def _meta(obj: Obj) -> Obj:
    meta = obj.get("metadata")
    return meta if isinstance(meta, dict) else {}


def _resource_version(obj: Obj) -> str:
    return str(_meta(obj).get("resourceVersion") or "")


def _header(request: kmock.Request, name: str) -> str | None:
    lowered = name.lower()
    for key, value in request.headers.items():
        if key.lower() == lowered:
            return value
    return None


def _json(body: Any, status: int = 200) -> aiohttp.web.Response:
    return aiohttp.web.json_response(body, status=status)


def _is_dry_run(request: kmock.Request) -> bool:
    return bool(request.params.get("dryRun"))


def _line(event: dict[str, Any]) -> bytes:
    return json.dumps(event).encode() + b"\n"


@dataclasses.dataclass(frozen=True)
class WatchView:
    """What one watch sees: its namespace, its object (a name), its selectors. A change that brings an object into
    the view is ADDED, one that takes it out is DELETED, as from a real server."""

    namespace: str | None
    name: str | None
    match: selectors.Matcher

    def visible(self, obj: Obj | None) -> bool:
        if obj is None:
            return False
        meta = _meta(obj)
        if self.namespace is not None and meta.get("namespace") != self.namespace:
            return False
        if self.name is not None and meta.get("name") != self.name:
            return False
        return self.match(obj)

    def event_type(self, event: WatchEvent) -> str | None:
        """The type of the event this watch gets for a change (``None``: the watch does not see it)."""
        now_visible, was_visible = self.visible(event.object), self.visible(event.old)
        if event.type == "ADDED":
            return "ADDED" if now_visible else None
        if event.type == "DELETED":
            return "DELETED" if now_visible or was_visible else None
        if now_visible:
            return "MODIFIED" if was_visible else "ADDED"
        return "DELETED" if was_visible else None


@attrs.define(kw_only=True)
class ClusterEmulator(kmock.KubernetesEmulator):
    """
    An in-process Kubernetes API server (serve it with ``kmock.Server(emulator)``).

    Public attributes beyond kmock's DSL: ``store`` (the objects, see :class:`~.store.ObjectStore`),
    ``registry`` (the served resources), :meth:`resolve`, :meth:`render`, :meth:`close`.
    kmock's own ``objects`` array is not used by this emulator and stays empty.
    """

    request_log_limit: int = 1000
    watch_history_limit: int = 10_000
    version_info: dict[str, str] = attrs.field(factory=lambda: dict(VERSION_INFO))

    _store: ObjectStore = attrs.field(init=False)
    _registry: ResourceRegistry = attrs.field(init=False, factory=ResourceRegistry)
    _builtin_payloads: frozenset[int] = attrs.field(init=False, factory=frozenset)
    _request_count: int = attrs.field(init=False, default=0)

    @override
    def __attrs_post_init__(self) -> None:
        # kmock's discovery scaffold & error fallbacks, but not KubernetesEmulator's object serving:
        # resource requests are served by _serve_resource() from our own store.
        kmock.KubernetesScaffold.__attrs_post_init__(self)
        for probe in ("/healthz", "/livez", "/readyz"):
            self.fallback["get", probe] << b"ok"
        self._builtin_payloads = frozenset(id(payload) for payload in self._payloads)
        self._requests = collections.deque(maxlen=self.request_log_limit)  # type: ignore[assignment]
        self._store = ObjectStore(history_limit=self.watch_history_limit)
        for name in SYSTEM_NAMESPACES:
            self._create_namespace(name)

    # --- public helpers --------------------------------------------------------------------------

    @property
    def store(self) -> ObjectStore:
        return self._store

    @property
    def registry(self) -> ResourceRegistry:
        return self._registry

    def resolve(self, group: str, version: str, plural: str) -> ResourceSpec | None:
        """The served resource (built-in, CRD-declared, or declared via ``emulator.resources[...]``)."""
        spec = self._registry.lookup(group, version, plural)
        if spec is not None:
            return spec
        declared = kmock.resource(group=group, version=version, plural=plural)
        if declared in self._resources:
            return self._declared_spec(declared, self._resources[declared])
        return None

    def all_resources(self) -> list[ResourceSpec]:
        specs = self._registry.all()
        known = {spec.gvr for spec in specs}
        for declared in self._resources:
            group, version, plural = declared.group, declared.version, declared.plural
            if group is None or version is None or plural is None or (group, version, plural) in known:
                continue
            specs.append(self._declared_spec(declared, self._resources[declared]))
        return specs

    def render(self, spec: ResourceSpec, obj: Obj) -> Obj:
        """The object as served in the requested version (all versions share one storage)."""
        if obj.get("apiVersion") == spec.api_version:
            return obj
        return dict(obj, apiVersion=spec.api_version)

    def close(self) -> None:
        """End all live watch streams (call before stopping the server so shutdown is immediate)."""
        self._store.close()

    @staticmethod
    def _declared_spec(declared: kmock.resource, info: kmock.ResourceInfo) -> ResourceSpec:
        plural = declared.plural or ""
        return ResourceSpec(
            group=declared.group or "",
            version=declared.version or "",
            plural=plural,
            kind=info.kind or plural[:1].upper() + plural[1:],
            namespaced=True if info.namespaced is None else info.namespaced,
            singular=info.singular or "",
            short_names=tuple(sorted(info.shortnames)),
            categories=tuple(sorted(info.categories)),
            verbs=tuple(sorted(info.verbs)) or discovery.STANDARD_VERBS,
            subresources=tuple(sorted(s for s in info.subresources if s == "status")),
            generation=True,
        )

    def _create_namespace(self, name: str) -> None:
        obj: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        lifecycle.stamp_new(obj, namespace=None, generation=False)
        self._prepare(NAMESPACES, obj)
        self._store.create(NAMESPACES, obj)

    # --- the request pipeline --------------------------------------------------------------------

    @override
    async def __call__(self, raw_request: aiohttp.web.BaseRequest) -> aiohttp.web.StreamResponse:
        raw_response: aiohttp.web.StreamResponse | None = None
        try:
            if self.limit is not None and self._request_count >= self.limit:
                raise KMockError("Too many requests have been served so far.")
            request = await self._parse_request(raw_request)
            self._request_count += 1
            self._requests.append(request)
            try:
                return await self._handle(request)
            except StreamingError as exc:  # a kmock stream failed after its headers went out
                raw_response = exc.args[0]
                if exc.__cause__ is not None:
                    raise exc.__cause__ from None
                raise
        except kmock.KubernetesError as exc:  # an API answer (404, 409, 422...), not an emulator failure
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(exc)
            await self._stream_error(exc, raw_response)
            await raw_response.write_eof()
            return raw_response
        except Exception as exc:
            logger.exception(
                "The emulated cluster failed to serve %s %s", raw_request.method, raw_request.path
            )
            if not self._errors:
                raise
            self._errors[-1].append(exc)
            if raw_response is None or not raw_response.prepared:
                return await self._render_error(exc)
            await self._stream_error(exc, raw_response)
            await raw_response.write_eof()
            return raw_response

    async def _parse_request(self, raw: aiohttp.web.BaseRequest) -> kmock.Request:
        body = await raw.read()
        data: Any = None
        if body:
            try:
                data = json.loads(body)
            except ValueError:
                data = None
        query = dict(raw.query)
        method = kmock.method(raw.method)
        path = parse_resource_path(raw.path)
        if path is not None:
            parsed = parsing.ParsedPath(
                path.group, path.version, path.plural, path.namespace, path.name, path.subresource
            )
        else:
            try:
                parsed = parsing.parse_path(raw.path)
            except ValueError:
                parsed = parsing.ParsedPath()
        resource = (
            None
            if parsed.group is None
            else kmock.resource(group=parsed.group, version=parsed.version, plural=parsed.plural)
        )
        return kmock.Request(
            id=self._request_count,
            raw_request=raw,
            url=raw.url,
            method=method,
            params=query,
            headers=dict(raw.headers),
            cookies=dict(raw.cookies),
            body=body,
            text=body.decode("utf-8", errors="replace"),
            data=data,
            action=parsing.guess_k8s(parsed, method, query),
            resource=resource,
            namespace=parsed.namespace,
            name=parsed.name,
            subresource=parsed.subresource,
        )

    @override
    async def _handle(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        is_resource = request.resource is not None and request.resource.plural is not None
        for payload in self._candidates(is_resource):
            if payload._disabled.is_set() or not self._sees(payload._source, request):
                continue
            try:
                return await payload(request)
            except ReactionMismatchError:  # a mismatch or depletion, as in kmock
                payload._disabled.set()
            except NotImplementedError:  # matched, but nothing to respond with
                pass
        if is_resource:
            return await self._serve_resource(request)
        raise NotImplementedError("no reaction matches the request")

    def _candidates(self, is_resource: bool) -> list[kmock.Reaction]:
        # kmock's ordering: higher priorities first, ties in the order of registration.
        indexed = list(enumerate(self._payloads))
        if is_resource:
            indexed = [
                (i, p)
                for i, p in indexed
                if id(p) not in self._builtin_payloads and -math.inf not in p.priorities
            ]
        depth = max((len(p.priorities) for _, p in indexed), default=0)

        def key(item: tuple[int, kmock.Reaction]) -> tuple[tuple[float, ...], int]:
            index, payload = item
            padded = tuple(-p for p in payload.priorities) + (0.0,) * (depth - len(payload.priorities))
            return padded, index

        return [payload for _, payload in sorted(indexed, key=key)]

    def _sees(self, view: kmock.View, request: kmock.Request) -> bool:
        """Whether a DSL view includes the request: criteria chains directly, anything else via kmock."""
        node = view
        while True:
            if type(node) is kmock.Filter:
                if not node.criteria(request):
                    return False
                node = node._source
            elif type(node) is kmock.Priority:
                node = node._source
            elif node is self:
                return True
            else:
                return request in node  # slices, groups, exclusions: kmock's exact (slower) semantics

    @override
    async def _render_error(self, exc: Exception) -> aiohttp.web.StreamResponse:
        # URLs that serve nothing (kmock's own 404s included): a real server's mux answers in plain text.
        if isinstance(exc, errors.PageNotFound | kmock.KubernetesNotFoundError):
            return aiohttp.web.Response(status=404, text=errors.PAGE_NOT_FOUND, content_type="text/plain")
        if isinstance(exc, kmock.KubernetesError):
            return _json(errors.status_body(exc), status=exc.status)
        return await super()._render_error(exc)

    # --- discovery (kmock's scaffold routes, our documents) --------------------------------------

    @override
    async def _serve_root(self, request: kmock.Request) -> kmock.Payload:
        paths = {"/api", "/api/v1", "/apis", "/version", "/healthz", "/livez", "/readyz"}
        for spec in self.all_resources():
            if spec.group:
                paths |= {f"/apis/{spec.group}", f"/apis/{spec.group}/{spec.version}"}
        return {"paths": sorted(paths)}

    @override
    async def _serve_server_version(self, request: kmock.Request) -> kmock.Payload:
        return dict(self.version_info)

    @override
    async def _serve_api(self, request: kmock.Request) -> kmock.Payload:
        address = f"{request.url.host}:{request.url.port}" if request.url.host else ""
        return discovery.api_versions(address)

    @override
    async def _serve_apis(self, request: kmock.Request) -> kmock.Payload:
        return discovery.group_list(self.all_resources())

    @override
    async def _serve_group(self, request: kmock.Request) -> kmock.Payload:
        group = request.resource.group if request.resource is not None else None
        doc = discovery.group_doc(self.all_resources(), group or "")
        if doc is None:
            raise errors.resource_not_found()
        return doc

    @override
    async def _serve_version(self, request: kmock.Request) -> kmock.Payload:
        if request.resource is None:
            raise errors.resource_not_found()
        doc = discovery.resource_list(
            self.all_resources(), request.resource.group or "", request.resource.version or ""
        )
        if doc is None:
            raise errors.resource_not_found()
        return doc

    # --- resources -------------------------------------------------------------------------------

    async def _serve_resource(self, request: kmock.Request) -> aiohttp.web.StreamResponse:
        assert request.resource is not None
        path = ResourcePath(
            request.resource.group or "",
            request.resource.version or "",
            request.resource.plural or "",
            request.namespace,
            request.name,
            request.subresource,
        )
        spec = self.resolve(path.group, path.version, path.plural)
        if spec is None or (path.namespace is not None and not spec.namespaced):
            raise errors.resource_not_found()
        if path.subresource is not None and not (path.subresource == "status" and spec.has_status):
            # Subresources not served: the server answers as if the object itself were missing.
            if path.name is None:
                raise errors.resource_not_found()
            raise errors.not_found(spec.group, spec.plural, path.name)
        method = str(request.method.value).upper()
        watching = request.params.get("watch") in ("true", "1")
        if path.name is None:
            if method == "GET":
                return await self._watch(request, spec, path) if watching else self._list(request, spec, path)
            if method == "POST" and path.subresource is None:
                return self._create(request, spec, path)
            if method == "DELETE" and "deletecollection" in spec.verbs:
                return self._delete_collection(request, spec, path)
            if method == "PUT" and spec.crd is not None:  # custom resources: an update without a name
                raise errors.bad_request("name must be provided")
            raise errors.method_not_allowed()
        if method == "GET":
            return await self._watch(request, spec, path) if watching else self._get(request, spec, path)
        if method == "PUT":
            return self._replace(request, spec, path)
        if method == "PATCH":
            return self._patch(request, spec, path)
        if method == "DELETE" and path.subresource is None:
            return self._delete(request, spec, path)
        raise errors.method_not_allowed()

    def _field_support(self, spec: ResourceSpec) -> selectors.FieldSupport:
        if spec.crd is not None:  # custom resources: metadata, and the version's selectableFields
            return selectors.FieldSupport({f: f for f in spec.selectable_fields}, custom=True)
        return selectors.BUILTIN_FIELDS.get(spec.storage_key, selectors.FieldSupport())

    def _selectors(
        self, request: kmock.Request, spec: ResourceSpec
    ) -> tuple[selectors.FieldSelector, selectors.Matcher]:
        """The field selector (on the object's paths) and a predicate for both selectors; 400 if malformed."""
        try:
            labels = selectors.LabelSelector.parse(request.params.get("labelSelector"))
            fields = selectors.FieldSelector.parse(request.params.get("fieldSelector"))
            fields = self._field_support(spec).resolve(fields)
        except selectors.SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        return fields, selectors.matcher(labels, fields)

    def _selected(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> list[Obj]:
        fields, match = self._selectors(request, spec)
        name = path.name or fields.exact("metadata.name")
        namespace = path.namespace or (fields.exact("metadata.namespace") if spec.namespaced else None)
        if name is not None and (namespace is not None or not spec.namespaced):
            found = self._store.get(spec.storage_key, namespace, name)
            candidates = [found] if found is not None else []
        else:
            candidates = self._store.objects(spec.storage_key, namespace)
        return [self.render(spec, obj) for obj in candidates if match(obj)]

    def _list(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        items, metadata = self._page(request, self._selected(request, spec, path))
        representation = negotiate(_header(request, "Accept"))
        if representation == "Table":
            include = request.params.get("includeObject", "Metadata")
            table = tables.table(spec, items, include_object=include)
            return _json(dict(table, metadata=metadata))
        if representation.startswith("PartialObjectMetadata"):
            return _json(dict(tables.partial_metadata_list(items, ""), metadata=metadata))
        if spec.crd is not None:  # lists of custom resources are unstructured: an empty continue is kept
            metadata.setdefault("continue", "")
        return _json(
            {"kind": spec.list_kind, "apiVersion": spec.api_version, "metadata": metadata, "items": items}
        )

    def _page(self, request: kmock.Request, items: list[Obj]) -> tuple[list[Obj], Obj]:
        params = request.params
        try:
            limit = int(params.get("limit") or 0)
            return paging.page(
                items,
                limit=limit,
                token=params.get("continue"),
                resource_version=self._store.resource_version,
                counted=not params.get("labelSelector") and not params.get("fieldSelector"),
            )
        except ValueError as exc:  # paging.InvalidToken included
            raise errors.bad_request(str(exc)) from None

    def _get(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        assert path.name is not None
        obj = self._store.get(spec.storage_key, path.namespace, path.name)
        if obj is None:
            raise errors.not_found(spec.group, spec.plural, path.name)
        obj = self.render(spec, obj)
        representation = negotiate(_header(request, "Accept"))
        if representation == "Table":
            include = request.params.get("includeObject", "Metadata")
            resource_version = _resource_version(obj)
            return _json(tables.table(spec, [obj], include_object=include, resource_version=resource_version))
        if representation.startswith("PartialObjectMetadata"):
            return _json(tables.partial_metadata(obj))
        return _json(obj)

    # --- watching --------------------------------------------------------------------------------

    async def _watch(
        self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath
    ) -> aiohttp.web.StreamResponse:
        params = request.params
        fields, match = self._selectors(request, spec)
        since, timeout = self._watch_window(params)
        view = WatchView(path.namespace, path.name or fields.exact("metadata.name"), match)
        render = self._watch_renderer(request, spec)
        # A watch that starts with the current objects (no resourceVersion, or sendInitialEvents=true) marks their
        # end with a bookmark, when the client accepts bookmarks.
        initial_end = since is None and params.get("allowWatchBookmarks") == "true"
        raw_request = request._raw_request
        assert raw_request is not None
        response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(raw_request)
        try:
            watcher = self._store.watch(spec.storage_key, since)
        except Expired as exc:
            error = errors.status_body(errors.expired(exc.requested, exc.oldest))
            await response.write(_line({"type": "ERROR", "object": error}))
            await response.write_eof()
            return response
        try:
            async with asyncio.timeout(timeout):
                await self._stream(response, watcher, view, render, initial_end, spec)
        except TimeoutError:
            pass  # timeoutSeconds elapsed: the stream ends normally
        except ConnectionError:
            return response  # the client went away
        finally:
            self._store.unwatch(watcher)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

    @staticmethod
    def _watch_window(params: Mapping[str, str]) -> tuple[int | None, float | None]:
        """Where a watch starts (``None``: with the current objects) and how long it lasts (``None``: forever)."""
        since_text = (
            "0" if params.get("sendInitialEvents") == "true" else (params.get("resourceVersion") or "0")
        )
        try:
            since = None if since_text == "0" else int(since_text)
        except ValueError:  # a real server fails this watch with a 500
            raise errors.internal(f'resourceVersion: Invalid value: "{since_text}": invalid syntax') from None
        timeout_text = params.get("timeoutSeconds")
        try:
            return since, float(timeout_text) if timeout_text else None
        except ValueError:
            raise errors.bad_request(f"invalid timeoutSeconds: {timeout_text!r}") from None

    def _watch_renderer(self, request: kmock.Request, spec: ResourceSpec) -> Callable[[Obj], Obj]:
        """How a watch shows objects: as they are, or as Tables (``kubectl get -w``), whose column definitions
        only the first event of the stream carries, as from a real server."""
        if negotiate(_header(request, "Accept")) != "Table":
            return lambda obj: self.render(spec, obj)
        include = request.params.get("includeObject", "Metadata")
        shown_columns = False

        def as_table(obj: Obj) -> Obj:
            nonlocal shown_columns
            rendered = self.render(spec, obj)
            table = tables.table(
                spec, [rendered], include_object=include, resource_version=_resource_version(obj)
            )
            if shown_columns:
                table["columnDefinitions"] = None
            shown_columns = True
            return table

        return as_table

    @staticmethod
    async def _stream(
        response: aiohttp.web.StreamResponse,
        watcher: Watcher,
        view: WatchView,
        render: Callable[[Obj], Obj],
        initial_end: bool,
        spec: ResourceSpec,
    ) -> None:
        for event in watcher.replay:
            if (kind := view.event_type(event)) is not None:
                await response.write(_line({"type": kind, "object": render(event.object)}))
        if initial_end:
            bookmark = {
                "kind": spec.kind,
                "apiVersion": spec.api_version,
                "metadata": {
                    "resourceVersion": str(watcher.resource_version),
                    "annotations": {"k8s.io/initial-events-end": "true"},
                },
            }
            await response.write(_line({"type": "BOOKMARK", "object": bookmark}))
        while (change := await watcher.queue.get()) is not None:
            if (kind := view.event_type(change)) is not None:
                await response.write(_line({"type": kind, "object": render(change.object)}))

    # --- writing ---------------------------------------------------------------------------------

    def _body(self, request: kmock.Request) -> Obj:
        media = content_type(_header(request, "Content-Type"))
        if media == protobuf.MEDIA_TYPE:
            try:
                return protobuf.decode_object(request.body)
            except protobuf.UnsupportedProtobuf as exc:
                raise api_error(415, "UnsupportedMediaType", str(exc)) from None
        if media and media not in ("application/json", "application/yaml", "*/*"):
            raise errors.unsupported_media_type(media)
        if media == "application/yaml" and request.data is None:
            try:
                document = yaml.safe_load(request.text)
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"the request body is not valid YAML: {exc}") from None
            if isinstance(document, dict):
                return document
        if not isinstance(request.data, dict):
            if request.body:
                raise errors.bad_request("the request body is not a JSON object")
            raise errors.bad_request("the request body is empty")
        return copy.deepcopy(request.data)

    def _check_type(self, spec: ResourceSpec, obj: Obj) -> None:
        api_version, kind = obj.get("apiVersion"), obj.get("kind")
        if api_version and api_version != spec.api_version:
            raise errors.bad_request(
                f"the API version in the data ({api_version}) does not match the expected API version "
                f"({spec.api_version})"
            )
        if kind and kind != spec.kind:
            if spec.crd is not None:  # unstructured: decoded first, then the kind fails validation
                name = str(_meta(obj).get("name") or "")
                raise errors.invalid(
                    str(kind), spec.group, name, f'kind: Invalid value: "{kind}": must be {spec.kind}'
                )
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({spec.kind})"
            )
        obj["apiVersion"], obj["kind"] = spec.api_version, spec.kind

    def _prepare(self, key: StorageKey, obj: Obj, old: Obj | None = None) -> None:
        """Resource-specific server-side rules applied on every write (``old`` is None on create)."""
        lifecycle.normalize_metadata(obj)
        if key == SECRETS:
            lifecycle.fold_string_data(obj)
            lifecycle.default_secret_type(obj)
        elif key == EVENTS:
            lifecycle.complete_event(obj)
        elif key == NAMESPACES:
            self._prepare_namespace(obj, old)
        elif key == CRDS:
            self._prepare_crd(obj, old)

    @staticmethod
    def _prepare_namespace(obj: Obj, old: Obj | None) -> None:
        meta = lifecycle.metadata(obj)
        meta["labels"] = dict(meta.get("labels") or {}, **{"kubernetes.io/metadata.name": meta["name"]})
        # spec.finalizers belongs to the namespace controller: set on create, never changed by updates.
        finalizers = [NAMESPACE_FINALIZER] if old is None else (old.get("spec") or {}).get("finalizers")
        obj["spec"] = {"finalizers": list(finalizers)} if finalizers else {}
        status: Obj = {"phase": "Terminating" if meta.get("deletionTimestamp") else "Active"}
        conditions = ((old or {}).get("status") or {}).get("conditions")
        if conditions and meta.get("deletionTimestamp"):  # the namespace controller's, kept while it works
            status["conditions"] = conditions
        obj["status"] = status

    @staticmethod
    def _prepare_crd(obj: Obj, old: Obj | None) -> None:
        problem = discovery.crd_problem(obj)
        if problem is not None:
            raise errors.invalid("CustomResourceDefinition", CRDS[0], str(_meta(obj).get("name")), problem)
        discovery.default_crd_spec(obj["spec"])
        if old is None:  # stored as created; its controllers establish it right after (see _establish)
            obj["status"] = discovery.pending_crd_status(obj)
            return
        status = discovery.crd_status(obj, lifecycle.now_timestamp())
        previous = old.get("status") or {}
        if previous.get("conditions"):  # keep the original transition times (and a Terminating condition)
            status["conditions"] = copy.deepcopy(previous["conditions"])
        obj["status"] = status

    @staticmethod
    def _validate(spec: ResourceSpec, obj: Obj) -> None:
        problem = lifecycle.metadata_problem(obj)
        if problem is not None:
            raise errors.invalid(spec.kind, spec.group, str(_meta(obj).get("name") or ""), problem)

    def _after_create(self, key: StorageKey, obj: Obj) -> None:
        if key == CRDS:
            self._establish(obj)

    def _after_update(self, key: StorageKey, obj: Obj) -> None:
        if key == CRDS:
            self._serve_crd(obj)
        # A client released a hold (a finalizer) of a namespace or a CRD being deleted: it may go now.
        if _meta(obj).get("deletionTimestamp"):
            if key == NAMESPACES:
                self._finish_namespace(_meta(obj)["name"])
            elif key == CRDS:
                self._finish_crd(_meta(obj)["name"])

    def _establish(self, crd: Obj) -> None:
        """The CRD controllers: accept the names and establish the CRD (a second write), serve its resources."""
        established = copy.deepcopy(crd)
        established["status"] = discovery.crd_status(established, lifecycle.now_timestamp())
        self._serve_crd(self._store.update(CRDS, established))

    def _serve_crd(self, crd: Obj) -> None:
        """(Re-)register a CRD's resources; a resource served anew starts its watch history now."""
        served = {spec.storage_key for spec in self._registry.all()}
        current, _ = self._registry.apply_crd(crd)
        for key in {spec.storage_key for spec in current} - served:
            self._store.restart_history(key)

    def _create(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        body = self._body(request)
        if _resource_version(body) not in ("", "0"):  # refused by the storage layer itself
            raise errors.internal("resourceVersion should not be set on objects to be created")
        return self._create_object(request, spec, path, body)

    def _create_object(
        self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath, obj: Obj
    ) -> aiohttp.web.Response:
        self._check_type(spec, obj)
        meta = lifecycle.metadata(obj)
        namespace = self._target_namespace(spec, path, meta)
        requested = str(meta.get("name") or meta.get("generateName") or "")
        if namespace is not None:
            self._check_namespace_open(spec, namespace, requested)
        self._check_crd_open(spec, requested)
        name = self._new_name(spec, namespace, meta)
        problem = lifecycle.name_problem(name, label=spec.storage_key == NAMESPACES)
        if problem is not None:
            raise errors.invalid(spec.kind, spec.group, str(name or ""), problem)
        assert isinstance(name, str)
        if self._store.get(spec.storage_key, namespace, name) is not None:
            raise errors.already_exists(spec.group, spec.plural, name)
        lifecycle.stamp_new(obj, namespace=namespace, generation=spec.generation)
        if spec.has_status:
            obj.pop("status", None)
        self._prepare(spec.storage_key, obj)
        obj = schema.apply(obj, spec.schema)
        self._validate(spec, obj)
        if _is_dry_run(request):
            return _json(obj, status=201)
        stored = self._store.create(spec.storage_key, obj)
        self._after_create(spec.storage_key, stored)
        return _json(self.render(spec, stored), status=201)

    @staticmethod
    def _target_namespace(spec: ResourceSpec, path: ResourcePath, meta: Obj) -> str | None:
        if not spec.namespaced:
            return None
        body_namespace = meta.get("namespace")
        if path.namespace and body_namespace and body_namespace != path.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        return str(path.namespace or body_namespace or "default")

    def _new_name(self, spec: ResourceSpec, namespace: str | None, meta: Obj) -> Any:
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = lifecycle.generated_name(str(meta["generateName"]))
            while self._store.get(spec.storage_key, namespace, name) is not None:
                name = lifecycle.generated_name(str(meta["generateName"]))
            meta["name"] = name
        return name

    def _check_namespace_open(self, spec: ResourceSpec, namespace: str, name: str) -> None:
        """The NamespaceLifecycle admission: nothing is created in a missing or terminating namespace."""
        found = self._store.get(NAMESPACES, None, namespace)
        if found is None:
            raise errors.not_found("", "namespaces", namespace)
        if _meta(found).get("deletionTimestamp"):
            cause = {
                "reason": "NamespaceTerminating",
                "message": f"namespace {namespace} is being terminated",
                "field": "metadata.namespace",
            }
            why = f"unable to create new content in namespace {namespace} because it is being terminated"
            raise errors.forbidden(spec.group, spec.plural, name, why, [cause])

    def _check_crd_open(self, spec: ResourceSpec, name: str) -> None:
        crd = None if spec.crd is None else self._store.get(CRDS, None, spec.crd)
        if crd is not None and _meta(crd).get("deletionTimestamp"):
            why = "create not allowed while custom resource definition is terminating"
            raise errors.forbidden(spec.group, spec.plural, name, why)

    def _current(self, spec: ResourceSpec, path: ResourcePath) -> Obj:
        assert path.name is not None
        current = self._store.get(spec.storage_key, path.namespace, path.name)
        if current is None:
            raise errors.not_found(spec.group, spec.plural, path.name)
        return current

    def _check_precondition(self, spec: ResourceSpec, current: Obj, resource_version: Any) -> None:
        if resource_version not in (None, "") and str(resource_version) != _resource_version(current):
            raise errors.conflict(spec.group, spec.plural, _meta(current)["name"])

    @staticmethod
    def _check_identity(spec: ResourceSpec, path: ResourcePath, obj: Obj) -> None:
        """An update names the object of its URL: another name or namespace in the body is a 400."""
        meta = _meta(obj)
        name, namespace = meta.get("name"), meta.get("namespace")
        if name and name != path.name:
            raise errors.bad_request(
                f"the name of the object ({name}) does not match the name on the URL ({path.name})"
            )
        if spec.namespaced and namespace and namespace != path.namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )

    @staticmethod
    def _needs_resource_version(spec: ResourceSpec) -> bool:
        """Custom resources and CRDs refuse unconditional updates (a PUT without a resourceVersion)."""
        return spec.crd is not None or spec.storage_key == CRDS

    def _isolate(self, spec: ResourceSpec, path: ResourcePath, current: Obj, proposed: Obj) -> Obj:
        """Main resource writes cannot change status, status writes can change only status."""
        if path.subresource == "status":
            result = copy.deepcopy(current)
            if "status" in proposed:
                result["status"] = proposed["status"]
            else:
                result.pop("status", None)
            return result
        if spec.has_status:
            if "status" in current:
                proposed["status"] = copy.deepcopy(current["status"])
            else:
                proposed.pop("status", None)
        return proposed

    def _replace(
        self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath
    ) -> aiohttp.web.Response:
        assert path.name is not None
        body = self._body(request)
        current = self._current(spec, path)
        self._check_identity(spec, path, body)
        self._check_type(spec, body)
        resource_version = _meta(body).get("resourceVersion")
        if not resource_version and self._needs_resource_version(spec):
            cause = "metadata.resourceVersion: Invalid value: 0: must be specified for an update"
            raise errors.invalid_resource(spec.group, spec.plural, path.name, cause)
        self._check_precondition(spec, current, resource_version)
        return self._commit(request, spec, current, self._isolate(spec, path, current, body))

    @staticmethod
    def _patch_types(spec: ResourceSpec) -> list[str]:
        """Custom resources have no Go types to merge by: no strategic merge patches for them."""
        if spec.crd is not None:
            return [kind for kind in PATCH_ORDER if kind != patching.STRATEGIC_MERGE_PATCH]
        return list(PATCH_ORDER)

    def _patch(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        assert path.name is not None
        patch_type = content_type(_header(request, "Content-Type"))
        accepted = self._patch_types(spec)
        if patch_type not in accepted:
            raise errors.unsupported_patch_type(accepted)
        current = self._store.get(spec.storage_key, path.namespace, path.name)
        if patch_type == patching.APPLY_PATCH:
            if not request.params.get("fieldManager"):
                raise errors.invalid(
                    "PatchOptions",
                    "meta.k8s.io",
                    "",
                    "fieldManager: Required value: is required for apply patch",
                )
            document = self._apply_document(request)
            if current is None:
                if path.subresource is not None:
                    raise errors.not_found(spec.group, spec.plural, path.name)
                lifecycle.metadata(document).setdefault("name", path.name)
                return self._create_object(request, spec, path, document)
            self._check_type(spec, document)
            patched = patching.merge_patch(copy.deepcopy(current), document)
        else:
            if current is None:
                raise errors.not_found(spec.group, spec.plural, path.name)
            patched = self._patched(request, patch_type, current)
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        patched = copy.deepcopy(patched)
        self._check_identity(spec, path, patched)
        self._check_precondition(spec, current, _meta(patched).get("resourceVersion"))
        return self._commit(request, spec, current, self._isolate(spec, path, current, patched))

    @staticmethod
    def _apply_document(request: kmock.Request) -> Obj:
        try:
            document = yaml.safe_load(request.text) if request.text.strip() else None
        except yaml.YAMLError as exc:
            raise errors.bad_request(f"the apply patch is not valid YAML: {exc}") from None
        if not isinstance(document, dict):
            raise errors.bad_request("the apply patch must be a YAML/JSON object")
        return document

    @staticmethod
    def _patched(request: kmock.Request, patch_type: str, current: Obj) -> Any:
        """The object with a JSON, strategic or merge patch applied (the errors as the server answers them)."""
        if request.data is None:
            raise errors.bad_request("the patch is not valid JSON")
        try:
            if patch_type == patching.JSON_PATCH:
                return patching.json_patch(current, request.data)
            if patch_type == patching.STRATEGIC_MERGE_PATCH:
                return patching.strategic_merge_patch(copy.deepcopy(current), request.data)
            if isinstance(request.data, dict):
                return patching.merge_patch(copy.deepcopy(current), request.data)
            raise patching.PatchInvalid("a merge patch must be a JSON object")
        except patching.PatchInvalid as exc:
            raise errors.bad_request(str(exc)) from None
        except patching.PatchFailed:
            raise errors.unprocessable() from None
        except patching.PatchRejected as exc:
            raise errors.internal(str(exc)) from None

    def _commit(
        self, request: kmock.Request, spec: ResourceSpec, current: Obj, new: Obj
    ) -> aiohttp.web.Response:
        """Store an update of an existing object, applying the server-side rules."""
        key = spec.storage_key
        problem = lifecycle.identity_problem(current, new)
        if problem is not None:
            raise errors.invalid(spec.kind, spec.group, _meta(current)["name"], problem)
        new["apiVersion"], new["kind"] = current.get("apiVersion", spec.api_version), spec.kind
        lifecycle.carry_system_metadata(current, new)
        lifecycle.metadata(new)["resourceVersion"] = _resource_version(current)
        self._prepare(key, new, current)
        new = schema.apply(new, spec.schema)
        meta = lifecycle.metadata(new)
        self._validate(spec, new)
        self._check_no_new_finalizers(spec, current, new)
        if lifecycle.spec_changed(current, new, has_status=spec.has_status):
            lifecycle.bump_generation(new)
        if new == current:  # a no-op write: no new resourceVersion, no watch event
            return _json(self.render(spec, current))
        if _is_dry_run(request):
            return _json(self.render(spec, new))
        if meta.get("deletionTimestamp") and self._finalized(key, new):
            # Released: deleted instead of updated. The DELETED event carries the last stored state; the answer
            # is the update as it would have been (at the resourceVersion it was made on), as a real server does.
            self._after_delete(key, self._store.delete(key, current))
            return _json(self.render(spec, new))
        stored = self._store.update(key, new)
        self._after_update(key, stored)
        return _json(self.render(spec, stored))

    @staticmethod
    def _check_no_new_finalizers(spec: ResourceSpec, current: Obj, new: Obj) -> None:
        old_meta, meta = _meta(current), _meta(new)
        if not old_meta.get("deletionTimestamp"):
            return
        if set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ()):
            raise errors.invalid(
                spec.kind,
                spec.group,
                meta["name"],
                "metadata.finalizers: Forbidden: no new finalizers can be added if the object is being deleted",
            )

    # --- deleting: finalizers, and the controllers that empty namespaces and CRDs -------------------

    def _delete(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        current = self._current(spec, path)
        if spec.storage_key == NAMESPACES and path.name in IMMORTAL_NAMESPACES:
            raise errors.forbidden("", "namespaces", str(path.name), "this namespace may not be deleted")
        options = request.data if isinstance(request.data, dict) else {}
        self._check_delete_preconditions(spec, current, options.get("preconditions") or {})
        if _is_dry_run(request) or options.get("dryRun"):
            return _json(self.render(spec, current))
        result = self._delete_object(spec.storage_key, current)
        if result is not None:  # held by finalizers: the object marked for deletion
            return _json(self.render(spec, result))
        meta = _meta(current)
        details = {"name": meta["name"], "kind": spec.plural, "uid": meta.get("uid")}
        if spec.group:
            details["group"] = spec.group
        return _json(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success", "details": details}
        )

    @staticmethod
    def _check_delete_preconditions(spec: ResourceSpec, current: Obj, preconditions: Obj) -> None:
        meta = _meta(current)
        for field, key in (("UID", "uid"), ("ResourceVersion", "resourceVersion")):
            expected = preconditions.get(key)
            if expected and str(expected) != str(meta.get(key)):
                raise errors.precondition_failed(
                    spec.kind, spec.group, meta["name"], field, str(expected), str(meta.get(key))
                )

    @staticmethod
    def _finalized(key: StorageKey, obj: Obj) -> bool:
        """Whether nothing holds an object being deleted any more (a namespace: nor its spec.finalizers)."""
        if _meta(obj).get("finalizers"):
            return False
        return key != NAMESPACES or not (obj.get("spec") or {}).get("finalizers")

    def _delete_object(self, key: StorageKey, current: Obj) -> Obj | None:
        """Delete now, or mark for deletion if finalizers hold the object (then return the marked one)."""
        meta = _meta(current)
        if meta.get("deletionTimestamp"):
            return current
        if key == NAMESPACES:
            return self._delete_namespace(current)
        if key == CRDS:
            return self._delete_crd(current)
        if meta.get("finalizers"):
            marked = copy.deepcopy(current)
            marked_meta = lifecycle.metadata(marked)
            marked_meta["deletionTimestamp"] = lifecycle.now_timestamp()
            marked_meta["deletionGracePeriodSeconds"] = 0
            lifecycle.bump_generation(marked)
            self._prepare(key, marked, current)
            return self._store.update(key, marked)
        final = self._store.delete(key, current)
        self._after_delete(key, final)
        return None

    def _after_delete(self, key: StorageKey, obj: Obj) -> None:
        """A CRD gone: its resources are no longer served. Any other object gone: the namespace or the CRD
        being deleted that held it goes too, if this was its last object."""
        if key == CRDS:
            removed = self._registry.remove_crd(_meta(obj)["name"])
            for storage_key in {spec.storage_key for spec in removed}:
                self._store.purge(storage_key)
            return
        namespace = _meta(obj).get("namespace")
        if namespace:
            self._finish_namespace(str(namespace))
        crd = self._crd_of(key)
        if crd is not None:
            self._finish_crd(crd)

    def _crd_of(self, key: StorageKey) -> str | None:
        versions = self._registry.versions_of(*key)
        return versions[0].crd if versions else None

    def _delete_namespace(self, current: Obj) -> Obj:
        """Mark the namespace Terminating, then do the namespace controller's work (synchronously: a real one
        starts a few seconds later): delete everything in it; the namespace goes when the last object does."""
        marked = copy.deepcopy(current)
        lifecycle.metadata(marked)["deletionTimestamp"] = lifecycle.now_timestamp()
        self._prepare(NAMESPACES, marked, current)
        marked = self._store.update(NAMESPACES, marked)
        name = _meta(marked)["name"]
        for key in self._store.keys_in(name):
            for obj in self._store.objects(key, name):
                self._delete_object(key, obj)
        self._finish_namespace(name)
        return marked

    def _finish_namespace(self, name: str) -> None:
        """The namespace controller's last step: release ``spec.finalizers`` once the namespace is empty."""
        namespace = self._store.get(NAMESPACES, None, name)
        if namespace is None or not _meta(namespace).get("deletionTimestamp"):
            return
        if self._store.occupied(name):
            self._report_remaining(namespace)
            return
        released = copy.deepcopy(namespace)
        others = [
            f for f in (namespace.get("spec") or {}).get("finalizers") or [] if f != NAMESPACE_FINALIZER
        ]
        released["spec"] = {"finalizers": others} if others else {}
        if released != namespace:  # the controller's finalize call: an update of spec.finalizers
            released = self._store.update(NAMESPACES, released)
        if self._finalized(NAMESPACES, released):
            self._after_delete(NAMESPACES, self._store.delete(NAMESPACES, released))

    def _report_remaining(self, namespace: Obj) -> None:
        """The namespace controller's report of what still holds a terminating namespace (its conditions)."""
        name = _meta(namespace)["name"]
        resources: dict[str, int] = {}
        finalizers: dict[str, int] = {}
        for key in self._store.keys_in(name):
            objects = self._store.objects(key, name)
            resources[f"{key[1]}.{key[0]}"] = len(objects)
            for obj in objects:
                for finalizer in _meta(obj).get("finalizers") or ():
                    finalizers[finalizer] = finalizers.get(finalizer, 0) + 1
        reported = copy.deepcopy(namespace)
        status = reported.setdefault("status", {})
        status["conditions"] = lifecycle.namespace_deletion_conditions(
            resources, finalizers, lifecycle.now_timestamp(), status.get("conditions")
        )
        if reported != namespace:
            self._store.update(NAMESPACES, reported)

    def _delete_crd(self, current: Obj) -> Obj:
        """Mark the CRD for deletion with its cleanup finalizer, then do that finalizer's work: delete its custom
        resources (finalizers may hold some, and new ones are refused meanwhile); the CRD goes after the last."""
        now = lifecycle.now_timestamp()
        marked = copy.deepcopy(current)
        meta = lifecycle.metadata(marked)
        meta["deletionTimestamp"] = now
        finalizers = list(meta.get("finalizers") or ())
        meta["finalizers"] = finalizers if CRD_FINALIZER in finalizers else [*finalizers, CRD_FINALIZER]
        self._prepare(CRDS, marked, current)
        status = marked.setdefault("status", {})
        status["conditions"] = [
            *(status.get("conditions") or []),
            discovery.terminating_condition(now, in_progress=False),
        ]
        marked = self._store.update(CRDS, marked)
        name = _meta(marked)["name"]
        keys = {spec.storage_key for spec in self._registry.all() if spec.crd == name}
        for key in keys:
            for obj in self._store.objects(key):
                self._delete_object(key, obj)
        remaining = self._store.get(CRDS, None, name)
        if remaining is not None and any(self._store.count(key) for key in keys):
            self._store.update(CRDS, self._terminating(remaining, in_progress=True))
        self._finish_crd(name)
        return marked

    @staticmethod
    def _terminating(crd: Obj, *, in_progress: bool) -> Obj:
        updated = copy.deepcopy(crd)
        status = updated.setdefault("status", {})
        conditions = [c for c in status.get("conditions") or [] if c.get("type") != "Terminating"]
        status["conditions"] = [
            *conditions,
            discovery.terminating_condition(lifecycle.now_timestamp(), in_progress=in_progress),
        ]
        return updated

    def _finish_crd(self, name: str) -> None:
        """The CRD finalizer's last step: release the CRD once its custom resources are all gone."""
        crd = self._store.get(CRDS, None, name)
        if crd is None or not _meta(crd).get("deletionTimestamp"):
            return
        keys = {spec.storage_key for spec in self._registry.all() if spec.crd == name}
        if any(self._store.count(key) for key in keys):
            return
        released = copy.deepcopy(crd)
        meta = lifecycle.metadata(released)
        meta["finalizers"] = [f for f in meta.get("finalizers") or () if f != CRD_FINALIZER]
        lifecycle.normalize_metadata(released)
        if self._finalized(CRDS, released):  # deleted instead of updated: DELETED shows the last stored state
            self._after_delete(CRDS, self._store.delete(CRDS, crd))
        elif released != crd:
            self._store.update(CRDS, released)

    def _delete_collection(
        self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath
    ) -> aiohttp.web.Response:
        items = self._selected(request, spec, path)
        deleted: list[Obj] = []
        if not _is_dry_run(request):
            for item in items:
                current = self._store.get(spec.storage_key, _meta(item).get("namespace"), _meta(item)["name"])
                if current is not None:
                    marked = self._delete_object(spec.storage_key, current)
                    deleted.append(self.render(spec, marked if marked is not None else current))
        else:
            deleted = items
        return _json(
            {
                "kind": spec.list_kind,
                "apiVersion": spec.api_version,
                "metadata": {"resourceVersion": str(self._store.resource_version)},
                "items": deleted,
            }
        )
