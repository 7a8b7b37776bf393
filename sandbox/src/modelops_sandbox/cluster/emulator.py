"""``ClusterEmulator``: kmock's KubernetesEmulator with the semantics of a real API server.

Request flow (:meth:`ClusterEmulator.__call__` → :meth:`ClusterEmulator._handle`):

1. The request is parsed into a :class:`kmock.Request` (URLs of namespaces parsed correctly) and
   appended to the bounded request log (``request_log_limit`` newest requests; kmock's views such as
   ``emulator['patch']`` see only those).
2. User reactions registered through kmock's DSL are tried first, in kmock's priority order, e.g.
   ``emulator['patch', kmock.resource('example.com', 'v1', 'widgets')] << 500`` injects a fault
   (the store is then left untouched, as with a real failed request). For resource URLs, reactions
   registered as fallbacks (``emulator.fallback[...]``) are not consulted: the emulator answers.
3. Resource URLs are served from :class:`~.store.ObjectStore`: get, list, watch, create, update (PUT),
   patch (merge, JSON, strategic, apply), delete, deletecollection, and the ``status`` subresource.
   Bodies are JSON (YAML for apply patches); protobuf bodies of a few core kinds are decoded too
   (:mod:`.protobuf`), since client-go's typed clients (kubectl create, helm) send them that way.
   Answers are always JSON; ``kubectl get`` gets server-side Tables (:mod:`.tables`).
4. Everything else (``/api``, ``/apis``, ``/apis/<group>[/<version>]``, ``/version``, ``/healthz``)
   goes through kmock's discovery scaffold, whose renderers are overridden here to describe
   :class:`~.discovery.ResourceRegistry` (built-ins plus CRD-declared resources).

API errors are answered as ``v1/Status`` documents with the conventional reasons (see :mod:`.errors`).
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import copy
import json
import logging
import math
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
    patching,
    protobuf,
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
from modelops_sandbox.cluster.store import Expired, ObjectStore, StorageKey, WatchEvent

logger = logging.getLogger(__name__)

Obj = dict[str, Any]

NAMESPACES: StorageKey = ("", "namespaces")
SECRETS: StorageKey = ("", "secrets")
CRDS: StorageKey = ("apiextensions.k8s.io", "customresourcedefinitions")

VERSION_INFO: dict[str, str] = {
    "major": "1",
    "minor": "37",
    "gitVersion": "v1.37.0",
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
        self._create_namespace("default")

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
        obj: Obj = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}, "spec": {}}
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
        if isinstance(exc, kmock.KubernetesNotFoundError):  # kmock's own 404s, e.g. unknown endpoints
            exc = errors.api_error(
                404, "NotFound", exc.message or "the server could not find the requested resource"
            )
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
            raise errors.resource_not_found()
        method = str(request.method.value).upper()
        watching = request.params.get("watch") in ("true", "1")
        if path.name is None:
            if method == "GET":
                return await self._watch(request, spec, path) if watching else self._list(request, spec, path)
            if method == "POST" and path.subresource is None:
                return self._create(request, spec, path)
            if method == "DELETE":
                return self._delete_collection(request, spec, path)
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

    def _selected(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> list[Obj]:
        try:
            fields = selectors.FieldSelector.parse(request.params.get("fieldSelector"))
            match = selectors.matcher(
                request.params.get("labelSelector"), request.params.get("fieldSelector")
            )
        except selectors.SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        name = path.name or fields.exact("metadata.name")
        namespace = path.namespace or (fields.exact("metadata.namespace") if spec.namespaced else None)
        if name is not None and (namespace is not None or not spec.namespaced):
            found = self._store.get(spec.storage_key, namespace, name)
            candidates = [found] if found is not None else []
        else:
            candidates = self._store.objects(spec.storage_key, namespace)
        return [self.render(spec, obj) for obj in candidates if match(obj)]

    def _list(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        items = self._selected(request, spec, path)
        resource_version = str(self._store.resource_version)
        representation = negotiate(_header(request, "Accept"))
        if representation == "Table":
            include = request.params.get("includeObject", "Metadata")
            return _json(tables.table(spec, items, include_object=include, resource_version=resource_version))
        if representation.startswith("PartialObjectMetadata"):
            return _json(tables.partial_metadata_list(items, resource_version))
        return _json(
            {
                "kind": spec.list_kind,
                "apiVersion": spec.api_version,
                "metadata": {"resourceVersion": resource_version},
                "items": items,
            }
        )

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
        try:
            fields = selectors.FieldSelector.parse(params.get("fieldSelector"))
            match = selectors.matcher(params.get("labelSelector"), params.get("fieldSelector"))
        except selectors.SelectorError as exc:
            raise errors.bad_request(str(exc)) from None
        # sendInitialEvents=true (client-go's "watch-list"): the current objects first, then a bookmark.
        send_initial = params.get("sendInitialEvents") == "true"
        bookmarks = params.get("allowWatchBookmarks") == "true"
        since_text = "0" if send_initial else (params.get("resourceVersion") or "0")
        timeout_text = params.get("timeoutSeconds")
        try:
            since = None if since_text == "0" else int(since_text)
            timeout = float(timeout_text) if timeout_text else None
        except ValueError:
            raise errors.bad_request(f"invalid resourceVersion or timeoutSeconds: {since_text!r}") from None
        namespace = path.namespace
        name = path.name or fields.exact("metadata.name")
        as_table = negotiate(_header(request, "Accept")) == "Table"

        def visible(obj: Obj | None) -> bool:
            if obj is None:
                return False
            meta = _meta(obj)
            if namespace is not None and meta.get("namespace") != namespace:
                return False
            if name is not None and meta.get("name") != name:
                return False
            return match(obj)

        def translate(event: WatchEvent) -> dict[str, Any] | None:
            now_visible, was_visible = visible(event.object), visible(event.old)
            if event.type == "ADDED":
                kind = "ADDED" if now_visible else None
            elif event.type == "DELETED":
                kind = "DELETED" if now_visible or was_visible else None
            elif now_visible:
                kind = "MODIFIED" if was_visible else "ADDED"
            else:
                kind = "DELETED" if was_visible else None
            if kind is None:
                return None
            obj = self.render(spec, event.object)
            if as_table:
                include = params.get("includeObject", "Metadata")
                obj = tables.table(
                    spec, [obj], include_object=include, resource_version=_resource_version(obj)
                )
            return {"type": kind, "object": obj}

        raw_request = request._raw_request
        assert raw_request is not None
        response = aiohttp.web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        try:
            watcher = self._store.watch(spec.storage_key, since)
        except Expired as exc:
            await response.prepare(raw_request)
            error = errors.status_body(errors.expired(exc.requested, exc.oldest))
            await response.write(json.dumps({"type": "ERROR", "object": error}).encode() + b"\n")
            await response.write_eof()
            return response
        try:
            await response.prepare(raw_request)
            async with asyncio.timeout(timeout):
                for event in watcher.replay:
                    if (line := translate(event)) is not None:
                        await response.write(json.dumps(line).encode() + b"\n")
                if send_initial and bookmarks:
                    bookmark = {
                        "kind": spec.kind,
                        "apiVersion": spec.api_version,
                        "metadata": {
                            "resourceVersion": str(watcher.resource_version),
                            "annotations": {"k8s.io/initial-events-end": "true"},
                        },
                    }
                    await response.write(
                        json.dumps({"type": "BOOKMARK", "object": bookmark}).encode() + b"\n"
                    )
                while (event_or_end := await watcher.queue.get()) is not None:
                    if (line := translate(event_or_end)) is not None:
                        await response.write(json.dumps(line).encode() + b"\n")
        except TimeoutError:
            pass  # timeoutSeconds elapsed: the stream ends normally
        except ConnectionError:
            return response  # the client went away
        finally:
            self._store.unwatch(watcher)
        with contextlib.suppress(ConnectionError):
            await response.write_eof()
        return response

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
            raise errors.bad_request(
                f"the kind in the data ({kind}) does not match the expected kind ({spec.kind})"
            )
        obj["apiVersion"], obj["kind"] = spec.api_version, spec.kind

    def _prepare(self, key: StorageKey, obj: Obj, old: Obj | None = None) -> None:
        """Resource-specific server-side rules applied on every write."""
        if key == SECRETS:
            lifecycle.fold_string_data(obj)
        elif key == NAMESPACES:
            meta = lifecycle.metadata(obj)
            meta["labels"] = dict(meta.get("labels") or {}, **{"kubernetes.io/metadata.name": meta["name"]})
            obj["status"] = {"phase": "Terminating" if meta.get("deletionTimestamp") else "Active"}
        elif key == CRDS:
            problem = discovery.crd_problem(obj)
            if problem is not None:
                raise errors.invalid(
                    "CustomResourceDefinition", CRDS[0], str(_meta(obj).get("name")), problem
                )
            status = discovery.crd_status(obj, lifecycle.now_timestamp())
            previous = (old or {}).get("status") or {}
            if previous.get("conditions"):  # keep the original transition times
                status["conditions"] = previous["conditions"]
            obj["status"] = status

    def _after_write(self, key: StorageKey, obj: Obj) -> None:
        if key == CRDS:
            self._registry.apply_crd(obj)

    def _after_delete(self, key: StorageKey, obj: Obj) -> None:
        if key == CRDS:
            removed = self._registry.remove_crd(_meta(obj)["name"])
            for storage_key in {spec.storage_key for spec in removed}:
                self._store.purge(storage_key)

    def _create(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        return self._create_object(request, spec, path, self._body(request))

    def _create_object(
        self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath, obj: Obj
    ) -> aiohttp.web.Response:
        self._check_type(spec, obj)
        meta = lifecycle.metadata(obj)
        namespace: str | None = None
        if spec.namespaced:
            body_namespace = meta.get("namespace")
            if path.namespace and body_namespace and body_namespace != path.namespace:
                raise errors.bad_request(
                    "the namespace of the provided object does not match the namespace sent on the request"
                )
            namespace = path.namespace or body_namespace or "default"
        name = meta.get("name")
        if not name and meta.get("generateName"):
            name = lifecycle.generated_name(str(meta["generateName"]))
            while self._store.get(spec.storage_key, namespace, name) is not None:
                name = lifecycle.generated_name(str(meta["generateName"]))
            meta["name"] = name
        problem = lifecycle.name_problem(name, label=spec.storage_key == NAMESPACES)
        if problem is not None:
            raise errors.invalid(spec.kind, spec.group, str(name or ""), problem)
        assert isinstance(name, str)
        if namespace is not None and self._store.get(NAMESPACES, None, namespace) is None:
            raise errors.not_found("", "namespaces", namespace)
        if self._store.get(spec.storage_key, namespace, name) is not None:
            raise errors.already_exists(spec.group, spec.plural, name)
        lifecycle.stamp_new(obj, namespace=namespace, generation=spec.generation)
        if spec.has_status:
            obj.pop("status", None)
        self._prepare(spec.storage_key, obj)
        if _is_dry_run(request):
            return _json(obj, status=201)
        stored = self._store.create(spec.storage_key, obj)
        self._after_write(spec.storage_key, stored)
        return _json(self.render(spec, stored), status=201)

    def _current(self, spec: ResourceSpec, path: ResourcePath) -> Obj:
        assert path.name is not None
        current = self._store.get(spec.storage_key, path.namespace, path.name)
        if current is None:
            raise errors.not_found(spec.group, spec.plural, path.name)
        return current

    def _check_precondition(self, spec: ResourceSpec, current: Obj, resource_version: Any) -> None:
        if resource_version not in (None, "") and str(resource_version) != _resource_version(current):
            raise errors.conflict(spec.group, spec.plural, _meta(current)["name"])

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
        body_name = _meta(body).get("name")
        if body_name and body_name != path.name:
            raise errors.bad_request(
                f"the name of the object ({body_name}) does not match the name on the URL ({path.name})"
            )
        self._check_type(spec, body)
        self._check_precondition(spec, current, _meta(body).get("resourceVersion"))
        return self._commit(request, spec, current, self._isolate(spec, path, current, body))

    def _patch(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        assert path.name is not None
        patch_type = content_type(_header(request, "Content-Type"))
        if patch_type not in patching.PATCH_TYPES:
            raise errors.unsupported_media_type(patch_type or "(none)")
        current = self._store.get(spec.storage_key, path.namespace, path.name)
        if patch_type == patching.APPLY_PATCH:
            try:
                document = yaml.safe_load(request.text) if request.text.strip() else None
            except yaml.YAMLError as exc:
                raise errors.bad_request(f"the apply patch is not valid YAML: {exc}") from None
            if not isinstance(document, dict):
                raise errors.bad_request("the apply patch must be a YAML/JSON object")
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
            if request.data is None:
                raise errors.bad_request("the patch is not valid JSON")
            try:
                if patch_type == patching.JSON_PATCH:
                    patched = patching.json_patch(current, request.data)
                elif patch_type == patching.STRATEGIC_MERGE_PATCH:
                    patched = patching.strategic_merge_patch(copy.deepcopy(current), request.data)
                elif isinstance(request.data, dict):
                    patched = patching.merge_patch(copy.deepcopy(current), request.data)
                else:
                    raise patching.PatchInvalid("a merge patch must be a JSON object")
            except patching.PatchInvalid as exc:
                raise errors.bad_request(str(exc)) from None
            except patching.PatchFailed as exc:
                raise errors.unprocessable(str(exc)) from None
        if not isinstance(patched, dict):
            raise errors.bad_request("the patched object is not a JSON object")
        patched = copy.deepcopy(patched)
        self._check_precondition(spec, current, _meta(patched).get("resourceVersion"))
        return self._commit(request, spec, current, self._isolate(spec, path, current, patched))

    def _commit(
        self, request: kmock.Request, spec: ResourceSpec, current: Obj, new: Obj
    ) -> aiohttp.web.Response:
        """Store an update of an existing object, applying the server-side rules."""
        key = spec.storage_key
        new["apiVersion"], new["kind"] = current.get("apiVersion", spec.api_version), spec.kind
        lifecycle.carry_system_metadata(current, new)
        meta = lifecycle.metadata(new)
        meta["resourceVersion"] = _resource_version(current)
        self._prepare(key, new, current)
        old_meta = _meta(current)
        if old_meta.get("deletionTimestamp"):
            added = set(meta.get("finalizers") or ()) - set(old_meta.get("finalizers") or ())
            if added:
                raise errors.invalid(
                    spec.kind,
                    spec.group,
                    meta["name"],
                    "metadata.finalizers: Forbidden: "
                    "no new finalizers can be added if the object is being deleted",
                )
        if lifecycle.spec_changed(current, new, has_status=spec.has_status):
            lifecycle.bump_generation(new)
        if new == current:  # a no-op write: no new resourceVersion, no watch event
            return _json(self.render(spec, current))
        if _is_dry_run(request):
            return _json(self.render(spec, new))
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            final = self._store.delete(key, new)
            self._after_delete(key, final)
            return _json(self.render(spec, final))
        stored = self._store.update(key, new)
        self._after_write(key, stored)
        return _json(self.render(spec, stored))

    # --- deleting --------------------------------------------------------------------------------

    def _delete(self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath) -> aiohttp.web.Response:
        current = self._current(spec, path)
        options = request.data if isinstance(request.data, dict) else {}
        preconditions = options.get("preconditions") or {}
        uid = preconditions.get("uid")
        if uid and uid != _meta(current).get("uid"):
            raise errors.conflict(
                spec.group,
                spec.plural,
                _meta(current)["name"],
                f"Precondition failed: UID in precondition: {uid}, "
                f"UID in object meta: {_meta(current).get('uid')}",
            )
        self._check_precondition(spec, current, preconditions.get("resourceVersion"))
        if _is_dry_run(request) or options.get("dryRun"):
            return _json(self.render(spec, current))
        result = self._delete_object(spec, current)
        if result is None:  # gone right away
            if spec.crd is not None or spec.storage_key == CRDS:
                return _json(self.render(spec, current))
            meta = _meta(current)
            details = {"name": meta["name"], "kind": spec.plural, "uid": meta.get("uid")}
            if spec.group:
                details["group"] = spec.group
            return _json(
                {
                    "kind": "Status",
                    "apiVersion": "v1",
                    "metadata": {},
                    "status": "Success",
                    "details": details,
                }
            )
        return _json(self.render(spec, result))

    def _delete_object(self, spec: ResourceSpec, current: Obj) -> Obj | None:
        """Delete now, or mark for deletion if finalizers hold the object (then return the marked one)."""
        meta = _meta(current)
        if meta.get("deletionTimestamp"):
            return current
        if meta.get("finalizers"):
            marked = copy.deepcopy(current)
            marked_meta = lifecycle.metadata(marked)
            marked_meta["deletionTimestamp"] = lifecycle.now_timestamp()
            marked_meta["deletionGracePeriodSeconds"] = 0
            lifecycle.bump_generation(marked)
            self._prepare(spec.storage_key, marked, current)
            return self._store.update(spec.storage_key, marked)
        final = self._store.delete(spec.storage_key, current)
        self._after_delete(spec.storage_key, final)
        return None

    def _delete_collection(
        self, request: kmock.Request, spec: ResourceSpec, path: ResourcePath
    ) -> aiohttp.web.Response:
        items = self._selected(request, spec, path)
        deleted: list[Obj] = []
        if not _is_dry_run(request):
            for item in items:
                current = self._store.get(spec.storage_key, _meta(item).get("namespace"), _meta(item)["name"])
                if current is not None:
                    marked = self._delete_object(spec, current)
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
