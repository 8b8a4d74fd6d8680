"""The deployment files in deploy/ are valid and agree with each other and with the app.

Compose and Kubernetes documents are validated against the JSON schemas kept in
deploy/schemas/ (offline); nginx.conf passes `nginx -t`; gunicorn.conf.py passes
`gunicorn --check-config` with the real app. Under CI (CI=true) a missing nginx binary or
jsonschema library fails the test; elsewhere it is skipped.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import runpy
import shutil
import socket
import subprocess
import sys
import time
from fnmatch import fnmatch
from pathlib import Path
from types import SimpleNamespace

import httpx
import pytest
import yaml

IN_CI = os.environ.get("CI") == "true"
ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
SCHEMAS = DEPLOY / "schemas"
K8S_SCHEMAS = SCHEMAS / "kubernetes" / "v1.29.0-local-strict"
APP_SERVICES = ("migrate", "web", "worker", "cron")
COMMANDS = {
    "migrate": ["flask", "--app", "backend", "db", "upgrade"],
    "web": ["gunicorn", "-c", "deploy/gunicorn.conf.py", "backend:create_app()"],
    "worker": ["python", "-m", "workers"],
    "cron": ["python", "-m", "workers.cron"],
}
CONFIG_VARIABLES = (
    "DATABASE_URL", "REDIS_URL", "SECRET_KEYS", "PUBLIC_BASE_URL", "ASSESSMENT_CORE_URL",
    "ASSESSMENT_CORE_SECRET", "WECHAT_API_BASE", "WECHAT_APPID", "WECHAT_SECRET",
    "SMS_GATEWAY_URL", "TIMEZONE", "RATELIMIT_PUBLIC", "TRUSTED_PROXIES",
    "PROMETHEUS_MULTIPROC_DIR", "SURVEY_TEMPLATES_DIR", "LOG_LEVEL",
)
# Read with a default that an empty string would replace (not `or None`): never set empty.
VARIABLES_WITH_DEFAULTS = (
    "PUBLIC_BASE_URL", "WECHAT_API_BASE", "TIMEZONE", "RATELIMIT_PUBLIC", "TRUSTED_PROXIES",
    "LOG_LEVEL", "MAX_CONTENT_LENGTH", "SURVEY_TEMPLATES_DIR",
)
TWO_MIB = 2 * 1024 * 1024


def unavailable(what: str) -> None:
    """Fail under CI, skip elsewhere: a missing tool never hides silently in CI."""
    if IN_CI:
        pytest.fail(f"{what} is required under CI")
    pytest.skip(f"{what} not available")


def load_yaml_documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")) if doc]


def k8s_documents() -> list[tuple[str, dict]]:
    return [(f"{path.name}::{doc['kind']}/{doc['metadata']['name']}", doc)
            for path in sorted(K8S.glob("*.yaml")) if path.name != "kustomization.yaml"
            for doc in load_yaml_documents(path)]


def compose() -> dict:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text(encoding="utf-8"))


def pod_specs() -> list[tuple[str, dict]]:
    return [(name, doc["spec"]["template"]["spec"]) for name, doc in k8s_documents()
            if doc["kind"] in ("Deployment", "Job")]


def env_example() -> dict[str, str]:
    """Every KEY=value of .env.example, commented-out ones included."""
    pairs = re.findall(r"^#?\s?([A-Z][A-Z0-9_]*)=(.*)$",
                       (DEPLOY / ".env.example").read_text(encoding="utf-8"), re.MULTILINE)
    return dict(pairs)


def dockerfile_stages() -> list[list[str]]:
    """The Dockerfile's instructions (continuations joined), split by FROM."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text(encoding="utf-8"))
    lines = [line.strip() for line in text.splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    stages: list[list[str]] = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append([])
        if stages:
            stages[-1].append(line)
    return stages


@pytest.fixture(scope="module")
def jsonschema():
    try:
        import jsonschema
    except ImportError:
        unavailable("the jsonschema library")
    return jsonschema


@pytest.fixture(scope="module")
def k8s_registry():
    from referencing import Registry, Resource

    definitions = json.loads((K8S_SCHEMAS / "_definitions.json").read_text(encoding="utf-8"))
    return Registry().with_resource(definitions["$id"], Resource.from_contents(definitions))


# --- schemas ----------------------------------------------------------------------------------
def test_the_compose_file_follows_the_compose_specification(jsonschema):
    schema = json.loads((SCHEMAS / "compose-spec.json").read_text(encoding="utf-8"))
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator_class(schema).iter_errors(compose())]
    assert errors == []


@pytest.mark.parametrize("name,document", k8s_documents(), ids=[n for n, _ in k8s_documents()])
def test_every_kubernetes_document_follows_the_kubernetes_1_29_schema(
        jsonschema, k8s_registry, name, document):
    group, _, version = document["apiVersion"].rpartition("/")
    suffix = f"{group.split('.')[0]}-{version}" if group else version
    schema_file = K8S_SCHEMAS / f"{document['kind'].lower()}-{suffix}.json"
    assert schema_file.exists(), f"{name}: no schema; add it in deploy/schemas/vendor_schemas.py"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    validator = jsonschema.validators.validator_for(schema)(schema, registry=k8s_registry)
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(document)]
    assert errors == []


def test_kustomization_applies_every_manifest_but_the_secret_example_and_the_migration():
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    manifests = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    assert listed == manifests - {"secret.example.yaml", "migrate-job.yaml"}


# --- nginx --------------------------------------------------------------------------------------
def self_signed_certificate(directory: Path) -> None:
    """Write fullchain.pem and privkey.pem for localhost into directory."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    (directory / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "privkey.pem").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))


def test_nginx_accepts_the_config(tmp_path):
    """`nginx -t` on a copy whose host names, certificates and files point into tmp_path."""
    nginx = shutil.which("nginx") or next(
        (p for p in ("/usr/sbin/nginx", "/usr/local/sbin/nginx") if os.access(p, os.X_OK)), None)
    if nginx is None:
        unavailable("nginx")
    self_signed_certificate(tmp_path)
    text = (DEPLOY / "nginx.conf").read_text(encoding="utf-8")
    for old, new in {"server web:8000": "server 127.0.0.1:8000",  # no Docker DNS here
                     "/var/run/nginx.pid": f"{tmp_path}/nginx.pid",
                     "/etc/nginx/certs/": f"{tmp_path}/",
                     "/dev/stdout": f"{tmp_path}/access.log"}.items():
        assert old in text
        text = text.replace(old, new)
    if not Path("/etc/nginx/mime.types").exists():
        (tmp_path / "mime.types").write_text("types { text/html html; }\n")
        text = text.replace("/etc/nginx/mime.types", f"{tmp_path}/mime.types")
    # Temporary directories compiled into this nginx build, moved into tmp_path so the test
    # also runs as a user who cannot create them under /var/lib/nginx.
    build = subprocess.run([nginx, "-V"], capture_output=True, text=True, check=False).stderr
    temp_paths = "".join(
        f"    {directive} {tmp_path}/{directive};\n"
        for flag, directive in (("client-body", "client_body_temp_path"),
                                ("proxy", "proxy_temp_path"),
                                ("fastcgi", "fastcgi_temp_path"),
                                ("uwsgi", "uwsgi_temp_path"),
                                ("scgi", "scgi_temp_path"))
        if f"--http-{flag}-temp-path=" in build)
    text = text.replace("http {\n", "http {\n" + temp_paths, 1)
    (tmp_path / "nginx.conf").write_text(text, encoding="utf-8")
    result = subprocess.run(
        [nginx, "-t", "-p", f"{tmp_path}/", "-e", f"{tmp_path}/error.log",
         "-c", f"{tmp_path}/nginx.conf"],
        capture_output=True, text=True, timeout=30, check=False)
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


# --- gunicorn -----------------------------------------------------------------------------------
def test_gunicorn_accepts_the_config_and_loads_the_app(tmp_path):
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "WEB_CONCURRENCY")}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/check.db", SECRET_KEYS="check-config-key",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"), TRUSTED_PROXIES="1")
    result = subprocess.run(
        [sys.executable, "-m", "gunicorn", "--check-config", "-c", "deploy/gunicorn.conf.py",
         "backend:create_app()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stdout + result.stderr


def test_gunicorn_access_lines_are_json_with_rating_tokens_masked(monkeypatch, tmp_path):
    # The config sets PROMETHEUS_MULTIPROC_DIR when unset; keep this process's environment.
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    assert conf["worker_class"] == "gthread" and conf["preload_app"] is False
    assert conf["bind"] == ["0.0.0.0:8000"] and 1 <= conf["workers"] <= 8
    logger = object.__new__(conf["AccessLogger"])
    token = "AbC123_secret-token"
    environ = {"REQUEST_METHOD": "POST", "RAW_URI": f"/api/v1/invitations/{token}/rating?x=1",
               "PATH_INFO": f"/api/v1/invitations/{token}/rating", "QUERY_STRING": "x=1",
               "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "10.0.0.7",
               "HTTP_REFERER": f"https://ssp.example/r/{token}",
               "HTTP_USER_AGENT": 'Mozilla "quoted" \\ back'}
    resp = SimpleNamespace(status="201 CREATED", sent=42, headers=[("X-Request-ID", "r-7f3a")])
    req = SimpleNamespace(headers=[("X-FORWARDED-FOR", "1.2.3.4")])
    atoms = logger.atoms(resp, req, environ, dt.timedelta(milliseconds=12))
    line = conf["access_log_format"] % logger.atoms_wrapper_class(atoms)
    record = json.loads(line)
    assert token not in line
    assert record["path"] == "/api/v1/invitations/***/rating"
    assert record["referer"] == "https://ssp.example/r/***"
    assert record["status"] == 201 and record["forwarded_for"] == "1.2.3.4"
    assert record["user_agent"] == 'Mozilla "quoted" \\ back'
    assert record["request_id"] == "r-7f3a"  # joins the line to the app's own log lines
    # A format naming the request line, or any header, reads it masked and escaped too.
    wrapped = logger.atoms_wrapper_class(atoms)
    assert token not in wrapped["r"] and wrapped["r"].startswith("POST /api/v1/invitations/***")
    assert wrapped["{user-agent}i"] == "-" and wrapped["{x-forwarded-for}i"] == "1.2.3.4"
    assert dt.datetime.fromisoformat(record["time"]).tzinfo is not None


def test_gunicorn_drops_the_metrics_of_an_exited_worker(monkeypatch, tmp_path):
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    (tmp_path / "gauge_livesum_4242.db").write_bytes(b"")
    (tmp_path / "counter_1.db").write_bytes(b"")
    conf["child_exit"](None, SimpleNamespace(pid=4242))
    assert not (tmp_path / "gauge_livesum_4242.db").exists()
    conf["on_starting"](None)
    assert list(tmp_path.glob("*.db")) == []


def free_port() -> int:
    """Return a TCP port nobody listens on right now."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_gunicorn_answers_without_a_server_banner(tmp_path):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL",)}
    env.update(DATABASE_URL=f"sqlite:///{tmp_path}/banner.db", SECRET_KEYS="banner-key",
               PROMETHEUS_MULTIPROC_DIR=str(tmp_path / "prometheus"), WEB_CONCURRENCY="1",
               EMBEDDED_SCHEDULER="0")
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py", "--bind",
         f"127.0.0.1:{port}", "backend:create_app()"], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline, response = time.monotonic() + 30, None
        while response is None and time.monotonic() < deadline:
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2)
            except httpx.TransportError:
                time.sleep(0.2)
        assert response is not None and response.status_code == 200
        assert "server" not in response.headers and "gunicorn" not in str(response.headers)
    finally:
        server.terminate()
        server.wait(timeout=30)


# --- the files agree with each other and with the app ------------------------------------------
def test_the_env_example_names_every_configuration_variable():
    assert set(CONFIG_VARIABLES) <= set(env_example())


def test_the_env_example_never_sets_a_variable_with_a_default_to_empty():
    text = (DEPLOY / ".env.example").read_text(encoding="utf-8")
    empty = set(re.findall(r"^([A-Z][A-Z0-9_]*)=\s*$", text, re.MULTILINE))
    assert empty.isdisjoint(VARIABLES_WITH_DEFAULTS)


def test_the_configmap_sets_no_variable_with_a_default_to_empty():
    configmap = next(doc for _, doc in k8s_documents() if doc["kind"] == "ConfigMap")
    assert all(configmap["data"][k] != "" for k in VARIABLES_WITH_DEFAULTS
               if k in configmap["data"])


def test_compose_runs_the_contract_commands_after_the_migration_on_healthy_stores():
    services = compose()["services"]
    for name in APP_SERVICES:
        assert services[name]["command"] == COMMANDS[name]
        assert services[name]["env_file"] == [{"path": ".env", "required": True}]
    assert services["migrate"]["restart"] == "no"
    for name in ("web", "worker", "cron"):
        assert services[name]["depends_on"]["migrate"] == {
            "condition": "service_completed_successfully"}
    for name in APP_SERVICES:
        for store in ("postgres", "redis"):
            assert services[name]["depends_on"][store] == {"condition": "service_healthy"}
    assert services["nginx"]["depends_on"]["web"] == {"condition": "service_healthy"}
    for name in ("web", "postgres", "redis", "nginx"):
        assert services[name]["healthcheck"]["test"]


def test_compose_keeps_postgres_and_redis_data_and_redis_never_evicts():
    services = compose()["services"]
    assert services["postgres"]["image"].startswith("postgres:16")
    assert services["redis"]["image"].startswith("redis:7")
    command = " ".join(services["redis"]["command"])
    assert "--appendonly yes" in command and "--maxmemory-policy noeviction" in command
    assert any(v.endswith(":/var/lib/postgresql/data") for v in services["postgres"]["volumes"])
    assert any(v.endswith(":/data") for v in services["redis"]["volumes"])
    assert "./nginx.conf:/etc/nginx/nginx.conf:ro" in services["nginx"]["volumes"]
    assert set(services["nginx"]["ports"]) == {"80:80", "443:443"}


def test_kubernetes_runs_the_contract_commands_under_the_image_entrypoint():
    containers = {doc["metadata"]["name"]: doc["spec"]["template"]["spec"]["containers"][0]
                  for _, doc in k8s_documents() if doc["kind"] in ("Deployment", "Job")}
    assert {name: c["args"] for name, c in containers.items()} == COMMANDS
    assert all("command" not in c for c in containers.values())  # keeps tini as PID 1


def test_kubernetes_pods_run_as_non_root_without_privileges():
    for name, spec in pod_specs():
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] != 0, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            assert container["resources"]["requests"] and container["resources"]["limits"]


def test_the_web_deployment_probes_health_and_keeps_metrics_on_an_empty_dir():
    web = next(doc for _, doc in k8s_documents()
               if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "web")
    spec = web["spec"]["template"]["spec"]
    container = spec["containers"][0]
    assert container["livenessProbe"]["httpGet"]["path"] == "/healthz"
    assert container["readinessProbe"]["httpGet"]["path"] == "/readyz"
    directory = next(e["value"] for e in container["env"]
                     if e["name"] == "PROMETHEUS_MULTIPROC_DIR")
    mount = next(m for m in container["volumeMounts"] if m["mountPath"] == directory)
    assert "emptyDir" in next(v for v in spec["volumes"] if v["name"] == mount["name"])
    hpa = next(doc for _, doc in k8s_documents() if doc["kind"] == "HorizontalPodAutoscaler")
    assert hpa["spec"]["scaleTargetRef"] == {"apiVersion": "apps/v1", "kind": "Deployment",
                                            "name": "web"}


def test_the_cron_deployment_runs_one_replica_and_recreates_on_update():
    cron = next(doc for _, doc in k8s_documents()
                if doc["kind"] == "Deployment" and doc["metadata"]["name"] == "cron")
    assert cron["spec"]["replicas"] == 1
    assert cron["spec"]["strategy"] == {"type": "Recreate"}


def test_the_body_limit_is_two_mebibytes_in_the_app_nginx_and_the_ingress(tmp_path):
    from backend.config import load_config

    assert load_config({"SECRET_KEYS": "k"}, str(tmp_path))["MAX_CONTENT_LENGTH"] == TWO_MIB
    assert re.search(r"^\s*client_max_body_size 2m;", (DEPLOY / "nginx.conf").read_text(),
                     re.MULTILINE)
    ingress = next(doc for _, doc in k8s_documents() if doc["kind"] == "Ingress")
    assert ingress["metadata"]["annotations"][
        "nginx.ingress.kubernetes.io/proxy-body-size"] == "2m"


# --- Dockerfile ---------------------------------------------------------------------------------
def test_the_dockerfile_builds_wheels_apart_and_runs_slim_as_a_non_root_user():
    stages = dockerfile_stages()
    assert len(stages) >= 2
    final = stages[-1]
    assert re.match(r"FROM \$\{PYTHON_IMAGE\} AS runtime", final[0])
    assert "ARG PYTHON_IMAGE=python:3.11-slim-bookworm" in (DEPLOY / "Dockerfile").read_text()
    runtime = "\n".join(final)
    for tool in ("build-essential", "gcc", "g++", "-dev ", "-dev\n"):
        assert tool not in runtime
    assert "fonts-noto-cjk" in runtime and "--no-index" in runtime
    user = next(line.split()[1] for line in reversed(final) if line.startswith("USER "))
    assert user.split(":")[0].isdigit() and int(user.split(":")[0]) != 0
    assert re.search(r"^HEALTHCHECK .*127\.0\.0\.1:8000/healthz", runtime, re.MULTILINE)
    cmd = json.loads(next(line[4:] for line in final if line.startswith("CMD ")))
    assert cmd == COMMANDS["web"]
    assert "SURVEY_TEMPLATES_DIR=/app/survey_templates" in runtime


def test_the_dockerfile_copies_only_what_its_ignore_file_lets_into_the_context():
    patterns = [line.strip() for line in
                (DEPLOY / "Dockerfile.dockerignore").read_text(encoding="utf-8").splitlines()
                if line.strip() and not line.startswith("#")]

    def included(path: str) -> bool:
        keep = True
        for pattern in patterns:
            negated = pattern.startswith("!")
            pattern = pattern.lstrip("!").rstrip("/")
            if fnmatch(path, pattern) or path.startswith(pattern + "/"):
                keep = negated
        return keep

    sources = [source for stage in dockerfile_stages() for line in stage
               if line.startswith("COPY ") and "--from" not in line
               for source in line.split()[1:-1]]
    assert sources
    for source in sources:
        assert included(source), f"{source} is excluded by Dockerfile.dockerignore"
        assert (ROOT / source).exists(), f"{source} is missing from the repository"
    for secret in ("deploy/.env", "deploy/certs/privkey.pem", ".venv", "instance", "tests"):
        assert not included(secret)
