"""Writes the JSON schemas tests/test_k8s.py validates the Gateway API objects against, from the
CRDs of their releases (kubernetes-validate knows core Kubernetes only). Usage:

    python tests/k8s_crd_schemas/extract.py SOURCE CRD.yaml...

SOURCE names the release (e.g. kubernetes-sigs/gateway-api v1.6.1); one file per kind, for its
storage version: <group>_<version>_<kind>.json holding that source and the openAPIV3Schema."""

import json
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent


def main(source: str, paths: list[str]) -> None:
    for path in paths:
        for crd in yaml.safe_load_all(Path(path).read_text()):
            if not crd or crd.get("kind") != "CustomResourceDefinition":
                continue
            group, kind = crd["spec"]["group"], crd["spec"]["names"]["kind"]
            for version in crd["spec"]["versions"]:
                if version.get("storage"):  # the version the manifests use
                    out = HERE / f"{group}_{version['name']}_{kind}.json"
                    out.write_text(json.dumps({"source": source, "schema": version["schema"][
                        "openAPIV3Schema"]}, indent=None, sort_keys=True) + "\n")
                    print(out.name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2:])
