"""Release ONE service (or the gateway) on its own: bump its version, close its changelog
section, commit, tag ``<service>-v<version>`` and build its image.

    python deploy/release.py voting                    # patch: 0.1.0 -> 0.1.1
    python deploy/release.py voting --bump minor       # 0.1.0 -> 0.2.0
    python deploy/release.py SERVICE=voting BUMP=major # the form `make release` passes
    python deploy/release.py gateway --overlay fr      # also pin the new tag in overlays/fr
    python deploy/release.py voting --dry-run          # say what would happen, change nothing

Steps, for ``<dir>`` = services/<service> (or gateway/):
1. refuse unless ``<dir>/CHANGELOG.md`` has entries under ``## [Unreleased]`` (nothing
   to release otherwise; --allow-empty overrides) and ``<dir>`` has no uncommitted change
   (--allow-dirty overrides), and unless the tag does not exist yet;
2. write the new version to ``<dir>/VERSION``; move the Unreleased entries under
   ``## [<version>] - <date>`` and leave an empty Unreleased section (Keep a Changelog);
   with --overlay NAME, set ``newTag`` of civic/<service> in
   deploy/k8s/overlays/NAME/kustomization.yaml;
3. commit exactly those files (``git commit --only``, other staged work is left alone) and
   create the annotated tag ``<service>-v<version>`` (--no-git skips both);
4. print the image build, or run it when a Docker engine answers (--build yes|no|auto):
   ``docker build -f deploy/docker/Dockerfile --target <service> -t civic/<service>:<version> .``

Nothing is pushed: ``git push origin <tag>`` and ``docker push`` stay with the operator.
Standard library only.
"""
import argparse
import ast
import datetime
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SEMVER = re.compile(r"^(\d+)\.(\d+)\.(\d+)$")
UNRELEASED = re.compile(r"^## \[Unreleased\][^\n]*\n", re.MULTILINE)
NEXT_SECTION = re.compile(r"^## \[", re.MULTILINE)


class ReleaseError(Exception):
    pass


def releasable(root: Path) -> dict:
    """name -> directory: every runnable service (services/__init__.py RUNNABLE) and the gateway."""
    tree = ast.parse((root / "services" / "__init__.py").read_text())
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "RUNNABLE" for t in node.targets):
            names = list(ast.literal_eval(node.value))
    found = {name: root / "services" / name for name in names}
    found["gateway"] = root / "gateway"
    return found


def bump(version: str, part: str) -> str:
    match = SEMVER.match(version)
    if not match:
        raise ReleaseError(f"VERSION {version!r} is not MAJOR.MINOR.PATCH")
    major, minor, patch = map(int, match.groups())
    if part == "major":
        return f"{major + 1}.0.0"
    if part == "minor":
        return f"{major}.{minor + 1}.0"
    return f"{major}.{minor}.{patch + 1}"


def unreleased_entries(changelog: str) -> str:
    match = UNRELEASED.search(changelog)
    if not match:
        raise ReleaseError("CHANGELOG.md has no '## [Unreleased]' section")
    rest = changelog[match.end():]
    following = NEXT_SECTION.search(rest)
    return rest[: following.start()] if following else rest


def close_unreleased(changelog: str, version: str, date: str) -> str:
    """Move the Unreleased entries under ``## [version] - date``; keep an empty Unreleased."""
    section = unreleased_entries(changelog)  # raises when there is no Unreleased section
    start = UNRELEASED.search(changelog).end()
    head, tail = changelog[:start], changelog[start + len(section):]
    body = section.strip("\n")
    released = f"\n## [{version}] - {date}\n" + (f"\n{body}\n" if body else "")
    return head + released + (f"\n{tail}" if tail else "")


def has_entries(section: str) -> bool:
    return any(line.strip() and not line.lstrip().startswith("#") for line in section.splitlines())


def set_overlay_tag(kustomization: Path, image: str, tag: str) -> None:
    text = kustomization.read_text()
    flow = re.compile(r"(\{\s*name:\s*" + re.escape(image) + r"\s*,\s*newTag:\s*)\"?[^\",}\s]+\"?")
    if flow.search(text):
        text = flow.sub(lambda m: f'{m.group(1)}"{tag}"', text, count=1)
    else:
        block = re.compile(r"(-\s+name:\s*" + re.escape(image) + r"\s*\n\s+newTag:\s*)\"?[^\"\s]+\"?")
        if not block.search(text):
            raise ReleaseError(f"{kustomization}: no images entry for {image} with a newTag")
        text = block.sub(lambda m: f'{m.group(1)}"{tag}"', text, count=1)
    kustomization.write_text(text)


def git(root: Path, *args, check=True) -> subprocess.CompletedProcess:
    return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, check=check)


def docker_engine_available() -> bool:
    if not shutil.which("docker"):
        return False
    try:
        return subprocess.run(["docker", "info"], capture_output=True, timeout=15).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def build_command(name: str, version: str, registry: str) -> list:
    return ["docker", "build", "-f", "deploy/docker/Dockerfile", "--target", name,
            "--build-arg", f"VERSION={version}", "-t", f"{registry}/{name}:{version}", "."]


def parse_args(argv):
    # `make release SERVICE=voting BUMP=minor` style arguments become options
    normalised = []
    for arg in argv:
        key, sep, value = arg.partition("=")
        if sep and key in ("SERVICE", "BUMP", "OVERLAY"):
            normalised += [value] if key == "SERVICE" else [f"--{key.lower()}", value]
        else:
            normalised.append(arg)
    parser = argparse.ArgumentParser(prog="python deploy/release.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("service")
    parser.add_argument("--bump", choices=("patch", "minor", "major"), default="patch")
    parser.add_argument("--date", default=datetime.date.today().isoformat(), help="release date (YYYY-MM-DD)")
    parser.add_argument("--overlay", action="append", default=[],
                        help="also pin the new tag in deploy/k8s/overlays/OVERLAY (repeatable, or a,b)")
    parser.add_argument("--registry", default="civic", help="image repository prefix (civic)")
    parser.add_argument("--build", choices=("auto", "yes", "no"), default="auto",
                        help="run docker build: auto = when a Docker engine answers")
    parser.add_argument("--no-git", action="store_true", help="change the files only: no commit, no tag")
    parser.add_argument("--allow-dirty", action="store_true")
    parser.add_argument("--allow-empty", action="store_true", help="release with an empty Unreleased section")
    parser.add_argument("--dry-run", action="store_true")
    args = parser.parse_args(normalised)
    args.overlay = [o for item in args.overlay for o in item.split(",") if o]
    return args


def release(args, root: Path = ROOT, out=print) -> dict:
    targets = releasable(root)
    name = args.service
    if name not in targets:
        raise ReleaseError(f"unknown service {name!r}; releasable: {', '.join(targets)}")
    directory = targets[name]
    version_file, changelog_file = directory / "VERSION", directory / "CHANGELOG.md"
    for path in (version_file, changelog_file):
        if not path.is_file():
            raise ReleaseError(f"{path.relative_to(root)} is missing")
    current = version_file.read_text().strip()
    new = bump(current, args.bump)
    tag = f"{name}-v{new}"
    changelog = changelog_file.read_text()
    if not has_entries(unreleased_entries(changelog)) and not args.allow_empty:
        raise ReleaseError(f"{changelog_file.relative_to(root)}: nothing under '## [Unreleased]': "
                           "describe the changes first (or --allow-empty)")
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", args.date):
        raise ReleaseError(f"--date {args.date!r} is not YYYY-MM-DD")
    overlays = []
    for overlay in args.overlay:
        path = root / "deploy" / "k8s" / "overlays" / overlay / "kustomization.yaml"
        if not path.is_file():
            raise ReleaseError(f"no overlay {overlay!r} ({path.relative_to(root)})")
        overlays.append(path)
    touched = [version_file, changelog_file, *overlays]
    if not args.no_git:
        if git(root, "rev-parse", "-q", "--verify", f"refs/tags/{tag}", check=False).returncode == 0:
            raise ReleaseError(f"tag {tag} already exists")
        dirty = git(root, "status", "--porcelain", "--", str(directory), *map(str, overlays)).stdout.strip()
        if dirty and not args.allow_dirty:
            raise ReleaseError(f"uncommitted changes in {directory.relative_to(root)} (commit them, or --allow-dirty):\n{dirty}")
    command = build_command(name, new, args.registry)
    plan = {"service": name, "from": current, "version": new, "tag": None if args.no_git else tag,
            "files": [str(p.relative_to(root)) for p in touched], "build": command}
    if args.dry_run:
        out(f"[dry run] {name} {current} -> {new}; would write {', '.join(plan['files'])}"
            + ("" if args.no_git else f", commit and tag {tag}"))
        out("[dry run] " + " ".join(command))
        return plan

    version_file.write_text(new + "\n")
    changelog_file.write_text(close_unreleased(changelog, new, args.date))
    for path in overlays:
        set_overlay_tag(path, f"civic/{name}", new)  # the base's image name; overlays map it (newName)
    out(f"{name}: {current} -> {new}")
    if not args.no_git:
        paths = [str(p.relative_to(root)) for p in touched]
        git(root, "add", "--", *paths)
        git(root, "commit", "-q", "-m", f"Release {name} {new}", "--only", "--", *paths)
        git(root, "tag", "-a", tag, "-m", f"{name} {new}")
        out(f"committed and tagged {tag} (push with: git push origin HEAD {tag})")
    run_build = args.build == "yes" or (args.build == "auto" and docker_engine_available())
    if run_build:
        out("$ " + " ".join(command))
        subprocess.run(command, cwd=root, check=True)
        plan["built"] = True
    else:
        out("build the image where a Docker engine runs:\n  " + " ".join(command))
        plan["built"] = False
    out(f"then: docker push {args.registry}/{name}:{new}" + (
        f"; kubectl apply -k deploy/k8s/overlays/<overlay> for {', '.join(args.overlay)}" if args.overlay else
        f"; pin it in an overlay: python deploy/release.py ... --overlay <name>, or edit newTag of civic/{name}"))
    return plan


def main(argv=None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    try:
        release(args)
    except ReleaseError as exc:
        print(f"release: {exc}", file=sys.stderr)
        return 1
    except subprocess.CalledProcessError as exc:
        print(f"release: {' '.join(exc.cmd)} failed:\n{exc.stderr or exc.stdout or ''}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
