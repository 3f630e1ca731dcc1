#!/usr/bin/env python3
"""Writes the strict Kubernetes JSON schemas the chart's objects need, for
kubeconform without network access.

Source: the _definitions.json of yannh/kubernetes-json-schema (Kubernetes'
OpenAPI definitions, Apache-2.0) that the kubeconform Go module ships as a test
fixture; pass its path. Only the definitions reachable from KINDS are kept,
descriptions dropped, and every object closed (additionalProperties: false),
as the "-strict" schemas are. Each kind gets a file named as kubeconform's
{{ .ResourceKind }}{{ .KindSuffix }}.json template expects, pointing into
_definitions.json.

    python3 generate.py "$(go env GOMODCACHE)/github.com/yannh/kubeconform@v0.8.0/fixtures/cache/6dc6142c64b944d783a3e783526114da8e747a14a11d8b32dd1f12e2d89a8330"
"""
import json
import sys

KINDS = {
    "deployment-apps-v1": "io.k8s.api.apps.v1.Deployment",
    "service-v1": "io.k8s.api.core.v1.Service",
    "configmap-v1": "io.k8s.api.core.v1.ConfigMap",
    "secret-v1": "io.k8s.api.core.v1.Secret",
    "persistentvolumeclaim-v1": "io.k8s.api.core.v1.PersistentVolumeClaim",
    "ingress-networking-v1": "io.k8s.api.networking.v1.Ingress",
}
PREFIX = "#/definitions/"


def refs(node):
    if isinstance(node, dict):
        for k, v in node.items():
            if k == "$ref" and isinstance(v, str) and v.startswith(PREFIX):
                yield v[len(PREFIX):]
            else:
                yield from refs(v)
    elif isinstance(node, list):
        for v in node:
            yield from refs(v)


def strict(node):
    if isinstance(node, dict):
        node.pop("description", None)
        if "properties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for k, v in node.items():
            if k != "properties":
                strict(v)
            else:
                for prop in v.values():
                    strict(prop)
    elif isinstance(node, list):
        for v in node:
            strict(v)


def main(path):
    definitions = json.load(open(path))["definitions"]
    keep, todo = {}, list(KINDS.values())
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep[name] = definitions[name]
        todo.extend(refs(keep[name]))
    strict(keep)
    with open("_definitions.json", "w") as f:
        json.dump({"definitions": dict(sorted(keep.items()))}, f, indent=1, sort_keys=True)
        f.write("\n")
    for file, name in KINDS.items():
        with open(file + ".json", "w") as f:
            json.dump({"$ref": "_definitions.json" + PREFIX + name}, f)
            f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1])
