"""Static checks of the docker-compose deployment (no Docker engine runs here; the Dagster part
runs as processes in tests/assets/test_deployment.py)."""

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
    read_by_code = settings_variables() | {"MOLVIS_READER_PASSWORD"}  # migrate's command reads it
    assert {"MOLVIS_DATABASE_URL", "MOLVIS_HOME", "MOLVIS_READER_URL"} <= read_by_code
    molvis_db = "@db:5432/" + SERVICES["db"]["environment"]["POSTGRES_DB"]
    for name in APP_SERVICES:
        env = SERVICES[name]["environment"]
        assert "MOLVIS_HOME" in env and {k for k in env if k.startswith("MOLVIS_")} <= read_by_code
        if name != "ui":
            assert env["MOLVIS_DATABASE_URL"].endswith(molvis_db)
    instance = yaml.safe_load((REPO / "assets" / "deploy" / "dagster.yaml").read_text())
    url_var = instance["storage"]["postgres"]["postgres_url"]["env"]
    for name in ("dagster-webserver", "dagster-daemon"):
        assert SERVICES[name]["environment"][url_var].endswith("@db:5432/dagster")
    init = (REPO / "assets" / "deploy" / "initdb" / "10-dagster-database.sh").read_text()
    assert 'CREATE DATABASE dagster OWNER \\"$POSTGRES_USER\\"' in init
    assert "./assets/deploy/initdb:/docker-entrypoint-initdb.d:ro" in SERVICES["db"]["volumes"]


def test_a_ccs_shard_run_takes_its_share_of_the_cores():
    """Shards run side by side up to the run queue's limit, each with a share of the cores."""
    import os

    from assets.ccs import CONCURRENT_RUNS, shard_workers

    instance = yaml.safe_load((REPO / "assets" / "deploy" / "dagster.yaml").read_text())
    assert instance["run_coordinator"]["config"]["max_concurrent_runs"] == CONCURRENT_RUNS
    assert shard_workers() == max(1, (os.cpu_count() or 1) // CONCURRENT_RUNS)


def test_no_password_in_the_repository_and_the_page_reads_only():
    """Passwords come from .env (`make deploy-env`), compose refuses to start without them;
    the page gets the read-only role's URL and no writer's."""
    text = (REPO / "docker-compose.yml").read_text()
    for url in re.findall(r"postgresql://[^@\s]+@", text):
        assert re.fullmatch(
            r"postgresql://molvis(_reader)?:\$\{MOLVIS_(DB|READER)_PASSWORD:\?[^}]+\}@", url
        )
    assert SERVICES["db"]["environment"]["POSTGRES_PASSWORD"].startswith("${MOLVIS_DB_PASSWORD:?")
    ui = SERVICES["ui"]["environment"]
    assert set(ui) == {"MOLVIS_READER_URL", "MOLVIS_HOME"}
    assert ui["MOLVIS_READER_URL"].startswith("postgresql://molvis_reader:${MOLVIS_READER_PASSWORD")
    assert '"$$MOLVIS_READER_PASSWORD"' in SERVICES["migrate"]["command"]
    makefile = (REPO / "Makefile").read_text()
    assert "deploy-env:" in makefile and "umask 077" in makefile
    assert ".env" in (REPO / ".gitignore").read_text().split()


def test_ports_on_this_host_only_restarts_one_daemon_pinned_images_no_root():
    for name, service in SERVICES.items():
        for port in service.get("ports", []):
            assert port.startswith("127.0.0.1:"), name
        if name != "migrate":
            assert service["restart"] == "unless-stopped", name
    assert SERVICES["migrate"]["restart"] == "no"
    daemons = [n for n, s in SERVICES.items() if "dagster-daemon" in str(s.get("command", ""))]
    assert daemons == ["dagster-daemon"]
    assert re.fullmatch(r"pgvector/pgvector:\d+\.\d+\.\d+-pg\d+", SERVICES["db"]["image"])
    dockerfile = (REPO / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+$", dockerfile, re.M)
    assert re.search(r"^FROM \$\{PYTHON_IMAGE\}$", dockerfile, re.M)
    assert re.search(r"^USER molvis$", dockerfile, re.M)


def test_volumes_are_declared_and_gpu_is_reserved():
    declared = set(COMPOSE["volumes"])
    for service in SERVICES.values():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            assert source in declared or (REPO / source).is_dir()
    gpu = yaml.safe_load((REPO / "assets" / "deploy" / "compose.gpu.yml").read_text())
    assert set(gpu["services"]) == {"dagster-daemon"}  # the GPU goes to the one daemon
    devices = gpu["services"]["dagster-daemon"]["deploy"]["resources"]["reservations"]["devices"]
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
