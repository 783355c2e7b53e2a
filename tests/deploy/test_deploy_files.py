"""Static checks of deploy/ against the code: no container engine runs here, so these are
what fails when the image, the compose file, the Kubernetes manifests or the runbook drift
from the CLI, the settings, the queues or the import's audit table."""

from __future__ import annotations

import argparse
import contextlib
import inspect
import io
import re
import shlex
import tomllib
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from dramatiq.cli import make_argument_parser

from jobs.import_spec import SPECS
from jobs.pdf_table import FONT_DIRS, FONT_PACKAGES
from schemas.codecs import DateCodec, MinutesCodec, StatusCodec, YesNoCodec
from schemas.columns import Column, Entity, columns_for
from schemas.products import Product
from tests.deploy import files
from tests.deploy.files import Command
from worker import commands
from worker.cli import build_parser

# --- every file parses ---------------------------------------------------------------------


@pytest.mark.parametrize("path", files.yaml_files(), ids=lambda p: str(p.relative_to(files.ROOT)))
def test_every_yaml_file_of_deploy_parses(path: Path) -> None:
    # given a YAML file of deploy/

    # when it is read
    documents = files.yaml_documents(path)

    # then it holds at least one mapping, and Kubernetes documents say what they are
    assert documents, f"{path} is empty"
    for doc in documents:
        assert isinstance(doc, dict), f"{path}: a document is not a mapping"
        if path.parent == files.K8S:
            assert {"apiVersion", "kind", "metadata"} <= doc.keys(), f"{path}: {doc}"


def test_the_deploy_folder_has_the_files_the_runbook_describes() -> None:
    # given the files deploy/RUNBOOK.md and the issue promise
    expected = {
        "Dockerfile",
        "Dockerfile.dockerignore",
        "compose.yaml",
        "rosterjobs.env.example",
        "RUNBOOK.md",
        "k8s/namespace.yaml",
        "k8s/configmap.yaml",
        "k8s/secret.example.yaml",
        "k8s/api.yaml",
        "k8s/worker.yaml",
        "k8s/migrate-job.yaml",
        "k8s/s3-events.yaml",
        "k8s/worker-autoscaling.yaml",
    }

    # when deploy/ is listed
    present = {str(path.relative_to(files.DEPLOY)) for path in files.deploy_files()}

    # then each is there
    assert expected <= present, f"missing: {sorted(expected - present)}"


# --- every command is a real CLI command ---------------------------------------------------


def _subcommands(parser: argparse.ArgumentParser) -> dict[str, argparse.ArgumentParser]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


@pytest.mark.parametrize("command", files.all_commands(), ids=str)
def test_every_rosterjobs_command_the_deploy_files_run_exists_in_the_cli(
    command: Command,
) -> None:
    # given the CLI's parser and a command line a deploy file runs
    parser = build_parser()
    known = _subcommands(parser)

    # when the subcommand is looked up and the whole line is parsed
    assert command.argv, f"{command.where} runs `rosterjobs` with no subcommand"
    assert command.argv[0] in known, (
        f"{command.where} runs `rosterjobs {command.argv[0]}`, which worker/cli.py does not "
        f"have (yet): its commands are {', '.join(sorted(known))}"
    )
    errors = io.StringIO()
    try:
        with contextlib.redirect_stderr(errors):
            parsed = parser.parse_args(list(command.argv))
    except SystemExit:
        pytest.fail(f"{command} is refused by the CLI:\n{errors.getvalue()}")

    # then it names a runnable command with options the CLI knows
    assert hasattr(parsed, "run"), f"{command} is incomplete (an action is missing)"


@pytest.mark.parametrize(
    ("target", "found"),
    [("compose", files.compose_commands), ("kubernetes", files.k8s_commands)],
    ids=["compose", "kubernetes"],
)
def test_compose_and_kubernetes_each_run_migrations_api_workers_and_the_event_consumer(
    target: str, found: Any
) -> None:
    # given the roles a deployment needs
    needed = {"db upgrade", "api", "worker", "s3-events"}

    # when the commands of the target are collected
    roles = {command.role for command in found()}

    # then each role is run
    assert needed <= roles, f"{target} runs no {sorted(needed - roles)}"


# --- settings -------------------------------------------------------------------------------


def _compose_environments() -> dict[str, dict[str, Any]]:
    return {
        name: dict(service.get("environment") or {})
        for name, service in files.compose()["services"].items()
    }


def _settings_set() -> dict[str, set[str]]:
    """ROSTERJOBS_* names each deploy file sets, by file."""
    found: dict[str, set[str]] = {}
    for name, env in _compose_environments().items():
        found.setdefault(f"compose service {name}", set()).update(env)
    found["compose x-rosterjobs-env"] = set(files.compose()["x-rosterjobs-env"])
    found["rosterjobs.env.example"] = set(files.env_file(files.ENV_EXAMPLE))
    for doc in files.k8s_objects("ConfigMap"):
        found[f"ConfigMap {doc['metadata']['name']}"] = set(doc.get("data", {}))
    for doc in files.k8s_objects("Secret"):
        found[f"Secret {doc['metadata']['name']}"] = set(doc.get("stringData", {}))
    for path, workload, container in files.k8s_containers():
        names = {env["name"] for env in container.get("env", [])}
        found[f"{path.name} {workload['metadata']['name']}/{container['name']}"] = names
    return {
        where: {name for name in names if name.startswith("ROSTERJOBS_")}
        for where, names in found.items()
    }


def test_every_setting_the_deploy_files_set_is_one_the_service_reads() -> None:
    # given the names Settings.from_env reads
    read = files.settings_read()

    # when the names set by compose, the env example and the manifests are collected
    unknown = {where: sorted(names - read) for where, names in _settings_set().items()}

    # then none is unknown (a typo or a renamed setting would be silently ignored)
    assert not {where: names for where, names in unknown.items() if names}, (
        f"set but never read by worker/settings.py: {unknown}"
    )


def test_every_setting_the_deploy_files_mention_is_one_the_service_reads() -> None:
    # given the names Settings.from_env reads
    read = files.settings_read()

    # when every ROSTERJOBS_* name in any deploy file, the runbook included, is collected
    mentioned = {
        str(path.relative_to(files.DEPLOY)): set(files.SETTING_NAME.findall(path.read_text()))
        for path in files.deploy_files()
    }

    # then the runbook and the comments speak of real settings only
    unknown = {where: sorted(names - read) for where, names in mentioned.items() if names - read}
    assert not unknown, f"mentioned but not read by worker/settings.py: {unknown}"


PRODUCTION_FORMS = {
    "ROSTERJOBS_DATABASE_URL": "postgresql+psycopg://",
    "ROSTERJOBS_BROKER_URL": "redis://",
    "ROSTERJOBS_STORAGE_URL": "s3://",
    "ROSTERJOBS_SECRET_KEY": "",
}


def _assert_production_settings(where: str, settings: dict[str, Any]) -> None:
    for name, prefix in PRODUCTION_FORMS.items():
        value = str(settings.get(name) or "")
        assert value, f"{where} does not set {name}: the service would fall back to its default"
        assert value.startswith(prefix), f"{where}: {name} should start with {prefix!r}"


def test_compose_gives_every_rosterjobs_container_the_production_settings() -> None:
    # given the shared settings anchor and the services built from the rosterjobs image
    shared = files.compose()["x-rosterjobs-env"]
    image = files.rosterjobs_image()
    services = {
        name: service
        for name, service in files.compose()["services"].items()
        if service.get("image") == image
    }

    # when each service's environment is compared with the anchor
    # then the anchor has database, broker, storage and secret in their production forms,
    # and every rosterjobs service has all of the anchor, unchanged
    _assert_production_settings("compose x-rosterjobs-env", shared)
    assert {"migrate", "api", "worker", "s3-events"} <= services.keys()
    for name, service in services.items():
        env = service.get("environment") or {}
        missing = {key for key, value in shared.items() if env.get(key) != value}
        assert not missing, f"compose service {name} lacks the shared settings {sorted(missing)}"


def test_kubernetes_gives_every_rosterjobs_container_the_production_settings() -> None:
    # given the ConfigMap and the Secret template the containers read
    settings = {
        **files.k8s_object("ConfigMap", "rosterjobs")["data"],
        **files.k8s_object("Secret", "rosterjobs")["stringData"],
    }

    # when each rosterjobs container's envFrom is read
    # then together they set the production settings, and every container reads both
    _assert_production_settings("deploy/k8s ConfigMap + Secret", settings)
    for path, workload, container in files.rosterjobs_containers():
        sources = {
            (kind, ref["name"])
            for source in container.get("envFrom", [])
            for kind, ref in source.items()
        }
        assert {("configMapRef", "rosterjobs"), ("secretRef", "rosterjobs")} <= sources, (
            f"{path.name} {workload['metadata']['name']} does not read the settings"
        )


def test_the_env_example_lists_every_secret_compose_interpolates() -> None:
    # given the ${NAME} references of compose.yaml
    referenced = set(re.findall(r"\$\{(\w+)", files.COMPOSE.read_text()))

    # when the env example is read
    listed = set(files.env_file(files.ENV_EXAMPLE))

    # then a copy of the example is enough to start compose
    assert referenced <= listed, f"not in rosterjobs.env.example: {sorted(referenced - listed)}"


# --- the image -------------------------------------------------------------------------------


def test_the_image_is_built_in_two_stages_on_the_same_python_311_slim_base() -> None:
    # given the Dockerfile's stages
    stages = files.dockerfile_stages()

    # when their base images are compared
    bases = {stage.image for stage in stages}

    # then a build stage makes a wheelhouse and the runtime stage uses the same base
    assert len(stages) >= 2, "deploy/Dockerfile should have a build and a runtime stage"
    assert len(bases) == 1, f"the stages use different bases: {bases}"
    assert re.match(r"python:3\.11[.\d]*-slim", bases.pop())
    assert any("pip wheel" in run for run in stages[0].all("RUN"))


def test_the_runtime_stage_runs_rosterjobs_as_a_fixed_non_root_user_in_app() -> None:
    # given the last stage of the Dockerfile
    runtime = files.dockerfile_stages()[-1]

    # when its USER, WORKDIR and ENTRYPOINT are read
    users = runtime.all("USER")
    entrypoints = runtime.all("ENTRYPOINT")

    # then it ends as a numeric non-root uid (so runAsNonRoot can check it), in /app,
    # with the rosterjobs entry point in exec form
    assert users, "the runtime stage sets no USER: it would run as root"
    uid = users[-1].split(":")[0]
    assert uid.isdigit() and int(uid) != 0, f"USER should be a non-root uid, not {uid!r}"
    assert runtime.all("WORKDIR")[-1] == "/app"
    assert entrypoints and files.exec_form(entrypoints[-1]) == ["rosterjobs"]


def test_the_runtime_stage_installs_wheels_only_and_no_build_tools() -> None:
    # given the runtime stage's instructions
    runtime = files.dockerfile_stages()[-1]
    text = " ".join(args for _, args in runtime.instructions)

    # when they are searched for compilers, package installs and source copies
    # then nothing of the kind is there: the wheels come from the build stage
    for tool in ("apt-get install", "build-essential", "gcc", "pip wheel"):
        assert tool not in text, f"the runtime stage should not use {tool}"
    assert not runtime.all("COPY") or all("--from=" in c for c in runtime.all("COPY"))
    assert any("--no-index" in run for run in runtime.all("RUN"))


def test_the_image_and_the_pods_agree_on_the_uid() -> None:
    # given the Dockerfile's USER
    uid = int(files.dockerfile_stages()[-1].all("USER")[-1].split(":")[0])

    # when every rosterjobs pod's security context is read
    pods = [
        (path.name, files.pod_spec(workload)) for path, workload, _ in files.rosterjobs_containers()
    ]

    # then each runs as that uid, as non-root
    for name, spec in pods:
        context = spec.get("securityContext", {})
        assert context.get("runAsNonRoot") is True, f"{name}: runAsNonRoot is not set"
        assert context.get("runAsUser") == uid, f"{name}: runAsUser is not {uid}"


def test_every_package_reaches_the_image_and_nothing_else_does() -> None:
    # given the packages pyproject builds
    pyproject = tomllib.loads((files.ROOT / "pyproject.toml").read_text())
    packages = {
        pattern.rstrip("*")
        for pattern in pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    }

    # when the build stage's COPY lines and the ignore file's allow-list are read
    copied = {
        source.strip("/")
        for copy in files.dockerfile_stages()[0].all("COPY")
        for source in shlex.split(copy)[:-1]
        if not source.startswith("--")
    }
    lines = [
        line.strip()
        for line in files.DOCKERIGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    allowed = {line[1:].strip("/") for line in lines if line.startswith("!")}

    # then every package is copied and allowed, after everything else was excluded
    assert lines[0] == "*", "the ignore file should exclude everything first (an allow-list)"
    assert packages <= copied, f"not copied by the build stage: {sorted(packages - copied)}"
    assert packages | {"pyproject.toml", "README.md"} <= allowed
    assert not allowed & {"var", ".venv", "tests", "deploy", ".git"}


# --- compose ---------------------------------------------------------------------------------


def _pairs(argv: list[str]) -> dict[str, str]:
    return {argv[i]: str(argv[i + 1]) for i in range(len(argv) - 1) if argv[i].startswith("--")}


def test_compose_redis_persists_every_write_and_never_evicts_a_queue() -> None:
    # given the redis service
    redis = files.compose()["services"]["redis"]

    # when its command line is read
    command = redis["command"]
    argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]

    # then append-only persistence is on and eviction is off
    options = _pairs(argv)
    assert options.get("--appendonly") == "yes"
    assert options.get("--maxmemory-policy") == "noeviction"
    assert redis["image"].startswith("redis:7")


def test_compose_runs_migrations_once_before_the_api_workers_and_event_consumer() -> None:
    # given the compose services
    services = files.compose()["services"]

    # when the long-running rosterjobs services' dependencies are read
    # then each waits for the one-shot migration to succeed, and the migration for Postgres
    assert [c.role for c in files.compose_commands() if c.where.endswith(" migrate")] == [
        "db upgrade"
    ]
    for name in ("api", "worker", "s3-events"):
        condition = services[name]["depends_on"]["migrate"]["condition"]
        assert condition == "service_completed_successfully", name
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["migrate"].get("restart") == "no"
    assert services["postgres"]["image"].startswith("postgres:15")


def test_compose_runs_two_workers_and_checks_the_api_on_healthz() -> None:
    # given the worker and api services
    services = files.compose()["services"]
    api_port = _pairs(list(services["api"]["command"]))["--port"]

    # when their replicas and health check are read
    check = " ".join(str(part) for part in services["api"]["healthcheck"]["test"])

    # then two worker replicas run and the API is probed where it listens
    assert services["worker"]["deploy"]["replicas"] == 2
    assert f":{api_port}/healthz" in check


# --- kubernetes ------------------------------------------------------------------------------


def _container(workload: dict[str, Any]) -> dict[str, Any]:
    containers: list[dict[str, Any]] = files.pod_spec(workload)["containers"]
    assert len(containers) == 1
    return containers[0]


def _seconds(value: str) -> int:
    match = re.fullmatch(r"(?:(\d+)m)?(?:(\d+)s)?", value)
    assert match and value, f"not a duration: {value!r}"
    return int(match.group(1) or 0) * 60 + int(match.group(2) or 0)


def _dramatiq_shutdown_timeout_seconds() -> int:
    """What `rosterjobs worker` gives dramatiq as --worker-shutdown-timeout: its own value
    if worker/commands.py passes one, dramatiq's default otherwise."""
    passed = "worker-shutdown-timeout" in inspect.getsource(commands.worker)
    default = make_argument_parser().get_default("worker_shutdown_timeout")
    assert not passed, "worker/commands.py now sets --worker-shutdown-timeout: read it here"
    return int(default) // 1000


def test_workers_get_longer_to_stop_than_a_batch_and_dramatiqs_own_shutdown() -> None:
    # given dramatiq's shutdown timeout as `rosterjobs worker` runs it
    shutdown = _dramatiq_shutdown_timeout_seconds()

    # when the worker's grace periods are read
    grace = files.pod_spec(files.k8s_object("Deployment", "rosterjobs-worker"))[
        "terminationGracePeriodSeconds"
    ]
    compose_grace = _seconds(files.compose()["services"]["worker"]["stop_grace_period"])

    # then Kubernetes and compose wait longer than dramatiq does, so running jobs finish
    # rather than being killed
    assert grace > 300
    assert grace > shutdown, f"{grace}s would kill workers before dramatiq's {shutdown}s"
    assert compose_grace > shutdown


def test_the_api_is_probed_on_healthz_for_liveness_and_readyz_for_readiness() -> None:
    # given the API Deployment and its Service
    deployment = files.k8s_object("Deployment", "rosterjobs-api")
    service = files.k8s_object("Service", "rosterjobs-api")
    container = _container(deployment)
    port = int(_pairs(container["args"])["--port"])
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}

    # when the probes are read
    live = container["livenessProbe"]["httpGet"]
    ready = container["readinessProbe"]["httpGet"]

    # then liveness is /healthz, readiness /readyz, all on the port the API listens on
    assert live["path"] == "/healthz"
    assert ready["path"] == "/readyz"
    for target in (live["port"], ready["port"], service["spec"]["ports"][0]["targetPort"]):
        assert ports.get(target, target) == port
    assert deployment["spec"]["replicas"] == 2
    assert container["resources"]["requests"] and container["resources"]["limits"]


def test_every_rosterjobs_container_has_a_read_only_root_and_a_writable_tmp() -> None:
    # given every rosterjobs container of the manifests
    containers = files.rosterjobs_containers()

    # when their security contexts and mounts are read
    # then none can escalate, the root filesystem is read-only, and /tmp is an emptyDir
    assert containers
    for path, workload, container in containers:
        name = f"{path.name} {workload['metadata']['name']}"
        context = container["securityContext"]
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["capabilities"]["drop"] == ["ALL"], name
        volumes = {v["name"]: v for v in files.pod_spec(workload).get("volumes", [])}
        tmp = [m for m in container.get("volumeMounts", []) if m["mountPath"] == "/tmp"]
        assert tmp and "emptyDir" in volumes[tmp[0]["name"]], f"{name}: no emptyDir on /tmp"


def test_the_migration_job_retries_a_few_times_and_the_event_consumer_runs_once() -> None:
    # given the migration Job and the S3 event consumer
    job = files.k8s_object("Job", "rosterjobs-migrate")
    consumer = files.k8s_object("Deployment", "rosterjobs-s3-events")

    # when their retry and replica counts are read
    # then a failing migration stops after a few tries, and one consumer polls the queue
    assert 1 <= job["spec"]["backoffLimit"] <= 6
    assert files.pod_spec(job)["restartPolicy"] in {"Never", "OnFailure"}
    assert consumer["spec"]["replicas"] == 1


def test_workers_scale_on_the_dramatiq_lists_of_their_queue_namespace() -> None:
    # given the queue namespace, the actors' queues and the broker's database
    namespace = files.k8s_object("ConfigMap", "rosterjobs")["data"]["ROSTERJOBS_QUEUE_NAMESPACE"]
    broker = files.k8s_object("Secret", "rosterjobs")["stringData"]["ROSTERJOBS_BROKER_URL"]
    database = urlsplit(broker).path.strip("/") or "0"

    # when the KEDA triggers are read
    scaled = files.k8s_object("ScaledObject", "rosterjobs-worker")
    triggers = [t for t in scaled["spec"]["triggers"] if t["type"] == "redis"]

    # then they watch exactly "<namespace>:<queue>" of every queue, in the broker's database,
    # for the worker Deployment, and never scale it to zero
    assert {t["metadata"]["listName"] for t in triggers} == {
        f"{namespace}:{queue}" for queue in files.actor_queues()
    }
    assert {t["metadata"].get("databaseIndex", "0") for t in triggers} == {database}
    assert scaled["spec"]["scaleTargetRef"]["name"] == "rosterjobs-worker"
    assert scaled["spec"]["minReplicaCount"] >= 1


# --- secrets ---------------------------------------------------------------------------------

SECRET_KEY_NAME = re.compile(r"password|secret|token|access_key|private", re.IGNORECASE)
SECRET_SHAPES = {
    "an AWS access key id": re.compile(r"\b(?:AKIA|ASIA)[0-9A-Z]{16}\b"),
    "a private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "a JWT": re.compile(r"\beyJ[\w-]{10,}\.eyJ[\w-]{10,}\.[\w-]+"),
}
URL_PASSWORD = re.compile(r"\b[a-z][a-z0-9+.-]*://[^/\s:@]*:([^@\s/]+)@")
LONG_TOKEN = re.compile(r"[A-Za-z0-9+/_=-]{32,}")


def _is_placeholder(value: str) -> bool:
    return files.PLACEHOLDER in value or value.startswith("${") or value.startswith("<")


def _secret_scalars(node: Any, path: str = "") -> list[tuple[str, str]]:
    """(path, value) of string values under keys that name a secret, anywhere in a document."""
    found: list[tuple[str, str]] = []
    if isinstance(node, dict):
        for key, value in node.items():
            where = f"{path}.{key}"
            if isinstance(value, str) and SECRET_KEY_NAME.search(str(key)):
                found.append((where, value))
            found += _secret_scalars(value, where)
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found += _secret_scalars(item, f"{path}[{index}]")
    return found


@pytest.mark.parametrize("path", files.deploy_files(), ids=lambda p: str(p.relative_to(files.ROOT)))
def test_no_deploy_file_holds_anything_that_looks_like_a_real_secret(path: Path) -> None:
    # given a committed file of deploy/
    text = path.read_text()

    # when it is searched for secret shapes, passwords in URLs and long random strings
    shapes = [name for name, pattern in SECRET_SHAPES.items() if pattern.search(text)]
    url_passwords = [p for p in URL_PASSWORD.findall(text) if not _is_placeholder(p)]
    random_looking = [
        token
        for token in LONG_TOKEN.findall(text)
        if re.search(r"[a-z]", token) and re.search(r"[A-Z]", token) and re.search(r"\d", token)
    ]

    # then there are only placeholders
    assert not shapes, f"{path} contains {shapes}"
    assert not url_passwords, f"{path} has a password in a URL: use {files.PLACEHOLDER}"
    assert not random_looking, f"{path} has random-looking strings: {random_looking}"


def test_secret_values_in_the_templates_are_placeholders() -> None:
    # given the env example, every YAML document and the Secret manifests
    env = files.env_file(files.ENV_EXAMPLE)
    documents = [(p.name, d) for p in files.yaml_files() for d in files.yaml_documents(p)]
    secrets = files.k8s_objects("Secret")

    # when the values that name or hold a secret are collected
    env_values = list(env.items())
    yaml_values = [
        (f"{name}{where}", v) for name, d in documents for where, v in _secret_scalars(d)
    ]
    secret_values = [
        (f"Secret {s['metadata']['name']}.{key}", str(value))
        for s in secrets
        for key, value in s.get("stringData", {}).items()
    ]

    # then every one is a placeholder (or an example host), and Secrets hide nothing in base64
    for where, value in env_values + yaml_values:
        assert _is_placeholder(value), f"{where} is not a placeholder: {value!r}"
    for where, value in secret_values:
        assert _is_placeholder(value) or "example" in value, f"{where}: {value!r}"
    assert secrets and all("data" not in s for s in secrets), "use stringData with placeholders"


def test_the_copies_holding_real_secrets_are_git_ignored() -> None:
    # given deploy/.gitignore
    ignored = (files.DEPLOY / ".gitignore").read_text().splitlines()

    # when the names the runbook tells operators to fill in are looked up
    # then git will not take them
    assert "rosterjobs.env" in ignored
    assert "k8s/secret.yaml" in ignored


# --- the runbook's undo SQL covers every column ----------------------------------------------


def _runbook_rows(marker: str, table: str) -> set[tuple[str, ...]]:
    block = files.runbook_block(marker)
    values = re.search(rf"INSERT INTO {table} VALUES(.*?);", block, re.DOTALL)
    assert values, f"the runbook's {marker} block has no INSERT INTO {table}"
    rows = re.findall(r"\(([^()]*)\)", values.group(1))
    return {tuple(re.findall(r"'([^']*)'", row)) for row in rows}


def _kind(entity: Entity, column: Column) -> str:
    if column.attr in SPECS[entity].keyed:
        return "keyed"
    if isinstance(column.codec, YesNoCodec):
        return "yesno"
    if isinstance(column.codec, StatusCodec):
        return "status"
    if isinstance(column.codec, DateCodec):
        return "date"
    if isinstance(column.codec, MinutesCodec):
        return "int"
    return "text"


def test_the_runbooks_undo_covers_every_column_an_import_can_change() -> None:
    # given every column of every entity (all products purchased) and the import's links
    expected_values: set[tuple[str, ...]] = set()
    expected_links: set[tuple[str, ...]] = set()
    other = {
        "school_id": ("schools", "name"),
        "class_id": ("classes", "name"),
        "educator_id": ("educators", "username"),
        "student_id": ("students", "username"),
    }
    for entity, spec in SPECS.items():
        spec_links = {link.attr: link for link in spec.links}
        for column in columns_for(entity, list(Product)):
            link = spec_links.get(column.attr)
            if column.attr in {"id", "password"} or (link and link.resolve is None):
                continue  # the record's id; passwords and products are restored by hand
            if link is None:
                row = (entity.value, column.header, column.attr, _kind(entity, column))
                expected_values.add(row)
            elif link.table is None:
                expected_values.add((entity.value, column.header, f"{link.attr}_id", "school"))
            else:
                table = str(link.table.__tablename__)
                expected_links.add(
                    (entity.value, column.header, table, link.owner_column, link.other_column)
                    + other[link.other_column]
                )

    # when the runbook's mapping tables are read
    values = _runbook_rows("sql: undo-values", "undo_columns")
    links = _runbook_rows("sql: undo-links", "undo_links")

    # then they are exactly the code's columns, link tables and cell forms
    assert values == expected_values, {
        "missing": sorted(expected_values - values),
        "unknown": sorted(values - expected_values),
    }
    assert links == expected_links, {
        "missing": sorted(expected_links - links),
        "unknown": sorted(links - expected_links),
    }


# --- one-shot options only in one-shot services ----------------------------------------------


def _one_shot_options() -> dict[str, set[str]]:
    """Options the CLI documents as "… then exit", by subcommand."""
    found: dict[str, set[str]] = {}
    for name, sub in _subcommands(build_parser()).items():
        for action in sub._actions:
            if isinstance(action, argparse._HelpAction) or not action.option_strings:
                continue
            if action.help and "exit" in action.help:
                found.setdefault(name, set()).update(action.option_strings)
    return found


def test_only_one_shot_services_run_options_that_exit() -> None:
    # given the options that make a command exit after one step (s3-events --setup, --once)
    one_shot = _one_shot_options()

    # when the commands of long-running services are compared with them
    exiting = [
        (str(command), sorted(set(command.argv) & one_shot.get(command.argv[0], set())))
        for command in files.all_commands()
        if command.long_running
    ]

    # then a service that is restarted or kept running never exits by design
    assert not [found for found in exiting if found[1]], exiting


def test_the_runtime_stage_has_the_fonts_a_pdf_roster_embeds_where_it_looks_for_them() -> None:
    # given the Dockerfile's stages and where the PDF roster looks for its fonts
    stages = {stage.name: stage for stage in files.dockerfile_stages()}
    copied = [c.split() for c in stages["runtime"].all("COPY") if c.startswith("--from=fonts")]

    # then the fonts stage installs the Debian packages that hold them, and the runtime
    # stage copies their folders (and nothing else of that stage) to those same places
    installs = " ".join(stages["fonts"].all("RUN"))
    assert all(package in installs for package in set(FONT_PACKAGES.values()))
    assert copied and all(source == target for _, source, target in copied)
    folders = {Path(target) for _, _, target in copied}
    assert folders <= set(FONT_DIRS)
    assert {Path(f"/usr/share/fonts/truetype/{d}") for d in ("dejavu", "droid")} <= folders
