"""Static checks of the docker-compose deployment (no Docker engine runs here)."""

import re
import tomllib

import yaml

from tests.conftest import REPO

COMPOSE = yaml.safe_load((REPO / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
APP_SERVICES = [n for n, s in SERVICES.items() if s.get("image") == "molvis:latest"]


def settings_variables() -> set[str]:
    source = (REPO / "registry" / "db" / "settings.py").read_text()
    return set(re.findall(r'environ\.get\("(MOLVIS_[A-Z_]+)"', source))


def test_services_and_images():
    assert SERVICES["db"]["image"].startswith("pgvector/pgvector:")
    assert {"migrate", "dagster-webserver", "dagster-daemon", "ui"} <= set(APP_SERVICES)
    assert "molvis db upgrade" in SERVICES["migrate"]["command"]
    assert SERVICES["ui"]["command"].startswith("molvis ui")
    for name in ("dagster-webserver", "dagster-daemon", "ui"):
        assert SERVICES[name]["depends_on"]["migrate"]["condition"] == (
            "service_completed_successfully"
        )


def test_environment_matches_the_settings_module():
    read_by_code = settings_variables()
    assert {"MOLVIS_DATABASE_URL", "MOLVIS_HOME", "MOLVIS_READER_URL"} <= read_by_code
    for name in APP_SERVICES:
        env = SERVICES[name]["environment"]
        assert {"MOLVIS_DATABASE_URL", "MOLVIS_HOME"} <= set(env)
        assert {k for k in env if k.startswith("MOLVIS_")} <= read_by_code
        assert env["MOLVIS_DATABASE_URL"].endswith(
            "@db:5432/" + SERVICES["db"]["environment"]["POSTGRES_DB"]
        )
    instance = yaml.safe_load((REPO / "assets" / "deploy" / "dagster.yaml").read_text())
    url_var = instance["storage"]["postgres"]["postgres_url"]["env"]
    assert all(url_var in SERVICES[n]["environment"] for n in APP_SERVICES)
    reader = SERVICES["ui"]["environment"]["MOLVIS_READER_URL"]
    assert reader.startswith("postgresql://molvis_reader:")
    password = reader.split(":")[2].split("@")[0]
    assert f"reader-password {password}" in SERVICES["migrate"]["command"]


def test_volumes_are_declared_and_gpu_is_reserved():
    declared = set(COMPOSE["volumes"])
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            assert volume.split(":")[0] in declared
    devices = SERVICES["dagster-daemon-gpu"]["deploy"]["resources"]["reservations"]["devices"]
    assert devices[0]["driver"] == "nvidia" and "gpu" in devices[0]["capabilities"]


def test_dockerfile_ships_every_package():
    dockerfile = (REPO / "Dockerfile").read_text()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())
    packages = [p.rstrip("*") for p in project["tool"]["setuptools"]["packages"]["find"]["include"]]
    assert {"molvis", "registry", "migrations", "models", "assets", "ui"} <= set(packages)
    for package in packages:
        assert f"COPY {package} {package}" in dockerfile
    workspace = yaml.safe_load((REPO / "assets" / "deploy" / "workspace.yaml").read_text())
    assert workspace["load_from"] == [{"python_module": "assets.definitions"}]
