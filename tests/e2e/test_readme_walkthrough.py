"""What the README and docs/http-api.md show, run as written: the curl walkthrough, and the
counts `make demo` prints on a first run and on a rerun.

`tests/e2e/readme_walkthrough.sh` takes the walkthrough's ```bash blocks out of the doc and
runs them in one `bash -euo pipefail`, as a reader pasting them would: the checkout's .venv,
a fresh folder from `mktemp -d` (here under this test's tmp dir, through TMPDIR), the
embedded defaults (no ROSTERJOBS_* variable), a free port. The doc is the only copy of the
commands, so these tests fail when the doc stops working.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import subprocess
import threading
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import pytest

from tests.processes import embedded_env, free_port, run_cli

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOC = ROOT / "docs" / "http-api.md"
RUNNER = Path(__file__).with_name("readme_walkthrough.sh")
TIMEOUT_S = 180


@pytest.fixture(autouse=True)
def walkthrough_tools() -> None:
    """The walkthrough names curl and jq as requirements; a machine without them cannot run
    it, and that is a failure to fix (scripts/services.sh installs jq), never a skip."""
    for tool in ("curl", "jq"):
        if shutil.which(tool) is None:
            pytest.fail(
                f"`{tool}` is not installed, and docs/http-api.md's walkthrough needs it: "
                "run `bash scripts/services.sh` (make test does) or `apt-get install "
                f"{tool}`."
            )


def run_walkthrough(tmp_path: Path, port: int) -> subprocess.CompletedProcess[str]:
    """The runner in a process group of its own (the API it starts in the background is in
    it too), killed whole if it outlives the timeout or leaves the API behind."""
    env = embedded_env() | {"TMPDIR": str(tmp_path), "PORT": str(port)}
    process = subprocess.Popen(
        ["bash", str(RUNNER)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        _kill_group(process.pid)
        stdout, stderr = process.communicate()
        pytest.fail(f"the walkthrough ran over {TIMEOUT_S} s:\n{stdout}\n{stderr}")
    finally:
        _kill_group(process.pid)
    return subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)


def _kill_group(pgid: int) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def shown_status_lines() -> list[str]:
    """The `{"status": …}` lines of the doc's "What it prints" block."""
    after = DOC.read_text(encoding="utf-8").split("<!-- walkthrough:end -->", 1)[1]
    shown = re.search(r"```\n(.*?)```", after, re.DOTALL)
    assert shown, "docs/http-api.md shows no output after its walkthrough"
    return [line for line in shown.group(1).splitlines() if line.startswith('{"status"')]


def test_the_http_walkthrough_runs_as_written_and_prints_what_the_doc_shows(
    tmp_path: Path,
) -> None:
    # given the doc's walkthrough, on the embedded defaults and a free port
    # when it runs as written
    done = run_walkthrough(tmp_path, free_port())

    # then every command succeeded
    assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
    # and it printed the health check, the export and the import as the doc shows them
    printed = [line for line in done.stdout.splitlines() if line.startswith('{"status"')]
    assert printed == shown_status_lines()
    # and the downloaded errors file holds the spoiled row with its reason
    (errors_file,) = tmp_path.glob("*/errors.csv")
    errors = errors_file.read_text(encoding="utf-8-sig")
    assert "Grade: '13' is not a grade" in errors
    assert len(errors.splitlines()) == 2


@contextmanager
def refusing_server(port: int) -> Iterator[None]:
    """Something on the walkthrough's port that is up (`/healthz` answers) but refuses every
    request (422), as the API refuses a request it cannot take."""

    class Refusing(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self._answer(200 if self.path == "/healthz" else 422)

        def do_POST(self) -> None:
            self._answer(422)

        def _answer(self, status: int) -> None:
            body = b'{"status": "ok"}' if status == 200 else b'{"detail": "refused"}'
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Refusing)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        server.server_close()


def test_a_refused_request_stops_the_walkthrough_instead_of_polling_a_missing_job(
    tmp_path: Path,
) -> None:
    # given a port where every request but the health check is refused
    port = free_port()
    with refusing_server(port):
        # when the walkthrough runs against it
        done = run_walkthrough(tmp_path, port)

    # then it stops at the refused export with curl's message, and never polls
    assert done.returncode != 0, done.stdout
    assert "error: 422" in done.stderr
    assert not list(tmp_path.glob("*/job.json"))


def test_the_demo_prints_the_readmes_counts_on_a_first_run_and_on_a_rerun(
    tmp_path: Path,
) -> None:
    # given the import line the README shows, and a fresh folder on the embedded defaults
    (shown,) = re.findall(r"^import completed.*$", README.read_text(encoding="utf-8"), re.M)

    # when the demo runs there twice
    runs = [run_cli(embedded_env(), "demo", "--students", "600", cwd=tmp_path) for _ in "12"]

    # then each run changed three rows and refused two, as the README says
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert shown in run.stdout.splitlines()
    # and the rerun said what it changed: the edits of the first run, changed again
    assert "row 3: First Name 'Zoë' → 'Zoé'" in runs[1].stdout
