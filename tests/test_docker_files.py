"""What the Docker image and compose.yaml promise, checked without Docker (the image itself is
tried by scripts/docker-smoke.sh): the version label follows pyproject.toml, the image runs as a
number and declares no volume, what it deletes is never imported, and every variable
compose.yaml reads is explained in .env.example."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).parent.parent
DOCKERFILE = (ROOT / "Dockerfile").read_text()
COMPOSE_TEXT = (ROOT / "compose.yaml").read_text()
COMPOSE = yaml.safe_load(COMPOSE_TEXT)


def instructions(name: str) -> list[str]:
    return re.findall(rf"^{name}\s+(.*)$", DOCKERFILE, flags=re.MULTILINE)


def test_the_version_label_defaults_to_pyprojects_version() -> None:
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert f"VERSION={version}" in instructions("ARG")


def test_the_image_runs_as_a_numeric_user_and_declares_no_volume() -> None:
    assert instructions("USER") == ["10001:10001"]
    assert instructions("VOLUME") == []


def test_the_healthcheck_reads_the_port_from_the_environment_and_checks_readiness() -> None:
    healthcheck = DOCKERFILE.split("\nHEALTHCHECK", 1)[1].split("\nENTRYPOINT", 1)[0]
    assert "--start-period=" in healthcheck
    # events.health: the receiver's /readyz on INFOBIP_EVENTS_PORT, the workers' heartbeat.
    assert 'CMD ["python", "-m", "events.health"]' in healthcheck
    assert "8080" not in healthcheck and "127.0.0.1" not in healthcheck


def test_the_runtime_stage_keeps_no_package_manager() -> None:
    runtime = DOCKERFILE.rsplit("FROM ${PYTHON_IMAGE}", 1)[1]
    assert "for n in ('pip', 'setuptools', 'wheel')" in runtime
    assert "rm -f /usr/bin/pip /usr/bin/pip3* /usr/local/bin/pip" in runtime
    assert "venv --without-pip /venv" in DOCKERFILE


def test_the_image_installs_the_locked_requirements_with_their_hashes() -> None:
    assert "--require-hashes --no-deps -r requirements/runtime.txt" in " ".join(
        DOCKERFILE.replace("\\\n", " ").split()
    )


def test_the_service_never_imports_the_phonenumbers_data_the_image_leaves_out() -> None:
    """The image deletes phonenumbers/geodata, which only phonenumbers.geocoder reads."""
    found = []
    for path in [*(ROOT / "events").rglob("*.py"), *(ROOT / "storage").rglob("*.py")]:
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
            found += [f"{path.name}: {n}" for n in names if n.startswith("phonenumbers.geo")]
    assert found == []


def test_compose_migrates_before_the_receiver_and_the_worker_start() -> None:
    services = COMPOSE["services"]
    assert services["migrate"]["command"] == ["db", "upgrade"]
    for name in ("receiver", "worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )
        assert "events.health" in services[name]["healthcheck"]["test"]
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "postgres-data" in COMPOSE["volumes"]


def test_every_variable_compose_reads_is_explained_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    listed = set(re.findall(r"^#?([A-Z][A-Z0-9_]*)=", example, flags=re.MULTILINE))
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE_TEXT))
    assert used - listed == set()
