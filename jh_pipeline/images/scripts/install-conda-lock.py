#!/usr/bin/env python3
"""Install the conda packages of a rattler lock file into a prefix.

Runs inside the image build (from the py-rattler tool venv), so the class environment is created from
exactly the records the env asset locked: no solving here, just download + verify + link.

    install-conda-lock.py LOCK PREFIX [--platform linux-64] [--environment NAME] [--cache-dir DIR]

The package cache is a temporary directory removed afterwards (unless --cache-dir is given), so no
rattler cache ends up in the image layer.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import sys
import tempfile
from pathlib import Path

import rattler


def _find_platform(environment, lock, name: str):
    # Take the platform object from the lock itself: in py-rattler 0.28 a freshly constructed
    # LockPlatform used for lookups can panic.
    candidates = list(environment.platforms()) or list(lock.platforms())
    for platform in candidates:
        if platform.name == name or str(getattr(platform, "subdir", "")) == name:
            return platform
    names = ", ".join(p.name for p in candidates) or "none"
    raise SystemExit(f"install-conda-lock: platform {name!r} not in the lock (it has: {names})")


def load_records(lock_path: Path, platform_name: str, environment_name: str | None):
    lock = rattler.LockFile.from_path(lock_path)
    if environment_name:
        environment = lock.environment(environment_name)
    else:
        environment = lock.default_environment()
    if environment is None:
        raise SystemExit(
            f"install-conda-lock: environment {environment_name or 'default'!r} not in {lock_path}"
        )
    platform = _find_platform(environment, lock, platform_name)
    records = environment.conda_repodata_records_for_platform(platform) or []
    if not records:
        raise SystemExit(f"install-conda-lock: no conda packages for {platform_name} in {lock_path}")
    return records


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("lock", type=Path, help="rattler lock file (conda-lock.yml)")
    parser.add_argument("prefix", type=Path, help="target prefix, e.g. /opt/envs/<class>")
    parser.add_argument("--platform", default="linux-64")
    parser.add_argument("--environment", default=None, help="lock environment (default: default)")
    parser.add_argument("--cache-dir", type=Path, default=None, help="package cache (kept)")
    args = parser.parse_args(argv)

    records = load_records(args.lock, args.platform, args.environment)
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="rattler-pkgs-"))
    try:
        asyncio.run(
            rattler.install(
                records,
                target_prefix=args.prefix,
                cache_dir=cache_dir,
                show_progress=False,
                # Link scripts run arbitrary code; the production env never needed them.
                execute_link_scripts=False,
            )
        )
    finally:
        if args.cache_dir is None:
            shutil.rmtree(cache_dir, ignore_errors=True)

    print(f"install-conda-lock: installed {len(records)} packages into {args.prefix}")
    for record in sorted(records, key=lambda r: r.name.normalized):
        print(f"  {record.name.normalized} {record.version} {record.build}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
