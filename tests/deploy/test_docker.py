"""Container images (deploy/docker): one build target per service in services.RUNNABLE and
one for the gateway, each non-root with a HEALTHCHECK, all from the pinned
requirements.txt; the build context (.dockerignore) carries what the images copy and
nothing secret; each service's code only needs what its image contains; the entrypoint
runs the same commands as `make run`."""
import ast
import json
import os
import re
import subprocess
import sys

import pytest

from deploy_helpers import DEPLOY, ROOT, runnable

DOCKERFILE = DEPLOY / "docker" / "Dockerfile"
DOCKERIGNORE = DEPLOY / "docker" / "Dockerfile.dockerignore"
ENTRYPOINT = DEPLOY / "docker" / "entrypoint.py"
TARGETS = [*runnable(), "gateway"]


def parse_dockerfile(text: str) -> dict:
    """stage name -> {"from": base, "instructions": [(KEYWORD, args)]} (continuations joined)."""
    text = re.sub(r"\\\n", " ", text)
    stages, current = {}, None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        keyword, _, args = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.match(r"(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", args.strip(), re.IGNORECASE)
            current = match.group(2) or f"stage{len(stages)}"
            stages[current] = {"from": match.group(1), "instructions": []}
        elif current is not None:
            stages[current]["instructions"].append((keyword, args.strip()))
    return stages


STAGES = parse_dockerfile(DOCKERFILE.read_text())


def chain(target: str) -> list:
    """The stage and the stages it is built FROM, base first."""
    stages = []
    while target in STAGES:
        stages.insert(0, STAGES[target])
        target = STAGES[target]["from"]
    return stages


def effective(target: str, keyword: str):
    value = None
    for stage in chain(target):
        for kw, args in stage["instructions"]:
            if kw == keyword:
                value = args
    return value


def all_instructions(target: str, keyword: str) -> list:
    # the target's chain plus the stages it copies from (COPY --from=build)
    stages = chain(target)
    for stage in list(stages):
        for kw, args in stage["instructions"]:
            match = re.search(r"--from=(\S+)", args) if kw == "COPY" else None
            if match and match.group(1) in STAGES:
                stages = chain(match.group(1)) + stages
    return [args for stage in stages for kw, args in stage["instructions"] if kw == keyword]


@pytest.mark.parametrize("target", TARGETS)
def test_one_target_per_service_and_gateway(target):
    assert target in STAGES, f"deploy/docker/Dockerfile has no `FROM ... AS {target}` stage"
    assert chain(target)[0]["from"].startswith("${PYTHON_IMAGE}") or "python:3.11-slim" in chain(target)[0]["from"]
    assert re.search(r"ARG PYTHON_IMAGE=python:3\.11-slim", DOCKERFILE.read_text())


@pytest.mark.parametrize("target", TARGETS)
def test_non_root_user(target):
    user = effective(target, "USER")
    assert user, f"{target}: no USER"
    uid = user.split(":")[0]
    assert uid not in ("root", "0"), f"{target}: runs as {user}"
    if uid.startswith("${"):
        arg = uid.strip("${}")
        default = next(args for stage in chain(target) for kw, args in stage["instructions"]
                       if kw == "ARG" and args.startswith(arg + "="))
        assert default.split("=", 1)[1] not in ("0", "root")


@pytest.mark.parametrize("target", TARGETS)
def test_healthcheck(target):
    own = [args for kw, args in STAGES[target]["instructions"] if kw == "HEALTHCHECK"]
    assert own, f"{target}: no HEALTHCHECK in its stage"
    command = own[-1]
    assert "CMD" in command and "curl" not in command and "wget" not in command
    if target == "gateway":
        assert "/healthz" in command and "python" in command
    else:
        assert f'["python", "-m", "common.healthcheck", "{target}"]' in command


@pytest.mark.parametrize("target", TARGETS)
def test_built_from_the_pinned_requirements(target):
    copies = all_instructions(target, "COPY")
    runs = all_instructions(target, "RUN")
    assert any(re.match(r"requirements\.txt\s", c) for c in copies), f"{target}: requirements.txt not copied"
    assert any(re.search(r"pip install .*-r \S*requirements\.txt", r) for r in runs)
    assert any("--from=build /opt/venv" in c for c in copies), "multi-stage: the virtualenv comes from the build stage"


@pytest.mark.parametrize("target", TARGETS)
def test_entrypoint_and_command(target):
    assert effective(target, "ENTRYPOINT") == '["python", "/app/deploy/docker/entrypoint.py"]'
    assert json.loads(effective(target, "CMD")) == [target]
    copies = [args for kw, args in STAGES[target]["instructions"] if kw == "COPY"]
    if target == "gateway":
        assert "gateway/ gateway/" in copies
    else:
        assert f"services/{target}/ services/{target}/" in copies
        assert not any(c.startswith("gateway/") for c in copies)


def test_no_stage_for_an_unknown_service():
    known = set(TARGETS) | {"build", "runtime"}
    assert set(STAGES) <= known, f"stages for no runnable service: {set(STAGES) - known}"


# --- build context ----------------------------------------------------------------------------

def _pattern_regex(pattern: str) -> str:
    """Go filepath.Match syntax plus ``**`` (any number of directories), as Docker uses."""
    out, i = "", 0
    while i < len(pattern):
        if pattern.startswith("**", i):
            i += 2
            if pattern.startswith("/", i):
                i += 1
                out += "(?:.*/)?"
            else:
                out += ".*"
        elif pattern[i] == "*":
            out, i = out + "[^/]*", i + 1
        elif pattern[i] == "?":
            out, i = out + "[^/]", i + 1
        elif pattern[i] == "[":
            end = pattern.index("]", i)
            out, i = out + pattern[i:end + 1], end + 1
        else:
            out, i = out + re.escape(pattern[i]), i + 1
    return out


def dockerignore_excludes(path: str, patterns: list) -> bool:
    """Docker's rule: the last pattern matching the path or one of its parents wins."""
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        regex = _pattern_regex(os.path.normpath(pattern.lstrip("!")).lstrip("/"))
        if any(re.fullmatch(regex, c) for c in candidates):
            excluded = not negate
    return excluded


def dockerignore_patterns() -> list:
    return [ln.strip() for ln in DOCKERIGNORE.read_text().splitlines() if ln.strip() and not ln.startswith("#")]


def test_build_context_has_what_the_images_copy_and_nothing_secret():
    patterns = dockerignore_patterns()
    for stage in STAGES.values():
        for kw, args in stage["instructions"]:
            if kw != "COPY" or "--from=" in args:
                continue
            source = args.split()[0].rstrip("/")
            assert (ROOT / source).exists(), f"COPY {source}: not in the repository"
            assert not dockerignore_excludes(source, patterns), f"COPY {source}: excluded by the .dockerignore"
            probe = source + "/__init__.py" if (ROOT / source).is_dir() else source
            assert not dockerignore_excludes(probe, patterns)
    for secret in (".venv/bin/python", "var/secrets/jwt_secret", "var/db/accounts.sqlite3", ".git/config",
                   "deploy/.env", "deploy/k8s/overlays/fr/secrets.env", "services/voting/__pycache__/x.pyc",
                   "tests/conftest.py", "bench/x.py"):
        assert dockerignore_excludes(secret, patterns), f"{secret} would be sent to the build"


def _imports(path):
    tree = ast.parse(path.read_text())
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            yield node.module


@pytest.mark.parametrize("service", list(runnable()))
def test_service_code_needs_only_its_image(service):
    """A service's image holds common/, services/__init__.py and services/<service>/ only."""
    for path in (ROOT / "services" / service).rglob("*.py"):
        for module in _imports(path):
            if module.startswith("services."):
                assert module.split(".")[1] == service, f"{path.relative_to(ROOT)} imports {module}"
            assert not module.startswith("gateway"), f"{path.relative_to(ROOT)} imports {module}"
    for path in (ROOT / "common").rglob("*.py"):
        for module in _imports(path):
            assert not module.startswith("services.") and not module.startswith("gateway"), \
                f"common/ must not import {module} ({path.relative_to(ROOT)})"


def test_gateway_code_needs_only_its_image():
    for path in (ROOT / "gateway").rglob("*.py"):
        for module in _imports(path):
            assert not module.startswith("services."), f"{path.relative_to(ROOT)} imports {module}"


# --- entrypoint ------------------------------------------------------------------------------

def run_entrypoint(*args, **env):
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "--dry-run", *args], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), **env}, cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("service", list(runnable()))
def test_entrypoint_runs_the_service_like_make_run(service):
    from common.processes import service_command

    plan = run_entrypoint(service, MIGRATE_ON_START="1", NAMEKO_EXTRA_CONFIG="", METRICS_PORT="")
    assert plan == {"migrate": [service], "exec": service_command(runnable()[service])}
    plan = run_entrypoint(service, MIGRATE_ON_START="0", NAMEKO_EXTRA_CONFIG="", METRICS_PORT="")
    assert plan["migrate"] == []


def test_entrypoint_gateway_and_passthrough():
    from common.processes import gateway_command

    assert run_entrypoint("gateway", PORT="8080", GATEWAY_WORKERS="3")["exec"] == gateway_command("0.0.0.0", 8080, 3)
    assert run_entrypoint("migrate", "accounts", "voting") == {"migrate": ["accounts", "voting"]}
    assert run_entrypoint("python", "-m", "services.commitments.cli", "import-actors", "x.csv")["exec"][:3] == \
        ["python", "-m", "services.commitments.cli"]


def test_entrypoint_merges_the_deployment_config_over_nameko_yaml(tmp_path):
    extra = tmp_path / "platform.yaml"
    extra.write_text("PROPOSALS:\n  country_languages: {FR: [fr], IT: [it]}\n"
                     "VOTING:\n  emergence_min_trusted_votes: 50\n")
    plan = run_entrypoint("voting", NAMEKO_EXTRA_CONFIG=str(extra), METRICS_PORT="9102", MIGRATE_ON_START="0")
    argv = plan["exec"]
    defines = dict(argv[i + 1].split("=", 1) for i, arg in enumerate(argv) if arg == "--define")
    assert json.loads(defines["PROPOSALS"]) == {"country_languages": {"FR": ["fr"], "IT": ["it"]}}
    voting = json.loads(defines["VOTING"])
    assert voting["emergence_min_trusted_votes"] == 50
    assert "emergence_min_top_score_lower_bound" in voting, "deep merge keeps nameko.yaml's other VOTING keys"
    assert defines["METRICS_PORT"] == "9102"


def test_entrypoint_refuses_a_missing_config_file(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ENTRYPOINT), "--dry-run", "voting"], capture_output=True, text=True, timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT), "NAMEKO_EXTRA_CONFIG": str(tmp_path / "missing.yaml")}, cwd=ROOT,
    )
    assert result.returncode != 0


def test_healthcheck_module_is_present():
    """The images' HEALTHCHECK and the Kubernetes exec probes run `python -m
    common.healthcheck <service> [--liveness]` (proposed in deploy/OPERATIONS.md)."""
    path = ROOT / "common" / "healthcheck.py"
    if not path.exists():
        pytest.skip("common/healthcheck.py is not added yet (see deploy/OPERATIONS.md, 'Health checks')")
    result = subprocess.run([sys.executable, "-m", "common.healthcheck", "no-such-service"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode != 0
    result = subprocess.run([sys.executable, "-m", "common.healthcheck", next(iter(runnable())), "--liveness"],
                            cwd=ROOT, capture_output=True, text=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode in (0, 1), result.stderr  # 1 unless that service happens to run here


def test_exec_form_instructions_are_valid_json():
    """CMD/ENTRYPOINT/HEALTHCHECK in exec form must be JSON, or Docker silently runs them
    through /bin/sh with the brackets as part of the command."""
    for name, stage in STAGES.items():
        for keyword, args in stage["instructions"]:
            if keyword == "HEALTHCHECK":
                args = args[args.index("CMD") + 3:].strip() if "CMD" in args else "[]"
            if keyword in ("CMD", "ENTRYPOINT", "HEALTHCHECK") and args.startswith("["):
                value = json.loads(args)
                assert isinstance(value, list) and all(isinstance(v, str) for v in value), f"{name}: {keyword}"
