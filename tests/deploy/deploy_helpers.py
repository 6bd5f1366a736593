"""Paths and helpers shared by the deployment tests (tests/deploy)."""
from pathlib import Path

import kustomize_lite as kustomize

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"


def runnable() -> dict:
    from services import RUNNABLE

    return dict(RUNNABLE)


def kustomizations() -> list:
    """Every buildable kustomization under deploy/k8s (components are built through the
    overlays that use them)."""
    found = []
    for path in sorted(K8S.rglob("kustomization.yaml")):
        spec = kustomize.load_yaml_docs(path)[0]
        if spec.get("kind", "Kustomization") == "Kustomization":
            found.append(path.parent)
    return found


def overlays() -> list:
    return sorted(p for p in (K8S / "overlays").iterdir() if (p / "kustomization.yaml").is_file())


_RENDERED = {}


def rendered(directory: Path) -> list:
    """The resources of a kustomization, rendered once per test session."""
    if directory not in _RENDERED:
        _RENDERED[directory] = kustomize.build(directory)
    return _RENDERED[directory]
