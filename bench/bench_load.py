"""Benchmark: code location load time for 10, 100 and 300 classes, and a no-op run over 10 classes.

Load: a fresh interpreter imports `jh_pipeline.definitions` on a generated requirements tree and
resolves the repository (what every run worker and `dagster dev` reload do), timed end to end.
No-op: 10 classes whose env files already exist are materialized again with
`dagster asset materialize` on a fresh DAGSTER_HOME each time, as CI runners do.

Usage: .venv/bin/python bench/bench_load.py [--trials 3]
Goals: 300 classes load in under 3x the 10-class time; the no-op run finishes in seconds.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jh_pipeline.offline import build_channel, serve_channel
from jh_pipeline.offline.channel import offline_cache_dir

REPO = Path(__file__).resolve().parents[1]
SEED_CLASSES = sorted(p for p in (REPO / "requirements" / "classes").iterdir() if p.is_dir())
LOAD = (
    "import time; t = time.perf_counter(); "
    "from jh_pipeline.definitions import defs; "
    "repo = defs.get_repository_def(); n = len(repo.asset_graph.get_all_asset_keys()); "
    "print(n, time.perf_counter() - t)"
)


def generate_tree(root: Path, count: int) -> Path:
    """`count` classes copied round-robin from the seeded ones, each with its own name."""
    shutil.copytree(REPO / "requirements" / "common", root / "requirements" / "common")
    for i in range(count):
        shutil.copytree(SEED_CLASSES[i % len(SEED_CLASSES)], root / "requirements" / "classes" / f"c{i:04d}")
    return root / "requirements"


def time_load(requirements: Path, trials: int) -> tuple[int, float, float]:
    """(asset count, median seconds in-process after imports, median seconds for the whole process)."""
    inner, outer, count = [], [], 0
    env = {**os.environ, "JH_REQUIREMENTS_DIR": str(requirements)}
    for _ in range(trials):
        started = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", LOAD], env=env, capture_output=True, text=True, check=True)
        outer.append(time.perf_counter() - started)
        count, seconds = out.stdout.split()
        inner.append(float(seconds))
    return int(count), statistics.median(inner), statistics.median(outer)


def noop_run(work: Path, classes: int) -> tuple[float, float]:
    """(first run seconds, median no-op seconds) for `classes` env assets against the local channel."""
    requirements = work / "noop" / "requirements"
    (requirements / "common").mkdir(parents=True)
    (requirements / "common" / "requirements.txt").write_text("six\n")
    for i in range(classes):
        folder = requirements / "classes" / f"n{i:02d}"
        folder.mkdir(parents=True)
        (folder / "class.yaml").write_text('target: base\npython_version: "3.11"\n')
        (folder / "requirements.txt").write_text("attrs\ntabulate\n" if i % 2 else "packaging\nidna\n")
    channel = build_channel(work / "channel" / "jh-offline", cache=offline_cache_dir())
    url, stop = serve_channel(channel.path)
    selection = ",".join(f"n{i:02d}/conda_env" for i in range(classes))
    env = {**os.environ, "JH_REQUIREMENTS_DIR": str(requirements), "JH_CHANNEL_MAP": f"conda-forge={url}",
           "JH_STORE_DIR": str(work / "store")}
    dagster = str(Path(sys.executable).with_name("dagster"))

    def run() -> float:
        home = Path(tempfile.mkdtemp(dir=work))
        started = time.perf_counter()
        subprocess.run([dagster, "asset", "materialize", "-m", "jh_pipeline.definitions", "--select", selection],
                       env={**env, "DAGSTER_HOME": str(home)}, capture_output=True, check=True)
        return time.perf_counter() - started

    try:
        first = run()
        return first, statistics.median(run() for _ in range(3))
    finally:
        stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        rows = []
        for count in (10, 100, 300):
            requirements = generate_tree(work / f"tree{count}", count)
            rows.append((count, *time_load(requirements, args.trials)))
        base_inner, base_outer = rows[0][2], rows[0][3]
        print(f"{'classes':>7} {'assets':>6} {'load s':>7} {'ratio':>6} {'process s':>9} {'ratio':>6}")
        for count, assets, inner, outer in rows:
            print(f"{count:>7} {assets:>6} {inner:>7.2f} {inner / base_inner:>6.2f} {outer:>9.2f} {outer / base_outer:>6.2f}")
        ratio = rows[-1][3] / base_outer
        print(f"goal: 300 classes under 3x the 10-class process time: {'ok' if ratio < 3 else 'MISSED'} ({ratio:.2f}x)")
        first, noop = noop_run(work, 10)
        print(f"\nno-op materialization of 10 classes (fresh DAGSTER_HOME each run): first {first:.1f} s, "
              f"no-op {noop:.1f} s ({noop / first:.0%} of the first)")


if __name__ == "__main__":
    main()
