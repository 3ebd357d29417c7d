#!/usr/bin/env python3
"""mamba/conda stand-in of the hermetic foundation image, on py-rattler.

Production images have the real conda and mamba (docker-stacks-foundation); this one covers what
course instructions use, installed as ${CONDA_DIR}/bin/mamba and ${CONDA_DIR}/bin/conda:

    mamba --version
    mamba install [-y] [-n NAME | -p PREFIX] [-c CHANNEL]... SPEC...
    mamba create  [-y] (-n NAME | -p PREFIX) [-c CHANNEL]... [SPEC...]
    mamba list    [-n NAME | -p PREFIX]
    mamba env list        (also: mamba info --envs)

Channels: the -c options, else `channels:` of ~/.condarc and ${CONDA_DIR}/.condarc (names resolve
against `channel_alias:`). Target: -p, else -n under `envs_dirs:` of the same files ("base" is
CONDA_DIR), else $CONDA_PREFIX, else CONDA_DIR. install solves the new specs together with what
the prefix already holds (kept, preferably at their versions) and links the result into it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from importlib.metadata import version
from pathlib import Path

import rattler
from rattler import (
    Channel,
    ChannelConfig,
    MatchSpec,
    Platform,
    PrefixRecord,
    VirtualPackage,
)

PROG = Path(sys.argv[0]).name if sys.argv and sys.argv[0] else "mamba"
CONDA_DIR = Path(os.environ.get("CONDA_DIR", "/opt/conda"))
COMMANDS = "install, create, list, env list, info --envs, --version"


class UsageError(Exception):
    """A request this stand-in cannot serve: message on stderr, exit code 2."""


# --------------------------------------------------------------------------- .condarc


def condarc_files() -> list[Path]:
    # Highest precedence first, as conda merges lists.
    return [Path.home() / ".condarc", CONDA_DIR / ".condarc"]


def parse_condarc(text: str) -> dict[str, object]:
    """The subset of YAML a .condarc uses: `key: value`, `key: [a, b]` and `key:` + `  - item` lines."""
    settings: dict[str, object] = {}
    current: list[str] | None = None
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].rstrip()
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        if line.lstrip().startswith("- ") and current is not None:
            current.append(line.lstrip()[2:].strip().strip("'\""))
            continue
        key, _, value = line.partition(":")
        value = value.strip()
        if value.startswith("[") and value.endswith("]"):
            settings[key.strip()] = [v.strip().strip("'\"") for v in value[1:-1].split(",") if v.strip()]
            current = None
        elif value:
            settings[key.strip()] = value.strip("'\"")
            current = None
        else:
            current = []
            settings[key.strip()] = current
    return settings


def load_settings() -> dict[str, object]:
    merged: dict[str, object] = {}
    for path in condarc_files():
        try:
            settings = parse_condarc(path.read_text())
        except OSError:
            continue
        for key, value in settings.items():
            if isinstance(value, list):
                known = merged.setdefault(key, [])
                if isinstance(known, list):
                    known.extend(v for v in value if v not in known)
            else:
                merged.setdefault(key, value)
    return merged


def envs_dirs(settings: dict[str, object]) -> list[Path]:
    configured = settings.get("envs_dirs")
    if isinstance(configured, list) and configured:
        return [Path(os.path.expanduser(d)) for d in configured]
    return [CONDA_DIR / "envs", Path.home() / ".conda" / "envs"]


def channels(requested: list[str], settings: dict[str, object]) -> list[Channel]:
    names = requested or settings.get("channels") or []
    if not isinstance(names, list) or not names:
        raise UsageError("no channels: pass -c CHANNEL or list `channels:` in a .condarc")
    alias = str(settings.get("channel_alias") or "https://conda.anaconda.org").rstrip("/") + "/"
    config = ChannelConfig(channel_alias=alias)
    return [Channel(name, config) for name in names if name != "defaults"]


# --------------------------------------------------------------------------- prefixes


def target_prefix(args: argparse.Namespace, settings: dict[str, object], *, must_exist: bool) -> Path:
    if args.prefix:
        prefix = Path(args.prefix).expanduser().absolute()
    elif args.name:
        if args.name == "base":
            prefix = CONDA_DIR
        else:
            dirs = envs_dirs(settings)
            existing = [d / args.name for d in dirs if (d / args.name / "conda-meta").is_dir()]
            prefix = existing[0] if existing else dirs[0] / args.name
    elif os.environ.get("CONDA_PREFIX"):
        prefix = Path(os.environ["CONDA_PREFIX"])
    else:
        prefix = CONDA_DIR
    if must_exist and not prefix.is_dir():
        raise UsageError(f"no environment at {prefix} (create it with `{PROG} create`)")
    return prefix


def installed(prefix: Path) -> list[PrefixRecord]:
    meta = prefix / "conda-meta"
    if not meta.is_dir():
        return []
    return [PrefixRecord.from_path(p) for p in sorted(meta.glob("*.json"))]


def known_envs(settings: dict[str, object]) -> list[Path]:
    envs = [CONDA_DIR]
    for directory in envs_dirs(settings):
        if directory.is_dir():
            envs += sorted(p for p in directory.iterdir() if (p / "conda-meta").is_dir() and p not in envs)
    return envs


# --------------------------------------------------------------------------- commands


def confirm(assume_yes: bool) -> bool:
    if assume_yes or not sys.stdin.isatty():
        return True
    answer = input("Proceed ([y]/n)? ").strip().lower()
    return answer in ("", "y", "yes")


async def solve_and_install(prefix: Path, specs: list[str], chans: list[Channel], assume_yes: bool) -> int:
    present = installed(prefix)
    requested = [MatchSpec(s) for s in specs]
    wanted = {s.name.normalized for s in requested if s.name is not None}
    # What the prefix has stays (by name); locking prefers its current builds.
    kept = [MatchSpec(r.name.normalized) for r in present if r.name.normalized not in wanted]
    records = await rattler.solve(
        chans,
        requested + kept,
        platforms=[str(Platform.current()), "noarch"],
        locked_packages=present,
        virtual_packages=VirtualPackage.detect(),
    )
    before = {(r.name.normalized, str(r.version), str(r.build)) for r in present}
    after = {(r.name.normalized, str(r.version), str(r.build)) for r in records}
    changes = [f"  + {n} {v} {b}" for n, v, b in sorted(after - before)]
    changes += [f"  - {n} {v} {b}" for n, v, b in sorted(before - after)]
    print(f"Environment: {prefix}")
    if not changes:
        print("All requested packages already installed.")
        return 0
    print("Changes:\n" + "\n".join(changes))
    if not confirm(assume_yes):
        print("Aborted.")
        return 1
    await rattler.install(
        records,
        target_prefix=prefix,
        installed_packages=present,
        show_progress=False,
        execute_link_scripts=False,
    )
    print("Transaction finished.")
    return 0


def cmd_install(args: argparse.Namespace, settings: dict[str, object], create: bool) -> int:
    if create and not (args.name or args.prefix):
        raise UsageError("create needs -n NAME or -p PREFIX")
    if not create and not args.specs:
        raise UsageError("install needs at least one package spec")
    prefix = target_prefix(args, settings, must_exist=not create)
    if create and (prefix / "conda-meta").is_dir() and any((prefix / "conda-meta").glob("*.json")):
        raise UsageError(f"{prefix} already holds an environment")
    if create:
        (prefix / "conda-meta").mkdir(parents=True, exist_ok=True)
    if not args.specs:
        print(f"Created an empty environment at {prefix}")
        return 0
    return asyncio.run(solve_and_install(prefix, args.specs, channels(args.channel, settings), args.yes))


def cmd_list(args: argparse.Namespace, settings: dict[str, object]) -> int:
    prefix = target_prefix(args, settings, must_exist=True)
    print(f"# packages in environment at {prefix}:\n#")
    print(f"# {'Name':<28}{'Version':<18}{'Build':<24}Channel")
    for record in sorted(installed(prefix), key=lambda r: r.name.normalized):
        print(f"{record.name.normalized:<30}{record.version!s:<18}{record.build!s:<24}{record.channel or ''}")
    return 0


def cmd_env_list(settings: dict[str, object]) -> int:
    active = os.environ.get("CONDA_PREFIX", "")
    print("# conda environments:\n#")
    for prefix in known_envs(settings):
        name = "base" if prefix == CONDA_DIR else prefix.name
        mark = "*" if active and Path(active) == prefix else " "
        print(f"{name:<24}{mark} {prefix}")
    return 0


def parser() -> argparse.ArgumentParser:
    main = argparse.ArgumentParser(prog=PROG, description=f"{PROG} stand-in on py-rattler ({COMMANDS})")
    main.add_argument("-V", "--version", action="store_true")
    sub = main.add_subparsers(dest="command")

    def target(p: argparse.ArgumentParser) -> None:
        group = p.add_mutually_exclusive_group()
        group.add_argument("-n", "--name")
        group.add_argument("-p", "--prefix")

    for name in ("install", "create"):
        p = sub.add_parser(name)
        target(p)
        p.add_argument("-y", "--yes", action="store_true")
        p.add_argument("-c", "--channel", action="append", default=[])
        p.add_argument("-q", "--quiet", action="store_true")
        p.add_argument("specs", nargs="*")
    target(sub.add_parser("list"))
    env = sub.add_parser("env")
    env.add_argument("action", choices=["list"])
    info = sub.add_parser("info")
    info.add_argument("-e", "--envs", action="store_true")
    return main


def main(argv: list[str]) -> int:
    known = {"install", "create", "list", "env", "info"}
    first = next((a for a in argv if not a.startswith("-")), None)
    if first is not None and first not in known:
        print(f"{PROG}: '{first}' is not supported by this stand-in (supported: {COMMANDS})", file=sys.stderr)
        return 2
    args = parser().parse_args(argv)  # exits 2 on unknown options
    if args.version:
        print(f"{PROG} 0.1.0 (jh_pipeline stand-in on py-rattler {version('py-rattler')})")
        return 0
    settings = load_settings()
    try:
        if args.command in ("install", "create"):
            return cmd_install(args, settings, create=args.command == "create")
        if args.command == "list":
            return cmd_list(args, settings)
        if args.command == "env" or (args.command == "info" and args.envs):
            return cmd_env_list(settings)
        print(f"{PROG}: nothing to do: give a command ({COMMANDS})", file=sys.stderr)
        return 2
    except UsageError as error:
        print(f"{PROG}: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 - solver/download errors: one readable line, no traceback
        print(f"{PROG}: {type(error).__name__}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    code = main(sys.argv[1:])
    sys.stdout.flush()
    sys.stderr.flush()
    # Skip interpreter finalization: py-rattler's runtime threads may still hold thread states then,
    # and CPython aborts ("PyGILState_Release ... finalizing") after the work is done.
    os._exit(code)
