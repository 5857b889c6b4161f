"""The deployment files (deploy/Dockerfile, deploy/compose.yaml) are checked by what
can run without a Docker engine: every command compose gives a prodml container parses
with the real CLI, and runs for real here with the service's own settings (PostgreSQL,
an S3 API, the key limited by deploy/s3-policy.json), until its healthcheck passes;
every PRODML_ variable they and docs/deploy.md name is a setting; no secret is in the
image or the files; and the image runs ``prodml``."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
import typer
import yaml
from sklearn.linear_model import LogisticRegression

import prodml
from prodml.cli.main import build_app
from prodml.client import Client
from prodml.deploy import heartbeats
from prodml.domain.hosts import CONTROLLER, MONITOR
from prodml.predictions import segments
from prodml.settings import TABLE, refuse_credentials
from s3_server import AWS_OVERRIDES, S3Server, _post, free_port, start_s3_server
from serve.running_gateways import gateway_process

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
DOCKERFILE = (DEPLOY / "Dockerfile").read_text()
# Each instruction of the Dockerfile (continued lines joined): (word, the rest).
INSTRUCTIONS = [
    (line.split(None, 1)[0], line.split(None, 1)[1])
    for line in DOCKERFILE.replace("\\\n", " ").splitlines()
    if line.strip() and not line.startswith("#")
]
COMPOSE: dict[str, Any] = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
# The services that run the image built from deploy/Dockerfile: every prodml process.
PRODML = {
    name: service
    for name, service in SERVICES.items()
    if service.get("build", {}).get("dockerfile") == "deploy/Dockerfile"
}
SETTINGS = {setting.env for setting in TABLE}
# PRODML_ variables read by one process, not settings of the store: where each is read.
PROCESS_VARIABLES = {
    "PRODML_HOST": ROOT / "src/prodml/settings.py",
    "PRODML_DEBUG": ROOT / "src/prodml/cli/main.py",
    "PRODML_TEST_POSTGRES_URL": ROOT / "tests/conftest.py",
}
# Variables whose value must never be written into a file, only passed from outside.
SECRETS = ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "PGPASSWORD", "POSTGRES_PASSWORD",
           "MINIO_ROOT_USER", "MINIO_ROOT_PASSWORD", "S3_ACCESS_KEY", "S3_SECRET_KEY")  # fmt: skip
INTERPOLATED = re.compile(r"^\$\{[A-Z0-9_]+:\?[^}]+\}$")  # ${NAME:?message}: required
STARTUP_SECONDS = 90.0


def _parsed(args: list[str]) -> tuple[tuple[str, ...], dict[str, Any]]:
    """The command words and parameters the real ``prodml`` makes of ``args``, as it
    would run them, without running anything: an unknown word, option or value raises."""
    command: Any = typer.main.get_command(build_app())
    context = typer.Context(command, info_name="prodml")
    words: list[str] = []
    rest = list(args)
    while hasattr(command, "get_command"):
        words.append(rest.pop(0))
        found = command.get_command(context, words[-1])
        assert found is not None, f"prodml has no command {' '.join(words)!r}"
        command = found
        if hasattr(command, "get_command"):
            context = typer.Context(command, info_name=words[-1], parent=context)
    return tuple(words), dict(command.make_context(words[-1], rest, parent=context).params)


def _strings(node: Any) -> Iterator[str]:
    """Every key and text value in a parsed YAML document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield str(key)
            yield from _strings(value)
    elif isinstance(node, list):
        for item in node:
            yield from _strings(item)
    elif node is not None:
        yield str(node)


def _role(service: dict[str, Any]) -> tuple[str, ...]:
    return _parsed(service["command"])[0]


def test_every_prodml_service_runs_a_command_the_cli_accepts() -> None:
    roles = {name: _parsed(service["command"]) for name, service in PRODML.items()}

    gateways = [params for words, params in roles.values() if words == ("serve",)]
    assert len(gateways) >= 2 and all(
        params["host"] == "0.0.0.0" and params["port"] == 8000 for params in gateways
    )
    assert [params for words, params in roles.values() if words == ("monitor", "serve")]
    (dashboard,) = [params for words, params in roles.values() if words == ("ui",)]
    assert dashboard["host"] == "0.0.0.0" and dashboard["port"] == 8080
    assert {words for words, _ in roles.values()} == {("serve",), ("monitor", "serve"), ("ui",)}


def test_a_misspelt_option_would_be_caught() -> None:
    with pytest.raises(Exception, match="No such option: --hots"):
        _parsed(["serve", "churn", "--hots", "0.0.0.0"])


def test_every_prodml_variable_named_is_a_setting_or_read_where_said(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    texts = [
        *_strings(COMPOSE),
        DOCKERFILE,
        (DEPLOY / "example.env").read_text(),
        (ROOT / "docs" / "deploy.md").read_text(),
    ]
    named = {found for text in texts for found in re.findall(r"PRODML_[A-Z0-9_]*[A-Z0-9]", text)}

    unknown = named - SETTINGS - set(PROCESS_VARIABLES)
    assert not unknown, f"not settings: {sorted(unknown)}"
    for variable in named & set(PROCESS_VARIABLES):
        assert f'"{variable}"' in PROCESS_VARIABLES[variable].read_text(), variable
    monkeypatch.setenv("PRODML_HOST", "gateway-7")
    assert heartbeats.process_id().startswith("gateway-7/")
    assert segments.writer().startswith("gateway_7.")


def test_each_gateway_has_a_host_name_of_its_own() -> None:
    gateways = [s for s in PRODML.values() if _role(s) == ("serve",)]
    names = [s["environment"]["PRODML_HOST"] for s in gateways]
    assert len(set(names)) == len(names) == len(gateways)
    assert all(s["environment"]["PRODML_HOST"] for s in PRODML.values())


def test_no_secret_is_in_the_image_or_written_in_the_files() -> None:
    built_in = " ".join(rest for word, rest in INSTRUCTIONS if word in ("ENV", "ARG", "LABEL"))
    assert "PRODML_HOME=" in built_in
    for word in ("AWS_", "SECRET", "PASSWORD", "TOKEN", "KEY", "PGPASS"):
        assert word not in built_in.upper(), word
    assert "AWS_SECRET" not in DOCKERFILE and "PGPASSWORD" not in DOCKERFILE
    ignored = (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
    patterns = [line for line in ignored if line and not line.startswith("#")]
    assert patterns[0] == "**", "the build context must start from nothing"
    assert {p for p in patterns if p.startswith("!")} == {"!pyproject.toml", "!README.md", "!src/"}

    for service in SERVICES.values():
        for name, value in (service.get("environment") or {}).items():
            if name in SECRETS:
                assert INTERPOLATED.match(str(value)), f"{name} is written in compose.yaml"
    for text in _strings(COMPOSE):
        assert not re.search(r"://[^/@\s]+:[^/@\s]+@", text), f"credentials in a URL: {text}"
    for service in PRODML.values():
        for name in ("PRODML_ARTIFACT_URL", "PRODML_LOG_URL"):  # those prodml checks
            url = service["environment"].get(name)
            assert url is None or refuse_credentials(name, url) == url
    example = dict(
        line.split("=", 1)
        for line in (DEPLOY / "example.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert all(not example[name] for name in example if "PASSWORD" in name or "SECRET" in name)
    assert (DEPLOY / ".gitignore").read_text().split() == [".env"]


def test_the_image_is_python_311_slim_and_runs_prodml() -> None:
    instructions = dict(INSTRUCTIONS)  # the last of each word, as Docker takes it
    assert instructions["FROM"] == "python:3.11-slim"
    assert json.loads(instructions["ENTRYPOINT"]) == ["prodml"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert project["scripts"]["prodml"] == "prodml.cli.main:run"
    (extras,) = re.findall(r"^ARG EXTRAS=(\S+)$", DOCKERFILE, re.MULTILINE)
    assert {"s3", "postgres"} <= set(extras.split(","))
    assert set(extras.split(",")) <= set(project["optional-dependencies"])
    assert 'pip install ".[${EXTRAS}]"' in DOCKERFILE


def test_every_long_running_service_is_checked_and_waits_for_the_stores() -> None:
    for name, service in SERVICES.items():
        if name != "buckets":
            assert service["healthcheck"]["test"][0] == "CMD", name
            assert service.get("restart") == "unless-stopped", name
    for name, service in PRODML.items():
        assert service["depends_on"] == {
            "postgres": {"condition": "service_healthy"},
            "buckets": {"condition": "service_completed_successfully"},
        }, name
    assert SERVICES["buckets"]["depends_on"] == {"minio": {"condition": "service_healthy"}}
    artifacts = {s["environment"]["PRODML_ARTIFACT_URL"] for s in PRODML.values()}
    (bucket,) = {url.removeprefix("s3://").split("/")[0] for url in artifacts}
    script = SERVICES["buckets"]["command"][0]
    assert f"mc mb --ignore-existing store/{bucket}" in script
    assert f"mc version enable store/{bucket}" in script
    policy = json.loads((DEPLOY / "s3-policy.json").read_text())
    resources = {r for statement in policy["Statement"] for r in statement["Resource"]}
    assert resources == {f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"}


# --- the compose services, run for real -------------------------------------------------


@pytest.fixture
def object_store() -> Iterator[tuple[S3Server, dict[str, str]]]:
    """An S3 API holding compose's bucket, and the AWS variables of a key that may do
    only what deploy/s3-policy.json allows (what the buckets service makes on MinIO)."""
    server = start_s3_server(auth=False)  # any key works until authentication is on
    try:
        iam = server.client("iam")
        iam.create_user(UserName="prodml")
        iam.put_user_policy(
            UserName="prodml",
            PolicyName="prodml",
            PolicyDocument=(DEPLOY / "s3-policy.json").read_text(),
        )
        key = iam.create_access_key(UserName="prodml")["AccessKey"]
        server.client().create_bucket(Bucket="prodml")
        server.client().create_bucket(Bucket="elsewhere")  # which the key may not touch
        _post(server.endpoint, "/moto-api/reset-auth", b"0")
        yield (
            server,
            server.env(
                AWS_ACCESS_KEY_ID=key["AccessKeyId"], AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"]
            ),
        )
    finally:
        server.stop()


def _refused_elsewhere(server: S3Server, aws: dict[str, str]) -> bool:
    """Whether the key is refused outside its bucket: the policy is in force."""
    import botocore.exceptions
    import botocore.session

    s3 = botocore.session.Session().create_client(
        "s3", region_name=server.region, endpoint_url=server.endpoint,
        aws_access_key_id=aws["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=aws["AWS_SECRET_ACCESS_KEY"],
    )  # fmt: skip
    try:
        s3.list_objects_v2(Bucket="elsewhere")
    except botocore.exceptions.ClientError as error:
        return bool(error.response["Error"]["Code"] == "AccessDenied")
    return False


def _settings(service: dict[str, Any], postgres_url: str, aws: dict[str, str]) -> dict[str, str]:
    """The service's environment with the stores of this machine in place of compose's
    (the database's URL and the object store's endpoint and key); the rest unchanged."""
    found = {name: str(value) for name, value in service["environment"].items()}
    found.pop("PGPASSWORD")  # the test database trusts local connections
    return {**found, **aws, "PRODML_METADATA_URL": postgres_url}


def _here(command: list[str], port: int) -> list[str]:
    """Compose's command listening on loopback and a free port instead."""
    swapped = {"0.0.0.0": "127.0.0.1", "8000": str(port), "8080": str(port)}
    return [swapped.get(word, word) for word in command]


@contextlib.contextmanager
def _process(home: Path, command: list[str], env: dict[str, str]) -> Iterator[None]:
    """``prodml COMMAND`` in a session of its own, killed with its children at the end."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "AWS_"))}
    home.mkdir(parents=True)
    log = home / "process.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [sys.executable, "-m", "prodml.cli.main", *command],
            env={**clean, "PRODML_HOME": str(home), **env},
            cwd=home,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        yield
        assert process.poll() is None, log.read_text(errors="replace")
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(30)


def _until(check: Callable[[], Any], what: str, seconds: float = STARTUP_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            pytest.fail(f"not within {seconds:.0f} s: {what}")
        time.sleep(0.2)


def _answers(url: str) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(url, timeout=2).status_code == 200
    return False


def _healthy(
    service: dict[str, Any], env: dict[str, str], port: int
) -> subprocess.CompletedProcess[str]:
    """The service's healthcheck run here, with this machine's python and port."""
    kind, program, *args = service["healthcheck"]["test"]
    assert kind == "CMD" and program == "python"
    code = [arg.replace(":8000/", f":{port}/").replace(":8080/", f":{port}/") for arg in args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("PRODML_", "AWS_"))}
    return subprocess.run(
        [sys.executable, *code], env={**clean, **env}, capture_output=True, text=True, timeout=60
    )  # fmt: skip


def _model(client: Client, name: str) -> None:
    """``name`` v1, a champion with an input signature, for the gateways to serve."""
    generator = np.random.default_rng(5)
    frame = pd.DataFrame({"a": generator.normal(size=200), "b": generator.normal(size=200)})
    fitted = LogisticRegression().fit(frame, (frame["a"] > 0).astype(int))
    with prodml.start_run("fit", client=client) as run:
        version = run.log_model(fitted, name, frame.head(5))
    client.metadata.move_alias(name, "champion", 1, version.id, "first")


def test_the_compose_services_run_here_and_pass_their_healthchecks(
    tmp_path: Path,
    postgres_url: str,
    object_store: tuple[S3Server, dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    server, aws = object_store
    for name in AWS_OVERRIDES:
        monkeypatch.delenv(name, raising=False)
    for name, value in aws.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)  # the run is started outside any git checkout
    gateways = [name for name, service in PRODML.items() if _role(service) == ("serve",)]
    others = [name for name in PRODML if name not in gateways]
    env = {name: _settings(PRODML[name], postgres_url, aws) for name in PRODML}
    (artifacts,) = {settings["PRODML_ARTIFACT_URL"] for settings in env.values()}
    client = Client(home=str(tmp_path / "trainer"), metadata_url=postgres_url,
                    artifact_url=artifacts, user="trainer", flush_interval=0.05)  # fmt: skip
    (model,) = {_parsed(PRODML[name]["command"])[1]["names"][0] for name in gateways}
    _model(client, model)
    ports = {name: free_port() for name in others}
    with contextlib.ExitStack() as stack:
        urls = {}
        for name in gateways:
            (tmp_path / name).mkdir()
            command = _here(PRODML[name]["command"], 0)
            args = command[1 : command.index("--port")] + command[command.index("--port") + 2 :]
            settings = dict(env[name])
            assert settings.pop("PRODML_USER") == "gateway"  # the one gateway_process sets
            url, _ = stack.enter_context(
                gateway_process(tmp_path / name / "home", *args, settings=settings, log_name=name)
            )
            urls[name] = url
        for name in others:
            stack.enter_context(
                _process(tmp_path / name, _here(PRODML[name]["command"], ports[name]), env[name])
            )
        (dashboard,) = [n for n in others if _role(PRODML[n]) == ("ui",)]
        (worker,) = [n for n in others if _role(PRODML[n]) == ("monitor", "serve")]
        _until(lambda: _answers(f"http://127.0.0.1:{ports[dashboard]}/login"), "the dashboard")
        every = {env[name]["PRODML_HOST"] for name in (*gateways, worker)}
        _until(lambda: every <= {h.host for h in prodml.hosts(60, client=client)}, "heartbeats")
        _until(lambda: client.metadata.lease(CONTROLLER) is not None, "the controller's lease")
        _until(lambda: client.metadata.lease(MONITOR) is not None, "the worker's lease")

        checks = {
            name: _healthy(
                PRODML[name], env[name], ports.get(name) or int(urls[name].rsplit(":", 1)[1])
            )
            for name in PRODML
        }
        sent = 0
        for url in urls.values():
            with httpx.Client(base_url=url, timeout=10) as http:
                for i in range(20):
                    body = {"a": i / 10 - 1, "b": 0.5}
                    assert http.post(f"/v1/models/{model}/predict", json=body).status_code == 200
                    sent += 1
        count = "SELECT count(*) AS n FROM predictions"
        _until(
            lambda: prodml.query_predictions(count, client=client).to_pylist() == [{"n": sent}],
            "the logged predictions on S3",
            seconds=20,
        )
        health = httpx.get(f"{next(iter(urls.values()))}/healthz", timeout=5).json()
    client.close()

    assert _refused_elsewhere(server, aws)
    failed = {name: done.stderr[-2000:] for name, done in checks.items() if done.returncode}
    assert not failed, failed
    assert health["status"] == "ok", health
    assert {h["host"] for h in health["hosts"]} >= every
    assert sum(CONTROLLER in h["leases"] for h in health["hosts"]) == 1
    assert health["log"]["dropped"] == 0 and health["log"]["failures"] == 0
