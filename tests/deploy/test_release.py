"""deploy/release.py releases one service on its own — in a throwaway git repository made
from copies of the release inputs (the real repository is never tagged)."""
import os
import re
import shutil
import subprocess
import sys

import pytest

from deploy_helpers import DEPLOY, ROOT, runnable

sys.path.insert(0, str(DEPLOY))
import release  # noqa: E402  (deploy/release.py)

DATE = "2026-12-01"
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Release Test", "GIT_AUTHOR_EMAIL": "release@example.org",
    "GIT_COMMITTER_NAME": "Release Test", "GIT_COMMITTER_EMAIL": "release@example.org",
}


def git(repo, *args):
    return subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True,
                          env={**os.environ, **GIT_ENV}).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    """A git repository holding what release.py reads and writes, copied from this one."""
    files = ["services/__init__.py", "deploy/release.py", "deploy/k8s/overlays/fr/kustomization.yaml",
             "deploy/k8s/overlays/de/kustomization.yaml", "gateway/VERSION", "gateway/CHANGELOG.md"]
    for name in runnable():
        files += [f"services/{name}/VERSION", f"services/{name}/CHANGELOG.md", f"services/{name}/README.md"]
    for rel in files:
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, tmp_path / rel)
        if rel.endswith("CHANGELOG.md"):  # start from "just released": nothing pending
            text = (tmp_path / rel).read_text()
            pending = release.unreleased_entries(text)
            if pending.strip():
                (tmp_path / rel).write_text(text.replace("## [Unreleased]\n" + pending, "## [Unreleased]\n\n", 1))
    git(tmp_path, "init", "-q", "-b", "main")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-q", "-m", "initial")
    return tmp_path


def run(repo, *args):
    return subprocess.run([sys.executable, "deploy/release.py", *args, "--build", "no", "--date", DATE],
                          cwd=repo, capture_output=True, text=True, env={**os.environ, **GIT_ENV}, timeout=60)


def add_unreleased(repo, service, entry):
    path = repo / ("gateway" if service == "gateway" else f"services/{service}") / "CHANGELOG.md"
    text = path.read_text().replace("## [Unreleased]\n", f"## [Unreleased]\n\n### Fixed\n- {entry}\n", 1)
    path.write_text(text)
    git(repo, "commit", "-q", "-am", f"{service}: {entry}")


def test_every_service_and_the_gateway_starts_at_0_1_0_with_a_changelog():
    for directory in [ROOT / "services" / name for name in runnable()] + [ROOT / "gateway"]:
        assert (directory / "VERSION").read_text() == "0.1.0\n"
        changelog = (directory / "CHANGELOG.md").read_text()
        assert changelog.startswith("# Changelog")
        assert "## [Unreleased]" in changelog
        assert re.search(r"^## \[0\.1\.0\] - \d{4}-\d{2}-\d{2}$", changelog, re.MULTILINE)
        assert "### Added" in changelog
        # changes since 0.1.0 wait under [Unreleased] for the next `make release`


def test_refuses_without_unreleased_entries(repo):
    result = run(repo, "voting")
    assert result.returncode == 1 and "nothing under '## [Unreleased]'" in result.stderr
    assert (repo / "services/voting/VERSION").read_text() == "0.1.0\n"
    assert git(repo, "tag") == ""


def test_releases_one_service_only(repo):
    add_unreleased(repo, "voting", "ranking ties broken by id")
    head = git(repo, "rev-parse", "HEAD")
    result = run(repo, "voting", "--bump", "minor")
    assert result.returncode == 0, result.stderr
    assert (repo / "services/voting/VERSION").read_text() == "0.2.0\n"
    changelog = (repo / "services/voting/CHANGELOG.md").read_text()
    assert "## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n### Fixed\n- ranking ties broken by id\n\n## [0.1.0]" in changelog
    assert release.unreleased_entries(changelog).strip() == ""
    # one commit, touching only the voting service's release files, tagged voting-v0.2.0
    assert git(repo, "rev-parse", "HEAD~1") == head
    assert set(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == {
        "services/voting/VERSION", "services/voting/CHANGELOG.md"}
    assert git(repo, "tag") == "voting-v0.2.0"
    assert git(repo, "rev-parse", "voting-v0.2.0^{commit}") == git(repo, "rev-parse", "HEAD")
    assert git(repo, "cat-file", "-t", "voting-v0.2.0") == "tag", "annotated tag"
    for other in set(runnable()) - {"voting"}:
        assert (repo / f"services/{other}/VERSION").read_text() == "0.1.0\n"
    assert "docker build -f deploy/docker/Dockerfile --target voting --build-arg VERSION=0.2.0 " \
           "-t civic/voting:0.2.0 ." in result.stdout
    # nothing new to release, and the tag of a version cannot be made twice
    assert run(repo, "voting").returncode == 1
    add_unreleased(repo, "voting", "another fix")
    (repo / "services/voting/VERSION").write_text("0.1.9\n")
    git(repo, "commit", "-q", "-am", "rewind")
    result = run(repo, "voting", "--bump", "minor")  # 0.1.9 -> 0.2.0 again
    assert result.returncode == 1 and "voting-v0.2.0 already exists" in result.stderr


def test_make_style_arguments_gateway_and_overlay(repo):
    add_unreleased(repo, "gateway", "breaking: /api/v1/me moved")
    result = run(repo, "SERVICE=gateway", "BUMP=major", "--overlay", "fr")
    assert result.returncode == 0, result.stderr
    assert (repo / "gateway/VERSION").read_text() == "1.0.0\n"
    fr = (repo / "deploy/k8s/overlays/fr/kustomization.yaml").read_text()
    assert '{name: civic/gateway, newTag: "1.0.0"}' in fr
    assert '{name: civic/voting, newTag: "0.1.0"}' in fr, "other services keep their version"
    de = (repo / "deploy/k8s/overlays/de/kustomization.yaml").read_text()
    assert '{name: civic/gateway, newTag: "0.1.0"}' in de, "only the named overlay is promoted"
    assert git(repo, "tag") == "gateway-v1.0.0"
    assert set(git(repo, "show", "--name-only", "--format=", "HEAD").split()) == {
        "gateway/VERSION", "gateway/CHANGELOG.md", "deploy/k8s/overlays/fr/kustomization.yaml"}


def test_refuses_uncommitted_changes_and_leaves_other_work_alone(repo):
    add_unreleased(repo, "proposals", "search ranks exact matches first")
    (repo / "services/proposals/README.md").write_text("changed\n")
    result = run(repo, "proposals")
    assert result.returncode == 1 and "uncommitted changes" in result.stderr
    git(repo, "checkout", "--", "services/proposals/README.md")
    (repo / "services/accounts/README.md").write_text("staged elsewhere\n")
    git(repo, "add", "services/accounts/README.md")
    result = run(repo, "proposals")
    assert result.returncode == 0, result.stderr
    assert "services/accounts/README.md" not in git(repo, "show", "--name-only", "--format=", "HEAD")
    assert "services/accounts/README.md" in git(repo, "diff", "--cached", "--name-only"), "still staged, not committed"


def test_dry_run_and_unknown_service(repo):
    add_unreleased(repo, "lobbying", "milestones at 50 %")
    before = git(repo, "rev-parse", "HEAD")
    result = run(repo, "lobbying", "--dry-run")
    assert result.returncode == 0 and "0.1.0 -> 0.1.1" in result.stdout
    assert git(repo, "status", "--porcelain") == "" and git(repo, "rev-parse", "HEAD") == before
    result = run(repo, "search")
    assert result.returncode == 1 and "unknown service" in result.stderr


def test_no_git_only_changes_files(repo):
    add_unreleased(repo, "commitments", "scoreboard rounding")
    result = run(repo, "commitments", "--no-git")
    assert result.returncode == 0, result.stderr
    assert (repo / "services/commitments/VERSION").read_text() == "0.1.1\n"
    assert git(repo, "tag") == ""


@pytest.mark.parametrize("version, part, expected", [
    ("0.1.0", "patch", "0.1.1"), ("0.1.9", "minor", "0.2.0"), ("1.4.2", "major", "2.0.0")])
def test_bump(version, part, expected):
    assert release.bump(version, part) == expected


def test_bump_rejects_a_bad_version():
    with pytest.raises(release.ReleaseError):
        release.bump("1.0", "patch")


def test_close_unreleased_keeps_older_sections():
    text = "# Changelog\n\n## [Unreleased]\n\n### Added\n- b\n\n## [0.1.0] - 2026-11-24\n\n### Added\n- a\n"
    out = release.close_unreleased(text, "0.2.0", "2026-12-01")
    assert out == ("# Changelog\n\n## [Unreleased]\n\n## [0.2.0] - 2026-12-01\n\n### Added\n- b\n\n"
                   "## [0.1.0] - 2026-11-24\n\n### Added\n- a\n")
