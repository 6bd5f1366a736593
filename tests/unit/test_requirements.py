"""Every distribution the pinned requirements pull in is pinned too, so that a fresh
machine or an image build gets exactly what was tested: requirements.txt (the images)
on its own, and requirements.txt + requirements-deploy.txt + requirements-dev.txt (what
``make test`` installs). Read from the installed distributions' metadata."""
import re
from importlib import metadata
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[2]


def _name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(filename: str) -> dict:
    """{normalized name: (version, extras)} of a requirements file and the files it includes."""
    found = {}
    for line in (ROOT / filename).read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("-r "):
            found.update(pins(line[3:].strip()))
            continue
        req = Requirement(line)
        specifier = str(req.specifier)
        assert specifier.startswith("==") and "," not in specifier, f"{filename}: {line} is not pinned exactly"
        if req.marker is None or req.marker.evaluate():  # e.g. a backport only older Pythons install
            found[_name(req.name)] = (specifier[2:], set(req.extras))
    return found


def unpinned_dependencies(pinned: dict) -> dict:
    """{dependency: [who needs it]} for what the pinned distributions need and is not pinned."""
    extras = {name: set(wanted) for name, (_, wanted) in pinned.items()}
    missing: dict = {}
    changed = True
    while changed:  # a dependency asked with extras (apispec[marshmallow]) needs those extras' requirements
        changed, missing = False, {}
        for name in pinned:
            try:
                requires = metadata.distribution(name).requires or []
            except metadata.PackageNotFoundError:
                pytest.fail(f"{name} is pinned but not installed: run `make install`")
            for line in requires:
                req = Requirement(line)
                if req.marker is not None and not any(req.marker.evaluate({"extra": e}) for e in extras[name] | {""}):
                    continue
                dependency = _name(req.name)
                if dependency not in pinned:
                    missing.setdefault(dependency, []).append(name)
                elif not set(req.extras) <= extras[dependency]:
                    extras[dependency] |= set(req.extras)
                    changed = True
    return missing


@pytest.mark.parametrize("filename", ["requirements.txt", "requirements-dev.txt"])
def test_every_dependency_of_a_pin_is_pinned(filename):
    assert unpinned_dependencies(pins(filename)) == {}


def test_what_is_installed_is_what_is_pinned():
    wrong = {name: (version, metadata.version(name)) for name, (version, _) in pins("requirements-dev.txt").items()
             if Version(metadata.version(name)) != Version(version)}
    assert wrong == {}


def test_the_benchmark_tools_are_pinned_with_what_they_need():
    pinned = pins("requirements-bench.txt")
    try:
        for name in pinned:
            metadata.distribution(name)
    except metadata.PackageNotFoundError:
        pytest.skip("the benchmark tools are not installed (make install-bench)")
    assert unpinned_dependencies(pinned) == {}


def test_the_requirements_of_a_requested_extra_are_followed():
    """flask-smorest asks for apispec[marshmallow]: apispec then needs marshmallow too."""
    pinned = pins("requirements.txt")
    del pinned["marshmallow"]
    assert "apispec" in unpinned_dependencies(pinned)["marshmallow"]


def test_an_unpinned_dependency_is_found():
    pinned = pins("requirements.txt")
    del pinned["vine"]
    missing = unpinned_dependencies(pinned)
    assert list(missing) == ["vine"] and sorted(missing["vine"]) == ["amqp", "kombu"]
