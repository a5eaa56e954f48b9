"""`kustomize build` for the part of Kustomize that deploy/k8s uses, so that the tests can render it.

There is no kubectl nor kustomize binary here, and no package on PyPI that provides one for this
Python; the overlays are rendered by this small subset instead: `resources` (files and folders),
`namespace`, `labels` (metadata only), `images`, `patches` (strategic merge, found by kind and
name), `configMapGenerator` and `secretGenerator` (files and literals), and `generatorOptions`
(labels, and `disableNameSuffixHash`, which every generator here sets: names stay as written).
A field of a kustomization outside the subset fails the render, so that a manifest never relies
on something the tests do not render as Kustomize would.
"""

import base64
from collections.abc import Iterable
from copy import deepcopy
from pathlib import Path
from typing import Any

import yaml

Manifest = dict[str, Any]
SafeLoader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's, where PyYAML was built with it

KNOWN_FIELDS = {
    "apiVersion",
    "kind",
    "resources",
    "namespace",
    "labels",
    "images",
    "patches",
    "configMapGenerator",
    "secretGenerator",
    "generatorOptions",
}
# Kinds whose objects live outside any namespace: the namespace transformer leaves them alone.
CLUSTER_SCOPED = {"Namespace", "ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "PersistentVolume"}
# The pod specs of the workload kinds, where `images` applies.
POD_SPEC_PATHS = {
    "Deployment": ("spec", "template", "spec"),
    "StatefulSet": ("spec", "template", "spec"),
    "DaemonSet": ("spec", "template", "spec"),
    "Job": ("spec", "template", "spec"),
    "CronJob": ("spec", "jobTemplate", "spec", "template", "spec"),
}
# A list under these keys is merged item by item on the key named, as Kubernetes' strategic merge does;
# any other list is replaced whole.
MERGE_KEYS = {
    "containers": "name",
    "initContainers": "name",
    "env": "name",
    "volumes": "name",
    "volumeMounts": "mountPath",
}


class UnsupportedKustomization(Exception):
    pass


def build(folder: Path) -> list[Manifest]:
    """The objects the kustomization in `folder` renders, in the order Kustomize keeps (resources first)."""
    kustomization: dict[str, Any] = yaml.safe_load((folder / "kustomization.yaml").read_text())
    unknown = set(kustomization) - KNOWN_FIELDS
    if unknown:
        raise UnsupportedKustomization(f"{folder}: {', '.join(sorted(unknown))} is outside the rendered subset")
    objects: list[Manifest] = []
    for resource in kustomization.get("resources", []):
        path = folder / resource
        objects.extend(build(path) if path.is_dir() else load_all(path))
    objects.extend(_generated(folder, kustomization))
    for patch_ref in kustomization.get("patches", []):
        if set(patch_ref) != {"path"}:
            raise UnsupportedKustomization(f"{folder}: only patches by path are rendered")
        for patch in load_all(folder / patch_ref["path"]):
            _apply_patch(objects, patch, folder / patch_ref["path"])
    for entry in kustomization.get("labels", []):
        if entry.get("includeSelectors") or entry.get("includeTemplates"):
            raise UnsupportedKustomization(f"{folder}: labels reach metadata only here")
        for manifest in objects:
            manifest.setdefault("metadata", {}).setdefault("labels", {}).update(entry["pairs"])
    for image in kustomization.get("images", []):
        for manifest in objects:
            _set_image(manifest, image)
    if "namespace" in kustomization:
        for manifest in objects:
            if manifest["kind"] not in CLUSTER_SCOPED:
                manifest["metadata"]["namespace"] = kustomization["namespace"]
    return objects


def load_all(path: Path) -> list[Manifest]:
    return [document for document in yaml.load_all(path.read_text(), Loader=SafeLoader) if document]


def _generated(folder: Path, kustomization: dict[str, Any]) -> Iterable[Manifest]:
    options = kustomization.get("generatorOptions", {})
    generators = [("ConfigMap", spec) for spec in kustomization.get("configMapGenerator", [])]
    generators += [("Secret", spec) for spec in kustomization.get("secretGenerator", [])]
    if generators and not options.get("disableNameSuffixHash"):
        raise UnsupportedKustomization(f"{folder}: names with a hash suffix are not rendered")
    for kind, spec in generators:
        data: dict[str, str] = {}
        for literal in spec.get("literals", []):
            key, _, value = literal.partition("=")
            data[key] = value
        for file in spec.get("files", []):
            key, _, name = file.rpartition("=")
            data[key or Path(name).name] = (folder / name).read_text()
        manifest: Manifest = {
            "apiVersion": "v1",
            "kind": kind,
            "metadata": {"name": spec["name"], **({"labels": dict(options["labels"])} if "labels" in options else {})},
        }
        if kind == "Secret":
            manifest["type"] = spec.get("type", "Opaque")
            manifest["data"] = {key: base64.b64encode(value.encode()).decode() for key, value in data.items()}
        else:
            manifest["data"] = data
        yield manifest


def _apply_patch(objects: list[Manifest], patch: Manifest, source: Path) -> None:
    targets = [
        manifest
        for manifest in objects
        if manifest["kind"] == patch["kind"] and manifest["metadata"]["name"] == patch["metadata"]["name"]
    ]
    if len(targets) != 1:
        raise UnsupportedKustomization(f"{source}: {patch['kind']}/{patch['metadata']['name']} matches {len(targets)}")
    merged = strategic_merge(targets[0], patch)
    targets[0].clear()
    targets[0].update(merged)


def strategic_merge(original: Any, patch: Any, key: str = "") -> Any:
    """`patch` laid over `original`: maps merged, lists of MERGE_KEYS merged by their key, other lists replaced."""
    if isinstance(original, dict) and isinstance(patch, dict):
        merged = deepcopy(original)
        for name, value in patch.items():
            merged[name] = strategic_merge(original[name], value, name) if name in original else deepcopy(value)
        return merged
    merge_key = MERGE_KEYS.get(key)
    if merge_key and isinstance(original, list) and isinstance(patch, list):
        items = deepcopy(original)
        for item in patch:
            position = next((i for i, old in enumerate(items) if old.get(merge_key) == item.get(merge_key)), None)
            if position is None:
                items.append(deepcopy(item))
            else:
                items[position] = strategic_merge(items[position], item)
        return items
    return deepcopy(patch)


def pod_spec(manifest: Manifest) -> dict[str, Any] | None:
    path = POD_SPEC_PATHS.get(manifest["kind"])
    if path is None:
        return None
    spec: dict[str, Any] = manifest
    for step in path:
        spec = spec[step]
    return spec


def _set_image(manifest: Manifest, image: dict[str, str]) -> None:
    spec = pod_spec(manifest)
    if spec is None:
        return
    for container in [*spec.get("initContainers", []), *spec["containers"]]:
        name, _, tag = container["image"].partition(":")
        if name != image["name"]:
            continue
        container["image"] = f"{image.get('newName', name)}:{image.get('newTag', tag or 'latest')}"
