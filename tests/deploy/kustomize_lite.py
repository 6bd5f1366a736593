"""A small, pure-Python renderer for the subset of kustomize that deploy/k8s uses, so the
manifest tests run on a fresh machine with pip only (no kustomize/kubectl binary).

Supported kustomization fields: ``resources`` (files and directories), ``components``,
``namespace``, ``images``, ``patches`` (strategic-merge documents, optionally with a
``target``, and JSON 6902 operation lists with a ``target``) and ``replacements``. Any
other field raises ``Unsupported``: the tests then fail loudly instead of validating
something kustomize would render differently. Where ``kubectl`` is installed the tests
also compare this renderer's output with ``kubectl kustomize``.
"""
import copy
import re
from pathlib import Path

import yaml

KNOWN_FIELDS = {"apiVersion", "kind", "resources", "components", "namespace", "images", "patches", "replacements"}
CLUSTER_SCOPED = {
    "Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume",
    "StorageClass", "IngressClass", "PriorityClass", "ValidatingWebhookConfiguration",
    "MutatingWebhookConfiguration", "APIService", "ClusterIssuer", "ClusterSecretStore",
}
# strategic-merge keys of the Kubernetes lists deploy/k8s patches (by field name)
MERGE_KEYS = {"containers": "name", "initContainers": "name", "env": "name", "volumes": "name",
              "volumeMounts": "mountPath", "imagePullSecrets": "name"}


class Unsupported(Exception):
    pass


class KustomizeError(Exception):
    pass


def load_yaml_docs(path: Path) -> list:
    with open(path) as fh:
        return [doc for doc in yaml.safe_load_all(fh) if doc is not None]


def kustomization_file(directory: Path) -> Path:
    for name in ("kustomization.yaml", "kustomization.yml", "Kustomization"):
        if (directory / name).is_file():
            return directory / name
    raise KustomizeError(f"no kustomization file in {directory}")


def build(directory) -> list:
    """Render the kustomization in ``directory`` to a list of resource dicts."""
    return _build(Path(directory), expect_kind="Kustomization")


def _build(directory: Path, expect_kind: str, accumulated=None) -> list:
    spec = load_yaml_docs(kustomization_file(directory))[0]
    unknown = set(spec) - KNOWN_FIELDS
    if unknown:
        raise Unsupported(f"{directory}: kustomization fields not supported by tests/deploy/kustomize_lite.py: {sorted(unknown)}")
    kind = spec.get("kind", "Kustomization")
    if kind != expect_kind:
        raise KustomizeError(f"{directory}: expected kind {expect_kind}, found {kind}")
    resources = [] if accumulated is None else accumulated
    for entry in spec.get("resources", []):
        target = (directory / entry).resolve()
        if target.is_dir():
            resources.extend(_build(target, "Kustomization"))
        elif target.is_file():
            resources.extend(copy.deepcopy(load_yaml_docs(target)))
        else:
            raise KustomizeError(f"{directory}: resource {entry} not found")
    for entry in spec.get("components", []):
        resources = _build((directory / entry).resolve(), "Component", resources)
    for patch in spec.get("patches", []):
        apply_patch(resources, patch, directory)
    if spec.get("namespace"):
        for res in resources:
            if res["kind"] not in CLUSTER_SCOPED:
                res.setdefault("metadata", {})["namespace"] = spec["namespace"]
    for image in spec.get("images", []):
        set_image(resources, image)
    for replacement in spec.get("replacements", []):
        apply_replacement(resources, replacement)
    _check_unique(resources, directory)
    return resources


def _check_unique(resources, directory):
    seen = set()
    for res in resources:
        key = (res.get("apiVersion"), res["kind"], res["metadata"].get("namespace"), res["metadata"]["name"])
        if key in seen:
            raise KustomizeError(f"{directory}: duplicate resource {key}")
        seen.add(key)


# --- patches ---------------------------------------------------------------------------------

def _is_core_api(api_version: str) -> bool:
    group = api_version.split("/")[0] if "/" in api_version else ""
    return group == "" or "." not in group or group.endswith(".k8s.io")


def _matches(res: dict, target: dict) -> bool:
    meta = res.get("metadata", {})
    if "kind" in target and res.get("kind") != target["kind"]:
        return False
    if "name" in target and not re.fullmatch(target["name"], meta.get("name", "")):
        return False
    if "namespace" in target and meta.get("namespace") != target["namespace"]:
        return False
    if "group" in target or "version" in target:
        group, _, version = res["apiVersion"].rpartition("/")
        if "group" in target and group != target["group"]:
            return False
        if "version" in target and version != target["version"]:
            return False
    for key in set(target) - {"kind", "name", "namespace", "group", "version"}:
        raise Unsupported(f"patch/replacement target field {key!r}")
    return True


def apply_patch(resources: list, patch: dict, directory: Path) -> None:
    if "path" in patch:
        docs = load_yaml_docs(directory / patch["path"])
    elif "patch" in patch:
        docs = [doc for doc in yaml.safe_load_all(patch["patch"]) if doc is not None]
    else:
        raise KustomizeError(f"{directory}: patch without path or patch")
    target = patch.get("target")
    if len(docs) == 1 and isinstance(docs[0], list):  # JSON 6902 operations
        if not target:
            raise KustomizeError(f"{directory}: a JSON 6902 patch needs a target")
        matched = [r for r in resources if _matches(r, target)]
        if not matched:
            raise KustomizeError(f"{directory}: patch target {target} matches nothing")
        for res in matched:
            json6902(res, docs[0])
        return
    for doc in docs:
        if target:
            matched = [r for r in resources if _matches(r, target)]
        else:
            meta = doc.get("metadata", {})
            matched = [r for r in resources if r["kind"] == doc.get("kind")
                       and r["metadata"]["name"] == meta.get("name")
                       and ("namespace" not in meta or r["metadata"].get("namespace") == meta["namespace"])]
        if not matched:
            raise KustomizeError(f"{directory}: patch for {doc.get('kind')}/{doc.get('metadata', {}).get('name')} matches nothing")
        for res in matched:
            body = {k: v for k, v in doc.items() if k not in ("apiVersion", "kind")}
            if target:
                body.pop("metadata", None)
            merged = strategic_merge(res, body, keyed=_is_core_api(res["apiVersion"]))
            res.clear()
            res.update(merged)


def strategic_merge(base, patch, keyed=True, field=None):
    if isinstance(patch, dict) and "$patch" in patch:
        raise Unsupported("$patch directives")
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for key, value in patch.items():
            if value is None:
                out.pop(key, None)
            elif key in out:
                out[key] = strategic_merge(out[key], value, keyed, key)
            else:
                out[key] = copy.deepcopy(value)
        return out
    if keyed and isinstance(base, list) and isinstance(patch, list) and field in MERGE_KEYS:
        # like kustomize: the patch's items first (merged with the base's item of the same
        # key, if any), then the base's other items in their order
        key = MERGE_KEYS[field]
        by_key = {item.get(key): item for item in base}
        patched = [strategic_merge(by_key[item.get(key)], item, keyed, None) if item.get(key) in by_key
                   else copy.deepcopy(item) for item in patch]
        keys = {item.get(key) for item in patch}
        return patched + [copy.deepcopy(item) for item in base if item.get(key) not in keys]
    return copy.deepcopy(patch)


def _pointer(path: str) -> list:
    return [part.replace("~1", "/").replace("~0", "~") for part in path.lstrip("/").split("/")]


def json6902(res: dict, operations: list) -> None:
    for op in operations:
        parts = _pointer(op["path"])
        parent = res
        for part in parts[:-1]:
            parent = parent[int(part)] if isinstance(parent, list) else parent[part]
        last = parts[-1]
        if op["op"] in ("add", "replace"):
            value = copy.deepcopy(op["value"])
            if isinstance(parent, list):
                if last == "-":
                    parent.append(value)
                elif op["op"] == "add":
                    parent.insert(int(last), value)
                else:
                    parent[int(last)] = value
            else:
                if op["op"] == "replace" and last not in parent:
                    raise KustomizeError(f"replace of missing path {op['path']}")
                parent[last] = value
        elif op["op"] == "remove":
            del parent[int(last) if isinstance(parent, list) else last]
        else:
            raise Unsupported(f"JSON 6902 op {op['op']}")


# --- images ----------------------------------------------------------------------------------

def _split_image(image: str):
    if "@" in image:
        return image.split("@", 1)[0]
    last = image.rsplit("/", 1)[-1]
    return image.rsplit(":", 1)[0] if ":" in last else image


def set_image(resources: list, image: dict) -> None:
    def new_ref(old):
        name = image.get("newName", image["name"])
        if image.get("digest"):
            return f"{name}@{image['digest']}"
        if image.get("newTag"):
            return f"{name}:{image['newTag']}"
        tag = old[len(_split_image(old)):]
        return name + tag

    def walk(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key in ("containers", "initContainers") and isinstance(value, list):
                    for container in value:
                        if isinstance(container, dict) and _split_image(container.get("image", "")) == image["name"]:
                            container["image"] = new_ref(container["image"])
                walk(value)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    for res in resources:
        walk(res)


# --- replacements ----------------------------------------------------------------------------

_SELECTOR = re.compile(r"^\[(?P<key>[^=\]]+)=(?P<value>[^\]]*)\]$")


def _path_parts(field_path: str) -> list:
    return [p for p in re.split(r"\.(?![^\[]*\])", field_path) if p]


def _get(node, parts, create=False):
    for i, part in enumerate(parts):
        sel = _SELECTOR.match(part)
        if sel:
            node = next((item for item in node if str(item.get(sel["key"])) == sel["value"]), None)
        elif isinstance(node, list):
            node = node[int(part)]
        else:
            if part not in node:
                if not create:
                    return None
                node[part] = {}
            node = node[part]
        if node is None:
            return None
    return node


def _set(node, parts, value, create):
    parent = _get(node, parts[:-1], create)
    if parent is None or (parts[-1] not in parent and not create):
        return False
    parent[parts[-1]] = value
    return True


def apply_replacement(resources: list, replacement: dict) -> None:
    if "path" in replacement:
        raise Unsupported("replacements from a file")
    source = replacement["source"]
    candidates = [r for r in resources if _matches(r, {k: v for k, v in source.items() if k in ("kind", "name", "namespace")})]
    if len(candidates) != 1:
        raise KustomizeError(f"replacement source {source} matches {len(candidates)} resources")
    value = _get(candidates[0], _path_parts(source.get("fieldPath", "metadata.name")))
    if value is None:
        raise KustomizeError(f"replacement source {source} has no value")
    for target in replacement["targets"]:
        selected = [r for r in resources if _matches(r, target["select"])]
        for reject in target.get("reject", []):
            selected = [r for r in selected if not _matches(r, reject)]
        if not selected:
            raise KustomizeError(f"replacement target {target['select']} matches nothing")
        create = target.get("options", {}).get("create", False)
        for res in selected:
            for field_path in target["fieldPaths"]:
                if not _set(res, _path_parts(field_path), copy.deepcopy(value), create):
                    raise KustomizeError(f"replacement target {res['kind']}/{res['metadata']['name']} has no {field_path}")
