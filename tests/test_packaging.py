"""The wheel holds every file molvis ships beside its code: the pretrained models with their
calibration and ranker, the configs, the migrations' SQL, the demo slice (an installed image
without them would have no CCS predictor, no learned ranking, no migrations)."""

import shutil
import subprocess
import sys
import zipfile

import pytest

from tests.conftest import REPO

SHIPPED = ("models/pretrained", "models/configs", "migrations/sql", "molvis/demo")


@pytest.mark.slow
def test_the_wheel_holds_every_shipped_file(tmp_path):
    """Built from a copy of the tracked files (a build/ folder left in the checkout would
    hand setuptools files the configuration no longer names)."""
    source = tmp_path / "src"
    for name in subprocess.run(
        ["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split():
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
         "-w", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("molvis-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *SHIPPED], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout.split()
    wanted = [p for p in tracked if not p.endswith(".py")]  # the code is packaged as modules
    assert wanted and "models/pretrained/ccs/molvis-ccs.pt" in wanted
    assert sorted(set(wanted) - names) == []
