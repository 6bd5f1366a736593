"""Kubernetes manifests (deploy/k8s): every kustomization renders, every resource is valid
against the Kubernetes JSON schemas (kubernetes-validate, offline) or, for the operators'
custom resources, against tests/deploy/schemas; and the platform's rules hold: resources,
probes, non-root, an HPA per Deployment, no secret values, one database per service, one
vhost per deployment, country configuration the services accept."""
import json
import re
import shutil
import subprocess
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from deploy_helpers import DEPLOY, K8S, ROOT, kustomizations, overlays, rendered, runnable

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

SCHEMAS = Path(__file__).resolve().parent / "schemas"
# Oldest Kubernetes minor the manifests support, and the newest schemas shipped.
K8S_VERSIONS = ("1.30", kubernetes_validate.latest_version())
WORKLOADS = ("Deployment", "StatefulSet")
SECRETISH = re.compile(r"(PASSWORD|PASS|SECRET|TOKEN|_KEY)$", re.IGNORECASE)
CREDENTIALS_IN_URL = re.compile(r"://([^/\s:@]+):([^@\s]+)@")
ENV_REF = re.compile(r"\$\(([A-Za-z_][A-Za-z0-9_]*)\)")

KUSTOMIZATIONS = kustomizations()
OVERLAYS = overlays()
ids = lambda paths: [str(p.relative_to(K8S)) for p in paths]  # noqa: E731


def crd_schema(res):
    path = SCHEMAS / f"{res['apiVersion'].replace('/', '_')}_{res['kind']}.json"
    return json.loads(path.read_text()) if path.exists() else None


def is_core(res) -> bool:
    group = res["apiVersion"].rpartition("/")[0]
    return group == "" or "." not in group or group.endswith(".k8s.io")


def by_kind(resources, kind):
    return [r for r in resources if r["kind"] == kind]


def named(resources, kind, name):
    found = [r for r in resources if r["kind"] == kind and r["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind}/{name}, found {len(found)}"
    return found[0]


def pod_spec(workload):
    return workload["spec"]["template"]["spec"]


def config_data(resources):
    return named(resources, "ConfigMap", "civic-config")["data"]


# --- rendering and schemas -------------------------------------------------------------------

def test_layout():
    assert {p.name for p in OVERLAYS} >= {"fr", "de"}, "country overlays"
    assert K8S / "base" in KUSTOMIZATIONS and K8S / "infra" in KUSTOMIZATIONS
    used = set()
    for overlay in OVERLAYS:
        spec = yaml.safe_load((overlay / "kustomization.yaml").read_text())
        used |= {(overlay / c).resolve() for c in spec.get("components", [])}
    components = {p.parent.resolve() for p in (K8S / "components").rglob("kustomization.yaml")}
    assert components <= used, f"components no overlay uses (so never rendered): {components - used}"


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=ids(KUSTOMIZATIONS))
def test_every_resource_is_valid(directory):
    resources = rendered(directory)
    assert resources
    for res in resources:
        where = f"{directory.relative_to(K8S)}: {res['kind']}/{res['metadata'].get('name')}"
        if is_core(res):
            for version in K8S_VERSIONS:
                try:
                    kubernetes_validate.validate(res, version, strict=True)
                except kubernetes_validate.ValidationError as exc:
                    path = ".".join(str(p) for p in exc.path)
                    pytest.fail(f"{where} invalid for Kubernetes {version}: {path}: {exc.message}")
        else:
            schema = crd_schema(res)
            assert schema is not None, f"{where}: no schema in tests/deploy/schemas for {res['apiVersion']} {res['kind']}"
            errors = sorted(jsonschema.Draft202012Validator(schema).iter_errors(res), key=str)
            assert not errors, f"{where}: " + "; ".join(f"{'.'.join(map(str, e.path))}: {e.message}" for e in errors)


def test_crd_schemas_are_strict_enough():
    """The hand-written CRD schemas catch what they claim to (typos, missing fields)."""
    good = {"apiVersion": "rabbitmq.com/v1beta1", "kind": "Policy", "metadata": {"name": "p"},
            "spec": {"name": "p", "pattern": "^evt-", "definition": {"delivery-limit": 5},
                     "rabbitmqClusterReference": {"name": "r"}}}
    validator = jsonschema.Draft202012Validator(crd_schema(good))
    assert not list(validator.iter_errors(good))
    typo = json.loads(json.dumps(good))
    typo["spec"]["definition"] = {"delivery_limit": 5}
    assert list(validator.iter_errors(typo))
    missing = json.loads(json.dumps(good))
    del missing["spec"]["rabbitmqClusterReference"]
    assert list(validator.iter_errors(missing))
    cluster = {"apiVersion": "postgresql.cnpg.io/v1", "kind": "Cluster", "metadata": {"name": "pg"},
               "spec": {"instances": 3, "postgresql": {"parameters": {"max_connections": 400}}}}
    assert list(jsonschema.Draft202012Validator(crd_schema(cluster)).iter_errors(cluster)), "parameters are strings"


@pytest.mark.skipif(not shutil.which("kubectl"), reason="kubectl not installed: the pure-Python renderer alone is used")
@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=ids(KUSTOMIZATIONS))
def test_renderer_matches_kubectl_kustomize(directory):
    result = subprocess.run(["kubectl", "kustomize", str(directory)], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    key = lambda r: (r["apiVersion"], r["kind"], r["metadata"].get("namespace", ""), r["metadata"]["name"])  # noqa: E731
    theirs = {key(r): r for r in yaml.safe_load_all(result.stdout) if r}
    mine = {key(r): r for r in rendered(directory)}
    assert mine.keys() == theirs.keys()
    for k in mine:
        assert mine[k] == theirs[k], f"{k} differs from kubectl kustomize"


# --- workloads ------------------------------------------------------------------------------

DEPLOYABLE = [K8S / "base", *OVERLAYS]


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_one_deployment_per_service_and_gateway(directory):
    names = {d["metadata"]["name"] for d in by_kind(rendered(directory), "Deployment")}
    assert names == set(runnable()) | {"gateway"}


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_workloads_have_resources_probes_and_run_as_non_root(directory):
    resources = rendered(directory)
    for workload in [r for r in resources if r["kind"] in WORKLOADS]:
        name = f"{workload['kind']}/{workload['metadata']['name']}"
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec.get("automountServiceAccountToken") is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            where = f"{name} container {container['name']}"
            requests = container["resources"]["requests"]
            assert {"cpu", "memory"} <= set(requests), where
            assert "memory" in container["resources"]["limits"], where
            ctx = container["securityContext"]
            assert ctx["allowPrivilegeEscalation"] is False, where
            assert ctx["readOnlyRootFilesystem"] is True, where
            assert ctx["capabilities"]["drop"] == ["ALL"], where
            assert container.get("securityContext", {}).get("runAsUser", 1) != 0, where
        for container in spec["containers"]:
            assert "readinessProbe" in container and "livenessProbe" in container, f"{name} {container['name']}"


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_every_deployment_has_an_hpa_and_a_disruption_budget(directory):
    resources = rendered(directory)
    hpas = {(h["spec"]["scaleTargetRef"]["kind"], h["spec"]["scaleTargetRef"]["name"]): h
            for h in by_kind(resources, "HorizontalPodAutoscaler")}
    pdbs = {p["metadata"]["name"]: p for p in by_kind(resources, "PodDisruptionBudget")}
    for deployment in by_kind(resources, "Deployment"):
        name = deployment["metadata"]["name"]
        hpa = hpas.get(("Deployment", name))
        assert hpa, f"no HorizontalPodAutoscaler targets Deployment/{name}"
        assert hpa["apiVersion"] == "autoscaling/v2"
        assert 2 <= hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
        assert name in pdbs and pdbs[name]["spec"]["selector"]["matchLabels"] == deployment["spec"]["selector"]["matchLabels"]


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_services_migrate_in_an_init_container_of_the_same_image(directory):
    resources = rendered(directory)
    for name in runnable():
        spec = pod_spec(named(resources, "Deployment", name))
        main = next(c for c in spec["containers"] if c["name"] == name)
        migrate = next(c for c in spec["initContainers"] if c["name"] == "migrate")
        assert migrate["args"] == ["migrate", name]
        assert main["args"] == [name]
        assert migrate["image"] == main["image"]
        assert main["readinessProbe"]["exec"]["command"] == ["python", "-m", "common.healthcheck", name]
        assert main["livenessProbe"]["exec"]["command"][-1] == "--liveness", "liveness must not depend on the broker"
    assert config_data(resources)["MIGRATE_ON_START"] == "0"


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_env_references_are_defined_before_use(directory):
    """Kubernetes expands $(VAR) only from envFrom and the entries above it (a kustomize
    patch moves the entries it touches to the top, so check the rendered order)."""
    resources = rendered(directory)
    configmaps = {c["metadata"]["name"]: c.get("data", {}) for c in by_kind(resources, "ConfigMap")}
    secrets_refs = set()
    for workload in [r for r in resources if r["kind"] in WORKLOADS]:
        for container in pod_spec(workload).get("initContainers", []) + pod_spec(workload)["containers"]:
            defined = set()
            for source in container.get("envFrom", []):
                name = source["configMapRef"]["name"]
                assert name in configmaps, f"envFrom ConfigMap {name} missing"
                defined |= set(configmaps[name])
            for entry in container.get("env", []):
                for ref in ENV_REF.findall(entry.get("value", "")):
                    assert ref in defined, f"{workload['metadata']['name']}/{container['name']}: {entry['name']} uses $({ref}) before it is defined"
                defined.add(entry["name"])
                if "valueFrom" in entry and "secretKeyRef" in entry["valueFrom"]:
                    secrets_refs.add(entry["valueFrom"]["secretKeyRef"]["name"])
    assert secrets_refs


@pytest.mark.parametrize("directory", OVERLAYS, ids=ids(OVERLAYS))
def test_overlays_pin_every_image(directory):
    for res in rendered(directory):
        if res["kind"] not in WORKLOADS:
            continue
        for container in pod_spec(res).get("initContainers", []) + pod_spec(res)["containers"]:
            image = container["image"]
            tag = image.rsplit(":", 1)[1] if ":" in image.rsplit("/", 1)[-1] else None
            assert tag and tag != "latest", f"{res['metadata']['name']}: image {image} is not pinned"
            if image.startswith("civic/"):
                assert re.fullmatch(r"\d+\.\d+\.\d+", tag), image


# --- secrets ----------------------------------------------------------------------------------

def _strings(node, path=""):
    if isinstance(node, dict):
        for key, value in node.items():
            yield from _strings(value, f"{path}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _strings(value, f"{path}[{i}]")
    elif isinstance(node, str):
        yield path, node


@pytest.mark.parametrize("directory", KUSTOMIZATIONS, ids=ids(KUSTOMIZATIONS))
def test_no_secret_values_in_manifests(directory):
    resources = rendered(directory)
    assert not by_kind(resources, "Secret"), "Secrets are created out of band or by External Secrets, never committed"
    for res in resources:
        where = f"{res['kind']}/{res['metadata']['name']}"
        for path, value in _strings(res):
            for user, password in CREDENTIALS_IN_URL.findall(value):
                assert ENV_REF.fullmatch(user) and ENV_REF.fullmatch(password), f"{where}{path}: credentials in a URL"
        if res["kind"] in WORKLOADS:
            for container in pod_spec(res).get("initContainers", []) + pod_spec(res)["containers"]:
                for entry in container.get("env", []):
                    if SECRETISH.search(entry["name"]):
                        assert "valueFrom" in entry, f"{where}: {entry['name']} must come from a Secret (secretKeyRef)"
        if res["kind"] == "ConfigMap":
            for key in res.get("data", {}):
                assert not SECRETISH.search(key), f"{where}: {key} looks like a secret in a ConfigMap"


def test_every_secret_referenced_is_documented():
    """OPERATIONS.md lists each Secret the manifests reference, with its keys."""
    doc = (DEPLOY / "OPERATIONS.md").read_text()
    needed = set()
    for directory in KUSTOMIZATIONS:
        for res in rendered(directory):
            if res["kind"] in WORKLOADS:
                for container in pod_spec(res).get("initContainers", []) + pod_spec(res)["containers"]:
                    for entry in container.get("env", []):
                        ref = entry.get("valueFrom", {}).get("secretKeyRef")
                        if ref:
                            needed.add((ref["name"], ref["key"]))
            if res["kind"] == "User":
                needed |= {(res["spec"]["importCredentialsSecret"]["name"], k) for k in ("username", "password")}
            if res["kind"] == "Cluster" and res["apiVersion"].startswith("postgresql.cnpg.io"):
                for role in res["spec"].get("managed", {}).get("roles", []):
                    needed |= {(role["passwordSecret"]["name"], k) for k in ("username", "password")}
    for name, key in sorted(needed):
        line = next((ln for ln in doc.splitlines() if f"`{name}`" in ln or ("civic-db-<service>" in ln and name.startswith("civic-db-"))), None)
        assert line, f"Secret {name} is not documented in deploy/OPERATIONS.md"
        assert f"`{key}`" in line, f"key {key} of Secret {name} is not documented in deploy/OPERATIONS.md"


# --- databases ---------------------------------------------------------------------------------

@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_one_database_and_role_per_service(directory):
    resources = rendered(directory)
    clusters = {c["metadata"]["name"]: c for c in resources
                if c["kind"] == "Cluster" and c["apiVersion"].startswith("postgresql.cnpg.io")}
    databases = {d["spec"]["name"]: d for d in by_kind(resources, "Database")}
    for name in runnable():
        database = databases.get(f"civic_{name}")
        assert database, f"no CloudNativePG Database civic_{name}"
        assert database["spec"]["owner"] == name
        cluster = clusters[database["spec"]["cluster"]["name"]]
        roles = {r["name"]: r for r in cluster["spec"]["managed"]["roles"]}
        assert roles[name]["login"] is True and roles[name]["passwordSecret"]["name"] == f"civic-db-{name}"
        container = next(c for c in pod_spec(named(resources, "Deployment", name))["containers"] if c["name"] == name)
        env = {e["name"]: e for e in container["env"]}
        url = env[f"{name.upper()}_DATABASE_URL"]["value"]
        assert url.endswith(f"/civic_{name}?sslmode=require") and "$(DB_HOST)" in url
        host = env["DB_HOST"]["value"]
        assert host.endswith("-rw") and host[:-3] in clusters, f"{name}: DB_HOST {host} is no CloudNativePG cluster's -rw service"
        assert env["DB_PASSWORD"]["valueFrom"]["secretKeyRef"]["name"] == f"civic-db-{name}"


def test_a_service_moved_to_its_own_cluster_imports_its_database():
    resources = rendered(K8S / "overlays" / "shared")
    cluster = named(resources, "Cluster", "civic-pg-voting")
    initdb = cluster["spec"]["bootstrap"]["initdb"]
    assert initdb["import"]["type"] == "microservice" and initdb["import"]["databases"] == ["civic_voting"]
    assert initdb["owner"] == "voting" and initdb["secret"]["name"] == "civic-db-voting"
    source = {c["name"]: c for c in cluster["spec"]["externalClusters"]}[initdb["import"]["source"]["externalCluster"]]
    assert source["connectionParameters"]["host"] == "civic-pg-rw"
    spec = pod_spec(named(resources, "Deployment", "voting"))
    for container in spec["initContainers"] + spec["containers"]:
        assert {e["name"]: e.get("value") for e in container["env"]}["DB_HOST"] == "civic-pg-voting-rw"
    others = pod_spec(named(resources, "Deployment", "accounts"))["containers"][0]["env"]
    assert {e["name"]: e.get("value") for e in others}["DB_HOST"] == "civic-pg-rw"


# --- RabbitMQ ------------------------------------------------------------------------------------

def test_rabbitmq_cluster_three_replicas_quorum_by_default():
    cluster = named(rendered(K8S / "infra"), "RabbitmqCluster", "civic-rabbitmq")
    assert cluster["spec"]["replicas"] == 3
    assert "default_queue_type = quorum" in cluster["spec"]["rabbitmq"]["additionalConfig"]
    allowed = set(cluster["metadata"]["annotations"]["rabbitmq.com/topology-allowed-namespaces"].split(","))
    namespaces = {named(rendered(o), "Namespace", yaml.safe_load((o / "namespace.yaml").read_text())["metadata"]["name"])["metadata"]["name"]
                  for o in OVERLAYS}
    assert namespaces <= allowed, f"overlay namespaces missing from topology-allowed-namespaces: {namespaces - allowed}"


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_one_vhost_per_deployment_used_everywhere(directory):
    resources = rendered(directory)
    vhost = config_data(resources)["AMQP_VHOST"]
    assert named(resources, "Vhost", "civic")["spec"]["name"] == vhost
    assert named(resources, "Vhost", "civic")["spec"]["defaultQueueType"] == "quorum"
    for kind in ("Permission", "Policy", "Exchange", "Queue", "Binding"):
        for res in by_kind(resources, kind):
            assert res["spec"]["vhost"] == vhost, f"{kind}/{res['metadata']['name']}"
    for res in resources:
        ref = res.get("spec", {}).get("rabbitmqClusterReference") if isinstance(res.get("spec"), dict) else None
        if ref:
            assert ref == {"name": "civic-rabbitmq", "namespace": "civic-infra"}
    for deployment in by_kind(resources, "Deployment"):
        uri = next(e["value"] for e in pod_spec(deployment)["containers"][0]["env"] if e["name"] == "AMQP_URI")
        assert uri.endswith("/$(AMQP_VHOST)")


def test_deployments_are_isolated_from_each_other():
    vhosts = [config_data(rendered(o))["AMQP_VHOST"] for o in OVERLAYS]
    namespaces = [yaml.safe_load((o / "kustomization.yaml").read_text())["namespace"] for o in OVERLAYS]
    hosts = [named(rendered(o), "Ingress", "gateway")["spec"]["rules"][0]["host"] for o in OVERLAYS]
    assert len(set(vhosts)) == len(vhosts) and len(set(namespaces)) == len(namespaces) and len(set(hosts)) == len(hosts)


def _definitions():
    return json.loads((DEPLOY / "docker" / "rabbitmq" / "definitions.json").read_text())


@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_policies_are_the_same_in_compose_and_kubernetes(directory):
    compose = {p["name"]: p for p in _definitions()["policies"]}
    k8s = {p["spec"]["name"]: p["spec"] for p in by_kind(rendered(directory), "Policy")}
    assert compose.keys() == k8s.keys()
    for name, policy in compose.items():
        assert k8s[name]["pattern"] == policy["pattern"]
        assert k8s[name]["definition"] == policy["definition"]
        assert k8s[name]["priority"] == policy["priority"]
        assert k8s[name]["applyTo"] == policy["apply-to"]


def test_event_queues_get_bounded_retries_and_a_dead_letter_queue():
    events = {p["name"]: p for p in _definitions()["policies"]}["civic-events"]
    # nameko names event-handler queues evt-<source>-<event>--<service>.<method>
    assert re.match(events["pattern"], "evt-proposals-proposal_accepted--voting.on_proposal_accepted")
    assert not re.match(events["pattern"], "rpc-voting")
    assert not re.match(events["pattern"], "civic.dead-letter"), "the dead-letter queue must not dead-letter to itself"
    assert events["definition"]["delivery-limit"] == 5
    dlx = events["definition"]["dead-letter-exchange"]
    definitions = _definitions()
    assert any(e["name"] == dlx and e["type"] == "topic" for e in definitions["exchanges"])
    assert any(b["source"] == dlx and b["routing_key"] == "#" for b in definitions["bindings"])
    queue = next(q for q in definitions["queues"] if q["name"] == "civic.dead-letter")
    assert queue["arguments"] == {"x-queue-type": "quorum"}
    assert all(v["default_queue_type"] == "quorum" for v in definitions["vhosts"])


def test_dead_letter_names_match_the_code():
    """The exchange/queue the policy names are the ones common.nameko_support declares."""
    source = (ROOT / "common" / "nameko_support.py").read_text()
    exchange = re.search(r'^DEAD_LETTER_EXCHANGE\s*=\s*"([^"]+)"', source, re.MULTILINE)
    queue = re.search(r'^DEAD_LETTER_QUEUE\s*=\s*"([^"]+)"', source, re.MULTILINE)
    if not exchange:
        pytest.skip("common/nameko_support.py declares no DEAD_LETTER_EXCHANGE")
    events = {p["name"]: p for p in _definitions()["policies"]}["civic-events"]
    assert events["definition"]["dead-letter-exchange"] == exchange.group(1)
    assert any(q["name"] == queue.group(1) for q in _definitions()["queues"])
    limit = re.search(r'EVENT_DELIVERY_LIMIT",\s*(\d+)', source)
    if limit:
        assert events["definition"]["delivery-limit"] == int(limit.group(1))


# --- countries ----------------------------------------------------------------------------------

@pytest.mark.parametrize("directory", DEPLOYABLE, ids=ids(DEPLOYABLE))
def test_country_configuration_is_accepted_by_the_services(directory):
    """Adding a country is configuration only: the platform.yaml of every deployment must
    be accepted by the services' own rule classes and be consistent across services."""
    from services.accounts.domain import AccountRules
    from services.commitments.domain import CommitmentRules
    from services.proposals.domain import ProposalRules

    platform = yaml.safe_load(named(rendered(directory), "ConfigMap", "civic-platform")["data"]["platform.yaml"])
    accounts = AccountRules.from_mapping(platform["ACCOUNTS"])
    proposals = ProposalRules.from_mapping(platform["PROPOSALS"])
    commitments = CommitmentRules.from_mapping(platform["COMMITMENTS"])
    countries = set(accounts.countries)
    assert countries, "a deployment serves at least one country"
    assert set(proposals.country_languages) == countries, "every country can host questions, and only those"
    assert countries <= set(commitments.country_locales), "every country has a default locale for its actors"
    assert set(commitments.country_locales) - countries <= {commitments.eu_country}
    for country, languages in proposals.country_languages.items():
        assert set(languages) <= set(accounts.languages), f"{country}: a question language users cannot choose"
        assert commitments.country_locales[country] in commitments.locales
    if "notifications" in runnable():
        from zoneinfo import ZoneInfo

        from services.notifications.domain import NotificationRules

        notifications = NotificationRules.from_mapping(platform.get("NOTIFICATIONS"))
        for country in countries | {commitments.eu_country}:
            assert country in notifications.country_timezones, f"{country}: no time zone for digests and send windows"
            ZoneInfo(notifications.country_timezones[country])  # a real IANA zone
