"""The rules the API server applies to an object on every write, independent of HTTP and storage.

* create: ``uid``, ``creationTimestamp`` and (for resources that track it) ``generation: 1`` are set;
  the resourceVersion comes from the store;
* update: system metadata (``creationTimestamp``, ``deletionTimestamp``, ``deletionGracePeriodSeconds``,
  ``generation``) cannot be changed by clients: their values are silently kept;
* ``metadata.generation`` is incremented when anything outside ``metadata`` changes (outside
  ``metadata`` and ``status`` when the resource has the status subresource), and when deletion starts;
* Secrets: ``stringData`` is folded into base64 ``data`` and never stored; ``type`` defaults to ``Opaque``;
* core/v1 Events always show the fields their Go type does not omit (``source``, timestamps, reporting);
* names must be DNS-1123 subdomains (namespaces: DNS-1123 labels);
* metadata is what ``ObjectMeta`` can hold: unknown fields are dropped, and so are empty ones (they are
  ``omitempty`` in Go), e.g. ``labels: {}`` disappears;
* label keys and values, annotation keys and finalizers must be valid (qualified names, label values);
* an update cannot change ``uid`` (422, see :func:`identity_problem`; an absent one is kept), nor ``name`` or
  ``namespace`` (the emulator answers 400 when they differ from the URL's).
"""

from __future__ import annotations

import base64
import copy
import datetime
import re
import secrets
import uuid
from typing import Any

Obj = dict[str, Any]

SYSTEM_METADATA = (
    "uid",
    "creationTimestamp",
    "deletionTimestamp",
    "deletionGracePeriodSeconds",
    "generation",
    "name",
    "namespace",
)
# The fields of ObjectMeta a server stores (selfLink is no longer set by any server, so it is dropped too).
OBJECT_META_FIELDS = frozenset(
    {
        "name",
        "generateName",
        "namespace",
        "uid",
        "resourceVersion",
        "generation",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "labels",
        "annotations",
        "ownerReferences",
        "finalizers",
        "managedFields",
    }
)
_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
_QUALIFIED_NAME = re.compile(r"^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")
# The API server's own wording (apimachinery's validation package), which clients show as is.
_NAME_PART = (
    "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')"
)
_PREFIX_PART = (
    "prefix part a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or "
    "'.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
    "validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_QUALIFIED = (
    "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
    "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is "
    "'([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. "
    "'example.com/MyName')"
)
_LABEL_VALUE_MESSAGE = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must "
    "start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used "
    "for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')"
)
_GENERATED_ALPHABET = "bcdfghjklmnpqrstvwxz2456789"  # what the server uses for generateName suffixes


def now_timestamp() -> str:
    """RFC 3339, seconds precision, UTC: the format of creationTimestamp and deletionTimestamp."""
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def new_uid() -> str:
    return str(uuid.uuid4())


def generated_name(prefix: str) -> str:
    return prefix + "".join(secrets.choice(_GENERATED_ALPHABET) for _ in range(5))


def name_problem(name: Any, *, label: bool = False) -> str | None:
    """Why a name is not acceptable (a field error message), or None if it is fine."""
    if not isinstance(name, str) or not name:
        return "metadata.name: Required value: name or generateName is required"
    limit, pattern = (63, _LABEL) if label else (253, _SUBDOMAIN)
    if len(name) > limit or not pattern.match(name):
        kind = "RFC 1123 label" if label else "RFC 1123 subdomain"
        return (
            f'metadata.name: Invalid value: "{name}": a lowercase {kind} must consist of lower case '
            f"alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character"
        )
    return None


def metadata(obj: Obj) -> Obj:
    """The object's metadata dict, created if absent (the object must be a private copy)."""
    meta = obj.get("metadata")
    if not isinstance(meta, dict):
        meta = obj["metadata"] = {}
    return meta


def stamp_new(obj: Obj, *, namespace: str | None, generation: bool = True) -> None:
    meta = metadata(obj)
    for key in (
        "resourceVersion",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "selfLink",
        "generation",
    ):
        meta.pop(key, None)
    meta["uid"] = new_uid()
    meta["creationTimestamp"] = now_timestamp()
    if generation:
        meta["generation"] = 1
    if namespace is None:
        meta.pop("namespace", None)
    else:
        meta["namespace"] = namespace


def carry_system_metadata(old: Obj, new: Obj) -> None:
    """Restore the metadata fields clients may not change from the stored object."""
    new_meta = metadata(new)
    old_meta = old.get("metadata") or {}
    for key in SYSTEM_METADATA:
        if key in old_meta:
            new_meta[key] = old_meta[key]
        else:
            new_meta.pop(key, None)


def _content(obj: Obj, *, ignore_status: bool) -> Obj:
    skipped = {"metadata", "kind", "apiVersion"} | ({"status"} if ignore_status else set())
    return {key: value for key, value in obj.items() if key not in skipped}


def spec_changed(old: Obj, new: Obj, *, has_status: bool) -> bool:
    return _content(old, ignore_status=has_status) != _content(new, ignore_status=has_status)


def bump_generation(obj: Obj) -> None:
    """Increment ``metadata.generation`` if the object has one (resources not tracking it have none)."""
    meta = metadata(obj)
    if "generation" in meta:
        meta["generation"] = int(meta["generation"] or 0) + 1


# The fields of a core/v1 Event that a real server always serializes (not omitempty), with their zero values.
EVENT_FIELDS: dict[str, Any] = {
    "source": {},
    "firstTimestamp": None,
    "lastTimestamp": None,
    "eventTime": None,
    "reportingComponent": "",
    "reportingInstance": "",
}


def namespace_deletion_conditions(
    resources: dict[str, int], finalizers: dict[str, int], now: str, previous: list[Obj] | None = None
) -> list[Obj]:
    """The conditions the namespace controller reports on a terminating namespace that still holds content:
    ``resources`` counts the objects left per ``<plural>.<group>``, ``finalizers`` the objects each finalizer
    holds. Transition times are kept for conditions whose status did not change."""

    def listing(counts: dict[str, int], template: str) -> str:
        return ", ".join(template.format(key, counts[key]) for key in sorted(counts))

    remaining = listing(resources, "{} has {} resource instances")
    held = listing(finalizers, "{} in {} resource instances")
    conditions = [
        ("NamespaceDeletionDiscoveryFailure", "False", "ResourcesDiscovered", "All resources successfully discovered"),
        ("NamespaceDeletionGroupVersionParsingFailure", "False", "ParsedGroupVersions", "All legacy kube types successfully parsed"),
        ("NamespaceDeletionContentFailure", "False", "ContentDeleted", "All content successfully deleted, may be waiting on finalization"),
        ("NamespaceContentRemaining", "True", "SomeResourcesRemain", f"Some resources are remaining: {remaining}")
        if resources
        else ("NamespaceContentRemaining", "False", "ContentRemoved", "All content successfully removed"),
        ("NamespaceFinalizersRemaining", "True", "SomeFinalizersRemain", f"Some content in the namespace has finalizers remaining: {held}")
        if finalizers
        else ("NamespaceFinalizersRemaining", "False", "ContentHasNoFinalizers", "All content-preserving finalizers finished"),
    ]  # fmt: skip
    before = {c.get("type"): c for c in previous or []}
    result: list[Obj] = []
    for kind, status, reason, message in conditions:
        old = before.get(kind) or {}
        since = old.get("lastTransitionTime") if old.get("status") == status else None
        result.append(
            {
                "type": kind,
                "status": status,
                "lastTransitionTime": since or now,
                "reason": reason,
                "message": message,
            }
        )
    return result


def complete_event(event: Obj) -> None:
    for key, zero in EVENT_FIELDS.items():
        event.setdefault(key, copy.deepcopy(zero))


def default_secret_type(secret: Obj) -> None:
    if not secret.get("type"):
        secret["type"] = "Opaque"


def fold_string_data(secret: Obj) -> None:
    """Secrets: merge ``stringData`` into base64-encoded ``data`` (stringData wins), drop ``stringData``."""
    string_data = secret.pop("stringData", None)
    if isinstance(string_data, dict) and string_data:
        data = dict(secret.get("data") or {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()
        secret["data"] = data


# --- metadata as ObjectMeta holds it -------------------------------------------------------------


def normalize_metadata(obj: Obj) -> None:
    """Keep only ObjectMeta's fields, and none of the empty ones (``omitempty``: ``labels: {}`` is dropped)."""
    meta = metadata(obj)
    for key in list(meta):
        value = meta[key]
        if key not in OBJECT_META_FIELDS or value is None or value in ("", {}, []):
            del meta[key]


def _qualified_name_problem(value: Any) -> str | None:
    """Why a label key, annotation key or finalizer is not a qualified name (``[prefix/]name``)."""
    if not isinstance(value, str):
        return _QUALIFIED
    parts = value.split("/")
    if len(parts) > 2:
        return _QUALIFIED
    name = parts[-1]
    if len(parts) == 2:
        prefix = parts[0]
        if not prefix:
            return "prefix part must be non-empty"
        if len(prefix) > 253:
            return "prefix part must be no more than 253 characters"
        if not _SUBDOMAIN.match(prefix):
            return _PREFIX_PART
    if not name:
        return "name part must be non-empty"
    if len(name) > 63:
        return "name part must be no more than 63 characters"
    if not _QUALIFIED_NAME.match(name):
        return _NAME_PART
    return None


def _label_value_problem(value: Any) -> str | None:
    if not isinstance(value, str):
        return _LABEL_VALUE_MESSAGE
    if len(value) > 63:
        return "must be no more than 63 characters"
    return None if _LABEL_VALUE.match(value) else _LABEL_VALUE_MESSAGE


def _invalid(field: str, value: Any, problem: str) -> str:
    return f'metadata.{field}: Invalid value: "{value}": {problem}'


def metadata_problem(obj: Obj) -> str | None:
    """The first field error of the object's labels, annotations and finalizers (the server answers 422)."""
    meta = metadata(obj)
    for key, value in (meta.get("labels") or {}).items():
        problem = _qualified_name_problem(key)
        if problem is not None:
            return _invalid("labels", key, problem)
        problem = _label_value_problem(value)
        if problem is not None:
            return _invalid("labels", value, problem)
    for key in meta.get("annotations") or {}:
        # Annotation keys are checked in lower case: upper-case letters are allowed in their prefix.
        problem = _qualified_name_problem(key.lower() if isinstance(key, str) else key)
        if problem is not None:
            return _invalid("annotations", key, problem)
    for finalizer in meta.get("finalizers") or []:
        problem = _qualified_name_problem(finalizer)
        if problem is not None:
            return _invalid("finalizers", finalizer, problem)
    return None


def identity_problem(old: Obj, new: Obj) -> str | None:
    """Why an update is refused for changing who the object is: a new uid (422; an absent one is kept)."""
    old_uid, new_uid = metadata(old).get("uid"), metadata(new).get("uid")
    if new_uid and new_uid != old_uid:
        return f'metadata.uid: Invalid value: "{new_uid}": field is immutable'
    return None
