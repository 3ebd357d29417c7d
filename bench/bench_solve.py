"""Benchmark: solve + lock time for classes of 10, 50 and 150 specs on a ~20,000-record channel.

The channel is synthetic (repodata.json written directly, no archives) but shaped like
conda-forge: a few core libraries used by many packages, compiled Python packages with one
build per Python minor, noarch Python packages, version ranges that old releases cap.
Every latest version accepts the latest of its dependencies, so each class is satisfiable.
It is served over HTTP on 127.0.0.1 so the solve path is the production one.

Usage: .venv/bin/python bench/bench_solve.py [--records 20000] [--trials 3] [--seed 7]
Goal: 150 specs under 5 s.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jh_pipeline.envs.conda import build_lock_file, lock_hash, render_explicit_lock, solve_lock
from jh_pipeline.offline import serve_channel

PYTHONS = ("3.10", "3.11", "3.12")
CLASS_SIZES = (10, 50, 150)
GOAL_SECONDS = {150: 5.0}


@dataclass(frozen=True)
class Package:
    name: str
    kind: str  # "c" (linux-64 library), "pyc" (compiled python, one build per python), "py" (noarch)
    versions: tuple[str, ...]
    deps: tuple[int, ...]  # indices of lower packages


def _versions(count: int) -> tuple[str, ...]:
    return tuple(f"{1 + j // 4}.{j % 4}.{j % 3}" for j in range(count))


def make_packages(target_records: int, rng: random.Random) -> list[Package]:
    packages: list[Package] = []
    records = 0
    index = 0
    while records < target_records:
        kind = rng.choices(["c", "pyc", "py"], weights=[3, 2, 5])[0]
        count = rng.randint(2, 14)
        # Preferential attachment: early (core) packages are everyone's dependencies.
        pool = range(index)
        deps = tuple(sorted({min(int(rng.paretovariate(1.2)) - 1, index - 1) for _ in range(rng.randint(0, 5))} & set(pool)))
        if index and rng.random() < 0.5:
            deps = tuple(sorted(set(deps) | {rng.randrange(index)}))
        packages.append(Package(f"pkg{index:05d}-{kind}", kind, _versions(count), deps))
        records += count * (len(PYTHONS) if kind == "pyc" else 1)
        index += 1
    return packages


def _dep_spec(dep: Package, rng: random.Random, latest: bool) -> str:
    if len(dep.versions) == 1:
        return dep.name
    low = dep.versions[rng.randrange(len(dep.versions) // 2 + 1)]
    if latest or rng.random() < 0.5:
        return f"{dep.name} >={low}"
    # Older releases cap their dependencies below the newest major: forces real choices.
    top_major = int(dep.versions[-1].split(".")[0])
    return f"{dep.name} >={low},<{top_major}"


def _fake_hash(text: str, algo: str) -> str:
    return hashlib.new(algo, text.encode()).hexdigest()


def make_repodata(packages: list[Package], rng: random.Random) -> dict[str, dict]:
    subdirs: dict[str, dict] = {s: {"info": {"subdir": s}, "packages": {}} for s in ("linux-64", "noarch")}

    def add(subdir: str, name: str, version: str, build: str, depends: list[str], noarch: str | None = None) -> None:
        file_name = f"{name}-{version}-{build}.tar.bz2"
        record = {
            "name": name, "version": version, "build": build, "build_number": 0, "depends": depends,
            "subdir": subdir, "md5": _fake_hash(file_name, "md5"), "sha256": _fake_hash(file_name, "sha256"),
            "size": 1000, "timestamp": 1_700_000_000_000, "license": "MIT",
        }
        if noarch:
            record["noarch"] = noarch
        subdirs[subdir]["packages"][file_name] = record

    for minor in PYTHONS:
        for patch in range(4):
            add("linux-64", "python", f"{minor}.{patch}", "h0_cpython", ["__glibc >=2.17", "libgcc-ng >=12"])
    for version in ("23.3.1", "24.0", "24.2"):  # solve_lock makes python pull in pip, as conda does
        add("noarch", "pip", version, "pyhd8ed1ab_0", ["python >=3.8"], noarch="python")
    for version in ("12.2.0", "13.2.0"):
        add("linux-64", "libgcc-ng", version, "h0_0", ["__glibc >=2.17"])

    for package in packages:
        for position, version in enumerate(package.versions):
            latest = position == len(package.versions) - 1
            deps = [_dep_spec(packages[d], rng, latest) for d in package.deps]
            if package.kind == "c":
                add("linux-64", package.name, version, "h1a2b3c_0", deps + ["libgcc-ng >=12"])
            elif package.kind == "py":
                add("noarch", package.name, version, "pyhd8ed1ab_0", deps + ["python >=3.8"], noarch="python")
            else:
                for minor in PYTHONS:
                    tag = minor.replace(".", "")
                    nxt = f"{minor.split('.')[0]}.{int(minor.split('.')[1]) + 1}"
                    pins = [f"python >={minor},<{nxt}.0a0", "libgcc-ng >=12"]
                    add("linux-64", package.name, version, f"py{tag}h1a2b3c_0", deps + pins)
    return subdirs


def write_channel(root: Path, repodata: dict[str, dict]) -> Path:
    channel = root / "synthetic"
    for subdir, document in repodata.items():
        (channel / subdir).mkdir(parents=True, exist_ok=True)
        (channel / subdir / "repodata.json").write_text(json.dumps(document))
    return channel


def spec_class(packages: list[Package], size: int, rng: random.Random) -> list[str]:
    chosen = rng.sample(packages, size)
    specs = []
    for package in chosen:
        if rng.random() < 0.3 and len(package.versions) > 1:
            specs.append(f"{package.name} >={package.versions[len(package.versions) // 2]}")
        else:
            specs.append(package.name)
    return specs


def solve_and_lock(specs: list[str], channel_url: str, cache: Path) -> tuple[float, int]:
    start = time.perf_counter()
    solution = solve_lock(specs, [channel_url], "3.11", cache_dir=cache)
    lock_hash(render_explicit_lock(solution.records, solution.platform))
    build_lock_file(solution)
    return time.perf_counter() - start, len(solution.records)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, default=20_000)
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    rng = random.Random(args.seed)
    packages = make_packages(args.records, rng)
    repodata = make_repodata(packages, rng)
    total = sum(len(d["packages"]) for d in repodata.values())

    with tempfile.TemporaryDirectory(prefix="bench-solve-") as tmp:
        channel = write_channel(Path(tmp), repodata)
        url, stop = serve_channel(channel)
        try:
            cache = Path(tmp) / "cache"
            warmup, _ = solve_and_lock(spec_class(packages, 10, rng), url, cache)  # fetch + cache repodata
            print(f"channel: {total} records, {len(packages) + 3} package names, served at {url}")
            print(f"first solve (fetches repodata over HTTP): {warmup:.2f} s")
            print()
            print(f"{'specs':>5}  {'packages':>8}  {'median s':>8}  {'max s':>6}  goal")
            for size in CLASS_SIZES:
                runs = [solve_and_lock(spec_class(packages, size, rng), url, cache) for _ in range(args.trials)]
                seconds = [s for s, _ in runs]
                goal = GOAL_SECONDS.get(size)
                verdict = "" if goal is None else ("ok" if max(seconds) < goal else "MISSED") + f" (< {goal:g} s)"
                print(
                    f"{size:>5}  {int(statistics.median(n for _, n in runs)):>8}  "
                    f"{statistics.median(seconds):>8.2f}  {max(seconds):>6.2f}  {verdict}"
                )
        finally:
            stop()


if __name__ == "__main__":
    main()
