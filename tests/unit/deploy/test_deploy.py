"""The production deployment files parse and agree with the code and with each other.

Docker, Kubernetes and Grafana are not needed: the files are parsed and cross-checked
against the settings class, the CLI, the metrics modules and pyproject.toml. If
``promtool`` is on PATH (Debian package ``prometheus``), the Prometheus config, the alert
rules and their unit tests (deploy/prometheus/rules.test.yml) are checked by it as well.
"""

from __future__ import annotations

import base64
import json
import re
import shutil
import subprocess
import tomllib
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from prometheus_client import REGISTRY

import sinks.metrics
import streams.runtime.metrics
from schemas.settings import Settings
from streams.cli.main import build_parser
from streams.cli.models import EXIT_TOO_FEW_USERS
from tests.paths import ROOT

DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
DASHBOARD = DEPLOY / "grafana/dashboards/nudge.json"
RULES = DEPLOY / "prometheus/rules.yml"
# deploy/local runs the local broker and database; it is not part of the production files.
YAML_FILES = sorted(
    p for p in DEPLOY.rglob("*.y*ml") if DEPLOY / "local" not in p.parents and p.is_file()
)
VARIABLE = re.compile(r"\bNUDGE_[A-Z0-9_]+\b")
SETTINGS_VARIABLES = {f"NUDGE_{name.upper()}" for name in Settings.model_fields}
SECRET_VARIABLES = {
    f"NUDGE_{name.upper()}"
    for name, field in Settings.model_fields.items()
    if "SecretStr" in str(field.annotation)
}
# Suffixes of the samples a family exposes (the _created series are left out on purpose).
SAMPLE_SUFFIXES = {"counter": ["_total"], "gauge": [""], "histogram": ["_bucket", "_sum", "_count"]}
NUDGE_IMAGE = "nudge:local"
# Each long-running role serves /metrics on a port setting of its own.
METRICS_PORT_FIELD = {"worker": "metrics_port", "sink": "sink_metrics_port"}
METRICS_PORT_VARIABLE = {role: f"NUDGE_{name.upper()}" for role, name in METRICS_PORT_FIELD.items()}


# --- loading -----------------------------------------------------------------------------


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text())


@cache
def compose() -> dict[str, Any]:
    return load(DEPLOY / "docker-compose.yml")


def services() -> dict[str, dict[str, Any]]:
    return compose()["services"]


def nudge_services() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in services().items() if s.get("image") == NUDGE_IMAGE}


def interpolate(value: Any) -> str:
    """Resolve compose's ``${VAR:-default}`` to its default, as an unset shell would."""
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", str(value))


def mounts(service: str) -> dict[str, Path]:
    """Container path -> repository path of a service's bind mounts."""
    found = {}
    for volume in services()[service].get("volumes", []):
        source, target = volume.split(":")[:2]
        if source.startswith("."):
            found[target] = (DEPLOY / source).resolve()
    return found


@cache
def k8s_objects() -> list[dict[str, Any]]:
    manifests = sorted(p for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml")
    return [doc for p in manifests for doc in yaml.safe_load_all(p.read_text())]


def k8s(kind: str, name: str) -> dict[str, Any]:
    (found,) = [o for o in k8s_objects() if o["kind"] == kind and o["metadata"]["name"] == name]
    return found


def pod_template(obj: dict[str, Any]) -> dict[str, Any]:
    """The pod template of a Deployment, a Job or a CronJob (inside its job template)."""
    spec = obj["spec"]["jobTemplate"]["spec"] if obj["kind"] == "CronJob" else obj["spec"]
    return spec["template"]


def args_of(kind: str, name: str) -> list[str]:
    (container,) = pod_template(k8s(kind, name))["spec"]["containers"]
    return container["args"]


def pod_templates() -> list[dict[str, Any]]:
    kinds = ("Deployment", "Job", "CronJob")
    return [pod_template(o) for o in k8s_objects() if o["kind"] in kinds]


def containers() -> list[dict[str, Any]]:
    return [c for t in pod_templates() for c in t["spec"]["containers"]]


@cache
def dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    lines = [ln for ln in (DEPLOY / "Dockerfile").read_text().splitlines()
             if not ln.lstrip().startswith("#")]  # fmt: skip
    text = re.sub(r"\\\n", " ", "\n".join(lines))
    pairs = [ln.strip().split(None, 1) for ln in text.splitlines() if ln.strip()]
    return [(p[0].upper(), p[1] if len(p) > 1 else "") for p in pairs]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile()
    start = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[start:]


def copied_sources() -> list[str]:
    sources = []
    for op, args in dockerfile():
        words = args.split()
        if op == "COPY" and not any(w.startswith("--from") for w in words):
            sources += [w.rstrip("/") for w in words[:-1] if not w.startswith("--")]
    return sources


@cache
def exported_metrics() -> dict[str, set[str]]:
    """Metric family -> sample names, for every collector in the two metrics modules."""
    assert streams.runtime.metrics.EVENTS_IN and sinks.metrics.MESSAGES  # registered on import
    return {
        family.name: {family.name + suffix for suffix in SAMPLE_SUFFIXES[family.type]}
        for family in REGISTRY.collect()
        if family.name.startswith("nudge_")
    }


def metric_names(promql: str) -> set[str]:
    """Identifiers starting with ``nudge_`` in a PromQL expression (strings removed)."""
    without_strings = re.sub(r'"[^"]*"|\'[^\']*\'', "", promql)
    return set(re.findall(r"\bnudge_[A-Za-z0-9_:]*", without_strings))


def rules() -> list[dict[str, Any]]:
    return [rule for group in load(RULES)["groups"] for rule in group["rules"]]


def dashboard_panels() -> list[dict[str, Any]]:
    return [p for p in json.loads(DASHBOARD.read_text())["panels"] if p["type"] != "row"]


def parse_cli(argv: list[str]) -> None:
    try:
        build_parser().parse_args(argv)
    except SystemExit:
        pytest.fail(f"`nudge {' '.join(argv)}` is not a valid command line")


def assert_valid_settings(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    """The variables build a Settings object, read from the environment as in production."""
    for name in SETTINGS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    Settings(_env_file=None)


# --- every file --------------------------------------------------------------------------


@pytest.mark.parametrize("path", YAML_FILES, ids=lambda p: str(p.relative_to(DEPLOY)))
def test_every_yaml_file_parses(path: Path) -> None:
    documents = list(yaml.safe_load_all(path.read_text()))
    assert documents and all(isinstance(d, dict) for d in documents)


def test_every_nudge_variable_is_a_settings_field() -> None:
    files = [DEPLOY / "Dockerfile", *YAML_FILES]
    used = {v for p in files for v in VARIABLE.findall(p.read_text())}
    assert used, "no NUDGE_* variable found at all"
    assert used <= SETTINGS_VARIABLES, f"not settings: {sorted(used - SETTINGS_VARIABLES)}"


def test_the_image_ships_every_file_the_packages_need() -> None:
    """The image installs the wheel, not the tree: data files must be package-data."""
    tool = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    package_data = tool["package-data"]
    missing = []
    for top in (pattern.rstrip("*") for pattern in tool["packages"]["find"]["include"]):
        for path in (ROOT / top).rglob("*"):
            if not path.is_file() or "__pycache__" in path.parts:
                continue
            in_package = path.suffix == ".py" and (path.parent / "__init__.py").exists()
            as_data = any(
                path in set((ROOT / package.replace(".", "/")).glob(pattern))
                for package, patterns in package_data.items()
                for pattern in patterns
            )
            if not (in_package or as_data):
                missing.append(str(path.relative_to(ROOT)))
    assert not missing, f"add to [tool.setuptools.package-data] in pyproject.toml: {missing}"


# --- Dockerfile --------------------------------------------------------------------------


def test_dockerfile_builds_in_stages_from_python_311_slim() -> None:
    stages = [args for op, args in dockerfile() if op == "FROM"]
    assert len(stages) >= 2
    args = dict(a.split("=", 1) for op, a in dockerfile() if op == "ARG" and "=" in a)
    images = [args.get(s.split()[0].strip("${}"), s.split()[0]) for s in stages]
    assert all(image.startswith("python:3.11-slim") for image in images), images


def test_dockerfile_runs_as_a_non_root_user() -> None:
    stage = final_stage()
    users = [args for op, args in stage if op == "USER"]
    assert users, "the runtime stage sets no USER"
    args = dict(a.split("=", 1) for op, a in stage if op == "ARG" and "=" in a)
    user = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], users[-1]).split(":")[0]
    assert user not in ("root", "0")
    uid = int(user)  # numeric, so Kubernetes' runAsNonRoot can check it
    assert {t["spec"]["securityContext"]["runAsUser"] for t in pod_templates()} == {uid}


def test_dockerfile_enters_through_the_nudge_command() -> None:
    instructions = dict(final_stage())
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]
    assert json.loads(instructions["ENTRYPOINT"]) == ["nudge"] and "nudge" in scripts
    command = json.loads(instructions["CMD"])
    assert command == ["worker"]
    parse_cli(command)


def test_dockerfile_installs_the_package_with_the_constraints() -> None:
    runs = " ".join(args for op, args in dockerfile() if op == "RUN")
    assert re.search(r"pip install -c constraints\.txt \.(\s|$)", runs)


def test_dockerfile_copies_every_shipped_package_and_nothing_missing() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    needed = {*packages, "pyproject.toml", "constraints.txt", project["project"]["readme"]}
    sources = set(copied_sources())
    assert needed <= sources, f"not copied: {sorted(needed - sources)}"
    assert all((ROOT / s).exists() for s in sources), sources


def test_dockerignore_lets_through_what_the_dockerfile_copies() -> None:
    lines = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    allowed = {ln[1:].strip().rstrip("/") for ln in lines if ln.startswith("!")}
    assert "*" in lines, "expected an allow-list that starts by ignoring everything"
    assert set(copied_sources()) <= allowed


def test_dockerfile_exposes_metrics_and_checks_health_without_curl() -> None:
    stage = final_stage()
    exposed = {int(port) for op, args in stage if op == "EXPOSE" for port in args.split()}
    defaults = {Settings.model_fields[field].default for field in METRICS_PORT_FIELD.values()}
    assert defaults <= exposed
    (check,) = [args for op, args in stage if op == "HEALTHCHECK"]
    assert all(variable in check for variable in METRICS_PORT_VARIABLE.values())
    assert "/metrics" in check
    assert not re.search(r"\b(curl|wget)\b", check)


# --- docker-compose ----------------------------------------------------------------------


def test_compose_runs_the_whole_system() -> None:
    required = {"kafka", "postgres", "migrate", "topics", "worker", "sink", "prometheus", "grafana"}
    assert required <= set(services())
    assert services()["kafka"]["image"] == "apache/kafka:3.9.1"
    assert int(services()["postgres"]["image"].split(":")[1].split(".")[0]) >= 16
    assert services()["worker"]["deploy"]["replicas"] >= 2


def test_compose_kraft_cluster_id_is_a_kafka_uuid() -> None:
    # Kafka rejects anything but 16 bytes in URL-safe base64 at storage format time.
    cluster_id = services()["kafka"]["environment"]["CLUSTER_ID"]
    assert len(base64.urlsafe_b64decode(cluster_id + "==")) == 16


def test_compose_refers_only_to_files_that_exist() -> None:
    for name, service in services().items():
        if "build" in service:
            context = (DEPLOY / service["build"]["context"]).resolve()
            assert context == ROOT and (context / service["build"]["dockerfile"]).is_file()
        for target, source in mounts(name).items():
            assert source.exists(), f"{name}: {source} (for {target}) does not exist"
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source.startswith(".") or source in compose()["volumes"], f"{name}: {source}"


def test_compose_waits_on_health_and_completion() -> None:
    for name, service in services().items():
        for dependency, rule in service.get("depends_on", {}).items():
            condition = rule["condition"]
            target = services()[dependency]
            if condition == "service_healthy":
                assert "test" in target.get("healthcheck", {}), f"{name} -> {dependency}"
            else:
                assert condition == "service_completed_successfully", f"{name} -> {dependency}"
                assert target["restart"] == "no", f"{dependency} is a job, it must not restart"
    assert services()["migrate"]["command"] == ["db", "upgrade"]
    assert services()["topics"]["command"] == ["topics", "create"]


def test_compose_commands_are_nudge_commands() -> None:
    assert set(nudge_services()) == {"migrate", "topics", "worker", "sink", "producer", "trainer"}
    for service in nudge_services().values():
        parse_cli(service["command"])


def test_the_trainer_writes_the_models_the_workers_read() -> None:
    services = nudge_services()
    trainer, worker = services["trainer"], services["worker"]
    assert trainer["command"] == ["models", "train", "--promote"]
    assert trainer["environment"]["NUDGE_MODELS_DIR"] == worker["environment"]["NUDGE_MODELS_DIR"]
    path = worker["environment"]["NUDGE_MODELS_DIR"]
    assert trainer["volumes"] == [f"models:{path}"]
    assert worker["volumes"] == [f"models:{path}:ro"]


def test_compose_environment_builds_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for service in nudge_services().values():
        env = {k: interpolate(v) for k, v in service["environment"].items()}
        assert_valid_settings(env, monkeypatch)
    sink_env = nudge_services()["sink"]["environment"]
    assert "@postgres:5432/" in sink_env["NUDGE_DATABASE_URL"]
    assert "NUDGE_DATABASE_URL" not in nudge_services()["worker"]["environment"]


def test_containers_listen_beyond_loopback_so_they_can_be_scraped() -> None:
    # The setting's default is loopback (safe on a host); in a container Prometheus and
    # the probes come from outside, so every deployment of a long-running process says so.
    everywhere = "0.0.0.0"  # noqa: S104
    assert Settings.model_fields["bind_address"].default == "127.0.0.1"
    for service in ("worker", "sink"):
        assert services()[service]["environment"]["NUDGE_BIND_ADDRESS"] == everywhere
    assert k8s("ConfigMap", "nudge-config")["data"]["NUDGE_BIND_ADDRESS"] == everywhere
    env = {op: args for op, args in final_stage() if op == "ENV"}["ENV"]
    assert f"NUDGE_BIND_ADDRESS={everywhere}" in env.split()


def test_prometheus_scrapes_every_worker_and_sink_replica() -> None:
    config = load(DEPLOY / "prometheus/prometheus.yml")
    scraped = {
        name: sd["port"]
        for job in config["scrape_configs"]
        for sd in job.get("dns_sd_configs", [])
        for name in sd["names"]
    }
    for service, variable in METRICS_PORT_VARIABLE.items():
        assert scraped[service] == int(services()[service]["environment"][variable])


def test_prometheus_loads_the_rules_file_mounted_into_it() -> None:
    rule_files = load(DEPLOY / "prometheus/prometheus.yml")["rule_files"]
    assert [mounts("prometheus").get(path) for path in rule_files] == [RULES]


def test_grafana_is_provisioned_with_the_datasource_and_dashboards() -> None:
    grafana = mounts("grafana")
    provisioning = grafana["/etc/grafana/provisioning"]
    (source,) = load(provisioning / "datasources/prometheus.yml")["datasources"]
    assert source["type"] == "prometheus" and source["isDefault"]
    assert source["url"] == "http://prometheus:9090" and "prometheus" in services()
    (provider,) = load(provisioning / "dashboards/nudge.yml")["providers"]
    assert grafana[provider["options"]["path"]] == DASHBOARD.parent
    home = services()["grafana"]["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == f"{provider['options']['path']}/{DASHBOARD.name}"


# --- alert rules and dashboard -----------------------------------------------------------


def test_alert_rules_are_complete() -> None:
    names = [rule["alert"] for rule in rules()]
    assert len(names) == len(set(names)) >= 5
    for rule in rules():
        assert rule["labels"]["severity"] in ("warning", "critical"), rule["alert"]
        assert {"summary", "description"} <= set(rule["annotations"]), rule["alert"]
        assert re.fullmatch(r"\d+[smh]", rule["for"]), rule["alert"]


@pytest.mark.parametrize("rule", rules(), ids=lambda r: r["alert"])
def test_alert_rules_use_only_exported_metrics(rule: dict[str, Any]) -> None:
    known = set().union(*exported_metrics().values())
    used = metric_names(rule["expr"])
    assert used, "an alert on no Nudge metric"
    assert used <= known, f"unknown metrics: {sorted(used - known)}"


@pytest.mark.parametrize("panel", dashboard_panels(), ids=lambda p: p["title"])
def test_dashboard_panels_use_only_exported_metrics(panel: dict[str, Any]) -> None:
    known = set().union(*exported_metrics().values())
    for target in panel["targets"]:
        used = metric_names(target["expr"])
        assert used and used <= known, f"{target['refId']}: unknown {sorted(used - known)}"


def test_dashboard_shows_every_exported_metric() -> None:
    exprs = [t["expr"] for p in dashboard_panels() for t in p["targets"]]
    used = set().union(*map(metric_names, exprs))
    unseen = [family for family, samples in exported_metrics().items() if not samples & used]
    assert not unseen, f"metrics on no panel: {unseen}"


def test_dashboard_is_well_formed() -> None:
    dashboard = json.loads(DASHBOARD.read_text())
    assert dashboard["uid"] and dashboard["title"]
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    (variable,) = dashboard["templating"]["list"]
    assert variable["type"] == "datasource" and variable["query"] == "prometheus"
    for panel in dashboard_panels():
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}, panel["title"]
        refs = [t["refId"] for t in panel["targets"]]
        assert refs and len(refs) == len(set(refs)), panel["title"]


# --- Kubernetes --------------------------------------------------------------------------


def test_k8s_manifests_name_their_kind_and_namespace() -> None:
    # The loop below checks every object: first make sure there are the ones expected.
    kinds = {(o["kind"], o["metadata"]["name"]) for o in k8s_objects()}
    assert {("Deployment", "nudge-worker"), ("Deployment", "nudge-sink"),
            ("Job", "nudge-migrate"), ("Service", "nudge-worker-metrics"),
            ("Service", "nudge-sink-metrics"), ("Namespace", "nudge")} <= kinds  # fmt: skip
    for obj in k8s_objects():
        assert obj.get("apiVersion") and obj.get("kind") and obj["metadata"].get("name"), obj
        if obj["kind"] != "Namespace":
            assert obj["metadata"]["namespace"] == "nudge", obj["metadata"]["name"]


def test_kustomization_applies_everything_but_the_secret_template() -> None:
    listed = set(load(K8S / "kustomization.yaml")["resources"])
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == manifests - {"secret.example.yaml"}


def test_k8s_configuration_is_valid_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    config = k8s("ConfigMap", "nudge-config")["data"]
    secret = k8s("Secret", "nudge-secrets")["stringData"]
    assert not SECRET_VARIABLES & set(config), "secrets belong in the Secret"
    assert set(secret) == SECRET_VARIABLES | {"NUDGE_KAFKA_SASL_PASSWORD"}
    assert all("CHANGE_ME" in value for value in secret.values()), "placeholders only"
    assert_valid_settings({**config, **secret}, monkeypatch)


def test_k8s_containers_take_env_from_the_configmap_and_secret() -> None:
    secret = k8s("Secret", "nudge-secrets")["stringData"]
    assert sorted(c["args"][0] for c in containers()) == [
        "db", "db", "models", "sink", "topics", "worker",
    ]  # fmt: skip
    for container in containers():
        assert container["envFrom"] == [{"configMapRef": {"name": "nudge-config"}}]
        for variable in container.get("env", []):
            if variable["name"] in WORKER_API_VARIABLES:  # the query API's, on the worker only
                assert container["args"] == ["worker"]
                assert Settings.model_fields[variable["name"].removeprefix("NUDGE_").lower()]
                if "value" in variable or "fieldRef" in variable["valueFrom"]:
                    continue
            ref = variable["valueFrom"]["secretKeyRef"]
            assert ref["name"] == "nudge-secrets" and ref["key"] in secret
            assert variable["name"] == ref["key"]
        parse_cli(container["args"])


#: What the worker's own env adds for the query API: its port, its pod IP, the tokens.
WORKER_API_VARIABLES = {
    "NUDGE_WEB_PORT", "NUDGE_WEB_ADVERTISED_HOST", "NUDGE_API_TOKENS", "NUDGE_API_AUDIT_KEY",
}  # fmt: skip


def test_k8s_workers_serve_the_query_api_at_their_pod_ip() -> None:
    (worker,) = [c for c in containers() if c["args"] == ["worker"]]
    env = {variable["name"]: variable for variable in worker["env"]}
    ports = {p["name"]: p["containerPort"] for p in worker["ports"]}
    assert int(env["NUDGE_WEB_PORT"]["value"]) == ports["api"]
    assert env["NUDGE_WEB_ADVERTISED_HOST"]["valueFrom"]["fieldRef"]["fieldPath"] == "status.podIP"
    for secret in ("NUDGE_API_TOKENS", "NUDGE_API_AUDIT_KEY"):
        assert env[secret]["valueFrom"]["secretKeyRef"]["optional"] is True  # the API is optional
    (api,) = [
        o for o in k8s_objects() if o["kind"] == "Service" and o["metadata"]["name"] == "nudge-api"
    ]
    assert api["spec"]["ports"] == [{"name": "api", "port": ports["api"], "targetPort": "api"}]


def test_k8s_runs_the_processes_the_brief_asks_for() -> None:
    partitions = int(k8s("ConfigMap", "nudge-config")["data"]["NUDGE_PARTITIONS"])
    worker = k8s("Deployment", "nudge-worker")["spec"]
    assert 2 <= worker["replicas"] <= partitions
    assert worker["template"]["spec"]["terminationGracePeriodSeconds"] >= 30
    assert args_of("Deployment", "nudge-worker") == ["worker"]
    assert args_of("Deployment", "nudge-sink") == ["sink"]
    assert args_of("Job", "nudge-migrate") == ["db", "upgrade"]


def test_k8s_probes_services_and_annotations_use_the_metrics_port() -> None:
    config = k8s("ConfigMap", "nudge-config")["data"]
    ports = {role: int(config[variable]) for role, variable in METRICS_PORT_VARIABLE.items()}
    deployments = [o for o in k8s_objects() if o["kind"] == "Deployment"]
    assert {d["metadata"]["name"] for d in deployments} == {"nudge-worker", "nudge-sink"}
    for deployment in deployments:
        template = deployment["spec"]["template"]
        (container,) = template["spec"]["containers"]
        port = ports[container["args"][0]]
        assert template["metadata"]["annotations"]["prometheus.io/port"] == str(port)
        named = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert named.pop("metrics") == port
        assert set(named) <= {"api"}  # the worker's query API (its own test)
        # A worker's liveness is its progress (/healthz), not only a live process.
        liveness = "/healthz" if container["args"] == ["worker"] else "/metrics"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = liveness if probe == "livenessProbe" else "/metrics"
            assert container[probe]["httpGet"] == {"path": path, "port": "metrics"}
        assert container["resources"]["requests"] and container["resources"]["limits"]["memory"]
    templates = [d["spec"]["template"] for d in deployments]
    services_ = [
        o for o in k8s_objects() if o["kind"] == "Service" and o["metadata"]["name"] != "nudge-api"
    ]
    assert len(services_) == len(deployments)  # one metrics Service per Deployment
    for service in services_:
        selector = service["spec"]["selector"].items()
        (selected,) = [t for t in templates if selector <= t["metadata"]["labels"].items()]
        (container,) = selected["spec"]["containers"]
        port = ports[container["args"][0]]
        (service_port,) = service["spec"]["ports"]
        assert service_port == {"name": "metrics", "port": port, "targetPort": "metrics"}


def volume_mounts(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Claim name -> the container's mount of it, for a pod's PersistentVolumeClaims."""
    claims = {
        v["name"]: v["persistentVolumeClaim"]["claimName"]
        for v in template["spec"]["volumes"]
        if "persistentVolumeClaim" in v
    }
    (container,) = template["spec"]["containers"]
    return {claims[m["name"]]: m for m in container["volumeMounts"] if m["name"] in claims}


def test_k8s_trains_the_models_daily_into_the_volume_the_workers_read() -> None:
    cronjob = k8s("CronJob", "nudge-models-train")
    spec = cronjob["spec"]
    assert args_of("CronJob", "nudge-models-train") == ["models", "train", "--promote"]
    minute, hour, *every = spec["schedule"].split()
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24 and every == ["*", "*", "*"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timeZone"] == "Etc/UTC"
    job = spec["jobTemplate"]["spec"]
    (rule,) = job["podFailurePolicy"]["rules"]  # too few users: no retry
    assert rule["action"] == "FailJob" and rule["onExitCodes"]["values"] == [EXIT_TOO_FEW_USERS]
    trainer = pod_template(cronjob)
    assert trainer["spec"]["restartPolicy"] == "Never"  # podFailurePolicy needs it
    (container,) = trainer["spec"]["containers"]
    assert rule["onExitCodes"]["containerName"] == container["name"]
    secret_keys = {v["valueFrom"]["secretKeyRef"]["key"] for v in container["env"]}
    assert "NUDGE_DATABASE_URL" in secret_keys

    models_dir = k8s("ConfigMap", "nudge-config")["data"]["NUDGE_MODELS_DIR"]
    claim = k8s("PersistentVolumeClaim", "nudge-models")
    assert claim["spec"]["accessModes"] == ["ReadWriteMany"]  # workers on many nodes
    writes = volume_mounts(trainer)["nudge-models"]
    reads = volume_mounts(k8s("Deployment", "nudge-worker")["spec"]["template"])["nudge-models"]
    assert writes["mountPath"] == reads["mountPath"] == models_dir
    assert not writes.get("readOnly") and reads["readOnly"] is True


def test_k8s_purges_the_database_daily_one_run_at_a_time() -> None:
    cronjob = k8s("CronJob", "nudge-db-purge")
    spec = cronjob["spec"]
    assert args_of("CronJob", "nudge-db-purge") == ["db", "purge"]
    minute, hour, *every = spec["schedule"].split()
    assert 0 <= int(minute) < 60 and 0 <= int(hour) < 24 and every == ["*", "*", "*"]
    assert spec["concurrencyPolicy"] == "Forbid" and spec["timeZone"] == "Etc/UTC"
    (container,) = pod_template(cronjob)["spec"]["containers"]
    secret_keys = {v["valueFrom"]["secretKeyRef"]["key"] for v in container["env"]}
    assert secret_keys == {"NUDGE_DATABASE_URL"}  # the database only: no Kafka
    assert {"configMapRef": {"name": "nudge-config"}} in container["envFrom"]


# The pod spec fields these manifests may use: a mis-indented key lands here and is caught.
POD_SPEC_KEYS = {
    "automountServiceAccountToken", "containers", "restartPolicy", "securityContext",
    "terminationGracePeriodSeconds", "topologySpreadConstraints", "volumes",
}  # fmt: skip


def test_k8s_pods_are_locked_down_and_select_their_own_labels() -> None:
    for obj in k8s_objects():
        if obj["kind"] == "Deployment":
            selector = obj["spec"]["selector"]["matchLabels"]
            assert selector.items() <= obj["spec"]["template"]["metadata"]["labels"].items()
    # two Deployments, two Jobs, two CronJobs: none escapes the checks
    assert len(pod_templates()) == 6
    for template in pod_templates():
        spec = template["spec"]
        assert set(spec) <= POD_SPEC_KEYS, sorted(set(spec) - POD_SPEC_KEYS)
        assert spec["securityContext"]["runAsNonRoot"] is True
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False
            assert context["readOnlyRootFilesystem"] is True
            assert context["capabilities"]["drop"] == ["ALL"]
            assert container["image"] == "nudge"  # the tag comes from kustomization.yaml


# --- promtool (skipped where it is not installed) ----------------------------------------

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None,
    reason="promtool not on PATH (apt-get install --no-install-recommends prometheus)",
)


def promtool(*args: str) -> None:
    assert PROMTOOL is not None
    result = subprocess.run([PROMTOOL, *args], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


@needs_promtool
def test_promtool_accepts_the_rules() -> None:
    promtool("check", "rules", str(RULES))


@needs_promtool
def test_promtool_accepts_the_config_with_its_mounted_rules(tmp_path: Path) -> None:
    # The config names the rules by their path inside the container; point it at the file
    # compose mounts there, so the check covers the rules exactly as Prometheus loads them.
    config = load(DEPLOY / "prometheus/prometheus.yml")
    config["rule_files"] = [str(mounts("prometheus")[path]) for path in config["rule_files"]]
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config))
    promtool("check", "config", str(tmp_path / "prometheus.yml"))


@needs_promtool
def test_alerts_fire_in_the_situations_they_are_for() -> None:
    promtool("test", "rules", str(DEPLOY / "prometheus/rules.test.yml"))
