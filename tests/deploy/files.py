"""Reading `deploy/` for the tests: its files, YAML documents, Dockerfile stages, the
`rosterjobs` commands they run and the settings they set.

No container engine runs here, so the deploy files are checked as text against the code.
"""

from __future__ import annotations

import fnmatch
import inspect
import re
import shlex
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from worker.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
DOCKERIGNORE = DEPLOY / "Dockerfile.dockerignore"
ENV_EXAMPLE = DEPLOY / "rosterjobs.env.example"
RUNBOOK = DEPLOY / "RUNBOOK.md"

PLACEHOLDER = "change-me"


def _ignored_patterns() -> list[str]:
    path = DEPLOY / ".gitignore"
    if not path.exists():
        return []
    lines = (line.strip() for line in path.read_text().splitlines())
    return [line for line in lines if line and not line.startswith("#")]


def deploy_files() -> list[Path]:
    """Every file of deploy/ that is meant to be committed: the git-ignored copies that hold
    real secrets (deploy/rosterjobs.env, deploy/k8s/secret.yaml) are left out."""
    ignored = _ignored_patterns()
    return sorted(
        path
        for path in DEPLOY.rglob("*")
        if path.is_file()
        and not any(fnmatch.fnmatch(str(path.relative_to(DEPLOY)), p) for p in ignored)
    )


def yaml_files() -> list[Path]:
    return [path for path in deploy_files() if path.suffix in {".yaml", ".yml"}]


def yaml_documents(path: Path) -> list[Any]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(loaded, dict)
    return loaded


def k8s_documents() -> list[tuple[Path, dict[str, Any]]]:
    k8s_yaml = (path for path in yaml_files() if path.parent == K8S)
    return [(path, doc) for path in k8s_yaml for doc in yaml_documents(path)]


def k8s_objects(kind: str) -> list[dict[str, Any]]:
    return [doc for _, doc in k8s_documents() if doc.get("kind") == kind]


def k8s_object(kind: str, name: str) -> dict[str, Any]:
    found = [doc for doc in k8s_objects(kind) if doc["metadata"]["name"] == name]
    assert len(found) == 1, f"expected one {kind} named {name} in deploy/k8s, found {len(found)}"
    return found[0]


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def env_file(path: Path) -> dict[str, str]:
    """KEY=value lines of an env file; comments and blank lines skipped."""
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            name, _, value = stripped.partition("=")
            values[name.strip()] = value.strip()
    return values


# --- the Dockerfile ------------------------------------------------------------------------


@dataclass
class Stage:
    name: str
    image: str
    instructions: list[tuple[str, str]] = field(default_factory=list)

    def all(self, keyword: str) -> list[str]:
        return [args for kw, args in self.instructions if kw == keyword]


def _logical_lines(text: str) -> Iterator[str]:
    """Dockerfile lines with `\\` continuations joined and comments dropped."""
    pending = ""
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        yield pending + line
        pending = ""
    if pending:
        yield pending


def dockerfile_stages() -> list[Stage]:
    """The stages in order, each FROM resolved against the global ARG defaults."""
    args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in _logical_lines(DOCKERFILE.read_text()):
        keyword, _, rest = line.partition(" ")
        keyword, rest = keyword.upper(), rest.strip()
        if keyword == "ARG" and not stages:
            name, _, default = rest.partition("=")
            args[name] = default
        elif keyword == "FROM":
            words = rest.split()
            image = re.sub(r"\$\{?(\w+)\}?", lambda m: args.get(m.group(1), m.group(0)), words[0])
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name, image))
        elif stages:
            stages[-1].instructions.append((keyword, rest))
    return stages


def exec_form(args: str) -> list[str]:
    """A JSON-array (exec form) instruction argument, as a list; fails on shell form."""
    parsed = yaml.safe_load(args)
    assert isinstance(parsed, list), f"expected the exec (JSON array) form, got {args!r}"
    return [str(item) for item in parsed]


# --- commands -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Command:
    """A `rosterjobs …` command line that a deploy file runs, and where."""

    where: str
    argv: tuple[str, ...]
    long_running: bool = True  # restarted when it exits (a Deployment, a restarting service)

    @property
    def role(self) -> str:
        """The subcommand, with its action for the two-level ones (`db upgrade`)."""
        if self.argv[:1] in (("db",), ("jobs",)):
            return " ".join(self.argv[:2])
        return self.argv[0] if self.argv else ""

    def __str__(self) -> str:
        return f"{self.where}: rosterjobs {shlex.join(self.argv)}"


def rosterjobs_image() -> str:
    """The image tag compose builds from deploy/Dockerfile."""
    images = {
        str(service["image"])
        for service in compose()["services"].values()
        if isinstance(service, dict) and "build" in service
    }
    assert len(images) == 1, f"compose should build one rosterjobs image, found {images}"
    return images.pop()


def _runs_entry_point(entrypoint: Any) -> bool:
    """Whether a container keeps (or explicitly names) the image's `rosterjobs` entry point."""
    if entrypoint is None:
        return True
    words = shlex.split(entrypoint) if isinstance(entrypoint, str) else list(entrypoint)
    return words == ["rosterjobs"]


def compose_commands() -> list[Command]:
    image = rosterjobs_image()
    commands = []
    for name, service in compose()["services"].items():
        if service.get("image") != image or not _runs_entry_point(service.get("entrypoint")):
            continue
        command = service.get("command") or exec_form(dockerfile_cmd())
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in command]
        restarted = str(service.get("restart", "no")) != "no"
        commands.append(Command(f"compose service {name}", tuple(argv), restarted))
    return commands


def _is_rosterjobs_image(image: str) -> bool:
    return image.rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0] == "rosterjobs"


def k8s_containers() -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    """(file, workload, container) for every container of every workload in deploy/k8s."""
    found = []
    for path, doc in k8s_documents():
        if doc.get("kind") in {"Deployment", "Job", "StatefulSet", "DaemonSet"}:
            spec = pod_spec(doc)
            for container in spec.get("initContainers", []) + spec["containers"]:
                found.append((path, doc, container))
    return found


def rosterjobs_containers() -> list[tuple[Path, dict[str, Any], dict[str, Any]]]:
    return [c for c in k8s_containers() if _is_rosterjobs_image(c[2]["image"])]


def k8s_commands() -> list[Command]:
    commands = []
    for path, workload, container in rosterjobs_containers():
        command = container.get("command")
        if command is not None and list(command) != ["rosterjobs"]:
            continue
        argv = container.get("args") or exec_form(dockerfile_cmd())
        where = f"{path.relative_to(ROOT)} {workload['metadata']['name']}/{container['name']}"
        restarted = workload["kind"] != "Job"
        commands.append(Command(where, tuple(str(a) for a in argv), restarted))
    return commands


def dockerfile_cmd() -> str:
    cmds = dockerfile_stages()[-1].all("CMD")
    assert cmds, "the runtime stage of deploy/Dockerfile has no CMD"
    return cmds[-1]


def dockerfile_commands() -> list[Command]:
    return [Command("deploy/Dockerfile CMD", tuple(exec_form(dockerfile_cmd())))]


def all_commands() -> list[Command]:
    return dockerfile_commands() + compose_commands() + k8s_commands()


# --- settings and queues -------------------------------------------------------------------

SETTING_NAME = re.compile(r"ROSTERJOBS_[A-Z0-9_]+")


def settings_read() -> set[str]:
    """Every ROSTERJOBS_* name `Settings.from_env` reads."""
    return set(SETTING_NAME.findall(inspect.getsource(Settings.from_env)))


def actor_queues() -> set[str]:
    """The queues the actors are declared on: `jobs.messages.ROUTES`, the one place they are
    stated (importing it declares no actor)."""
    from jobs.messages import ROUTES

    return {route.queue for route in ROUTES.values()}


def runbook_block(marker: str) -> str:
    """The fenced block that follows `<!-- marker -->` in the runbook."""
    text = RUNBOOK.read_text()
    match = re.search(rf"<!-- {re.escape(marker)} -->\s*```\w*\n(.*?)\n\s*```", text, re.DOTALL)
    assert match, f"deploy/RUNBOOK.md has no block marked <!-- {marker} -->"
    return match.group(1)
