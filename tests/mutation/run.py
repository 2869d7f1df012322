"""`make mutate` in one sitting: the Python mutants (mutmut, every module of pyproject's
[tool.mutmut]), their report, the SQL mutants and the planted bugs.

The Python mutants' test sessions work in copies of one migrated template database on one
server (tests/mutation/database.py) instead of each starting a server. `PATTERN`s (mutmut's
mutant names, e.g. 'registry.library.flash_index*') run a shard: those mutants only, then the report.

Run: python -m tests.mutation.run [PATTERN ...]"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.mutation import database

REPO = Path(__file__).resolve().parents[2]
CHILDREN = "2"  # the two cores of the project's reference machine
HUNG_AFTER = 300  # seconds: the slowest mutant's tests take about 90
# mutmut forks each mutant from a process that ran every test (torch, OpenMP and BLAS thread
# pools started): a child whose parent held a pool's lock at the fork waits forever and is
# counted "timed out", i.e. killed, whatever its tests say. One thread per pool: no pool.
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}


def _stop_hung_mutants() -> None:
    """mutmut limits a mutant's CPU time, not its wall time: a mutant that deadlocks (the
    library kernel's helper thread looked up for another process, say) sleeps forever. One
    running longer than HUNG_AFTER gets SIGXCPU, which mutmut records as timed out: its tests
    would never have finished."""
    uptime = float(Path("/proc/uptime").read_text().split()[0])
    ticks = os.sysconf("SC_CLK_TCK")
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if not (proc / "cmdline").read_bytes().startswith(b"mutmut: "):
                continue
            # field 22 of stat: the start, in clock ticks since boot
            started = int((proc / "stat").read_text().rsplit(")", 1)[1].split()[19]) / ticks
            if uptime - started > HUNG_AFTER:
                os.kill(int(proc.name), signal.SIGXCPU)
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile, or not ours to read


def _python(module: str) -> int:
    return subprocess.run([sys.executable, "-m", module], cwd=REPO).returncode


def main(patterns: list[str]) -> int:
    home = Path(tempfile.mkdtemp(prefix="molvis-mutate-"))
    try:
        url = database.start(home)
        env = os.environ | ONE_THREAD | {"MOLVIS_TEST_TEMPLATE_URL": url}
        env["MOLVIS_TEST_TEMPLATE_READER_URL"] = database.reader_url(home, url)
        mutmut = Path(sys.executable).with_name("mutmut")
        log = REPO / "mutmut.log"  # its progress redraws one line per mutant: kept out of sight
        with open(log, "w") as out:
            run = subprocess.Popen(
                [str(mutmut), "run", "--max-children", CHILDREN, *patterns],
                cwd=REPO,
                env=env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )
            while run.poll() is None:
                _stop_hung_mutants()
                time.sleep(10)
        if run.returncode:
            print(f"mutmut stopped (exit {run.returncode}): see {log}", file=sys.stderr)
    finally:
        database.stop(home)
        shutil.rmtree(home, ignore_errors=True)
    report = subprocess.run(
        [sys.executable, "-m", "tests.mutation.report"], cwd=REPO, capture_output=True, text=True
    )
    print(report.stdout, end="")
    (REPO / "mutants" / "report.md").write_text(report.stdout)
    if patterns:
        return report.returncode
    # the SQL mutants migrate a fresh database each (their function text is what changes)
    failed = _python("tests.mutation.sql_mutants") | _python("tests.mutation.planted_bugs")
    return report.returncode | failed


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
