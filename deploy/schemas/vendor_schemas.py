"""Refresh the JSON schemas in deploy/schemas/ from the published packages that ship them.

    pip download --no-deps kubernetes-validate==1.37.0 check-jsonschema==0.39.0 -d /tmp/wheels
    python deploy/schemas/vendor_schemas.py \
        /tmp/wheels/kubernetes_validate-1.37.0-py3-none-any.whl \
        /tmp/wheels/check_jsonschema-0.39.0-py3-none-any.whl

Kubernetes: the per-kind files are copied unchanged; `_definitions.json` keeps only the
definitions reachable from those kinds (each kept definition unchanged). Compose: the
compose-spec schema vendored by check-jsonschema, copied byte for byte.
"""

from __future__ import annotations

import json
import sys
import zipfile
from pathlib import Path

K8S_VERSION = "v1.29.0-local-strict"
KINDS = [
    "namespace-v1",
    "configmap-v1",
    "secret-v1",
    "service-v1",
    "deployment-apps-v1",
    "job-batch-v1",
    "ingress-networking-v1",
    "horizontalpodautoscaler-autoscaling-v2",
    "poddisruptionbudget-policy-v1",
]
HERE = Path(__file__).resolve().parent
# Kind files point into the definitions file; definitions point within it.
DEFS_PREFIXES = ("/api/_definitions.json#/$defs/", "#/$defs/")


def refs(node) -> set[str]:
    """Return the definition names a schema node refers to."""
    found: set[str] = set()
    if isinstance(node, dict):
        ref = node.get("$ref")
        for prefix in DEFS_PREFIXES:
            if isinstance(ref, str) and ref.startswith(prefix):
                found.add(ref[len(prefix):])
        for value in node.values():
            found |= refs(value)
    elif isinstance(node, list):
        for value in node:
            found |= refs(value)
    return found


def vendor_kubernetes(wheel: Path) -> None:
    """Copy the kinds and the definitions they reach."""
    base = f"kubernetes_validate/kubernetes-json-schema/{K8S_VERSION}/"
    out = HERE / "kubernetes" / K8S_VERSION
    out.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as archive:
        definitions = json.loads(archive.read(base + "_definitions.json"))
        todo: set[str] = set()
        for kind in KINDS:
            raw = archive.read(f"{base}{kind}.json")
            (out / f"{kind}.json").write_bytes(raw)
            todo |= refs(json.loads(raw))
    keep: set[str] = set()
    while todo:
        name = todo.pop()
        if name not in keep:
            keep.add(name)
            todo |= refs(definitions["$defs"][name]) - keep
    pruned = dict(definitions)
    pruned["$defs"] = {k: v for k, v in definitions["$defs"].items() if k in keep}
    (out / "_definitions.json").write_text(
        json.dumps(pruned, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def vendor_compose(wheel: Path) -> None:
    """Copy the compose-spec schema unchanged."""
    with zipfile.ZipFile(wheel) as archive:
        raw = archive.read("check_jsonschema/builtin_schemas/vendor/compose-spec.json")
    (HERE / "compose-spec.json").write_bytes(raw)


if __name__ == "__main__":
    vendor_kubernetes(Path(sys.argv[1]))
    vendor_compose(Path(sys.argv[2]))
