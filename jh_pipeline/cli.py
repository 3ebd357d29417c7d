"""`jh-pipeline`: the project's own command line (validate, scaffold, workflows)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from jh_pipeline.catalog import Target, load_catalog


def _repo_root(requirements: Path) -> Path:
    return requirements.resolve().parent


def cmd_validate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.requirements)
    findings = catalog.all_findings()
    for finding in findings:
        print(finding.format())
    errors = sum(f.is_error for f in findings)
    checked = len(catalog.classes) + len(catalog.left_out)
    print(f"{checked} classes checked: {errors} error(s), {len(findings) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def preflight_settings(args: argparse.Namespace) -> object:
    """Preflight's settings from the environment (the same variables the pipeline reads) and flags."""
    import os

    from jh_pipeline.defs.resources import parse_channel_map
    from jh_pipeline.envs.pip_lock import PipIndexConfig
    from jh_pipeline.preflight import DEFAULT_CRAN_REPO, PreflightSettings

    return PreflightSettings(
        channel_map=parse_channel_map(os.environ.get("JH_CHANNEL_MAP", "")),
        channel_alias=os.environ.get("JH_CONDA_CHANNEL_ALIAS") or None,
        pip=PipIndexConfig.from_env(os.environ),
        cran_repo=os.environ.get("JH_CRAN_REPO") or DEFAULT_CRAN_REPO,
        bioc_repo=args.bioc_repo,
        ca_bundle=os.environ.get("JH_EXTRA_CA_BUNDLE") or None,
        online=args.online,
    )


def cmd_preflight(args: argparse.Namespace) -> int:
    from jh_pipeline.defs.resources import ChannelMapError
    from jh_pipeline.preflight import run_preflight, select_classes

    catalog = load_catalog(args.requirements)
    keys, message = select_classes(catalog, args.requirements, args.classes, args.base)
    if message:
        print(message, file=sys.stderr)
    if keys is None:
        return 1
    if not keys:
        return 0
    try:
        settings = preflight_settings(args)
    except ChannelMapError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return run_preflight(catalog, keys, settings, log=lambda line: print(line, file=sys.stderr))  # type: ignore[arg-type]


def cmd_new_class(args: argparse.Namespace) -> int:
    from jh_pipeline.scaffold.new_class import ClassExistsError, create_class

    try:
        created = create_class(
            _repo_root(args.requirements), args.c, Target(args.t), mysql=args.m, python_version=args.python
        )
    except (ClassExistsError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for path in created:
        print(f"created {path}")
    return 0


def cmd_workflows(args: argparse.Namespace) -> int:
    from jh_pipeline.scaffold.workflows import check_workflows, generate

    root = _repo_root(args.requirements)
    try:
        if args.check:
            issues = check_workflows(root)
        else:
            for path in generate(root):
                print(f"{'wrote' if path.exists() else 'removed'}: {path}")
            issues = check_workflows(root)  # after writing, only hand-written watchers are left
    except ValueError as exc:  # conflicts with hand-written files, no classes, bad settings
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if not args.check:
        for issue in issues:
            print(f"warning: {issue.format()}", file=sys.stderr)
        return 0
    for issue in issues:
        print(issue.format())
    if any(issue.kind != "hand-written" for issue in issues):
        print("workflows are out of date: run `jh-pipeline workflows`", file=sys.stderr)
    if any(issue.kind == "hand-written" for issue in issues):
        print("hand-written workflows watch class folders: each class is built by its generated workflow only",
              file=sys.stderr)
    return 1 if issues else 0


def cmd_export_env(args: argparse.Namespace) -> int:
    from jh_pipeline.defs.context import PipelineContext
    from jh_pipeline.store.resource import store_from_env

    ctx = PipelineContext.from_env()
    spec = ctx.catalog.classes.get(args.class_key)
    if spec is None:
        print(f"error: no class '{args.class_key}' in {ctx.catalog.root}", file=sys.stderr)
        return 1
    semester = ctx.semester(spec)
    released = store_from_env().read_latest_set(semester, spec.key)
    if released is None:
        print(f"error: {spec.key} has no released env files for {semester}", file=sys.stderr)
        return 1
    manifest, files = released
    for path, data in files.items():
        target = args.dest / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    print(f"{len(files)} files of {spec.key} ({semester}, set {manifest.set_id}) -> {args.dest}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from jh_pipeline.doctor import run_doctor

    return run_doctor()


def cmd_quickstart(args: argparse.Namespace) -> int:
    from jh_pipeline.quickstart import run_quickstart

    return run_quickstart(args.class_key, offline=args.offline)


def cmd_ui(args: argparse.Namespace) -> int:
    from jh_pipeline.ui import run_ui

    return run_ui(offline=args.offline, port=args.port, host=args.host)


def build_parser() -> argparse.ArgumentParser:
    # --requirements is accepted before or after the subcommand.
    tree = argparse.ArgumentParser(add_help=False)
    tree.add_argument(
        "--requirements", type=Path, default=argparse.SUPPRESS, metavar="DIR",
        help="the requirements/ tree (default: ./requirements)",
    )
    parser = argparse.ArgumentParser(prog="jh-pipeline", description=__doc__, parents=[tree])
    commands = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help: str) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=help, parents=[tree])

    validate = command("validate", "check every class; one `PATH:LINE: severity: message` per finding")
    validate.set_defaults(func=cmd_validate)

    preflight = command("preflight", "check classes as far as possible without building: validate, conda and pip "
                        "locks, R package names, Julia (--online)")
    preflight.add_argument("classes", nargs="*", metavar="CLASS",
                           help="classes to check (default: those changed against --base, uncommitted changes included)")
    preflight.add_argument("--base", default="origin/main", help="the main branch to compare with (default origin/main, else main)")
    preflight.add_argument("--bioc-repo", default="https://bioconductor.org/packages/release/bioc", metavar="URL",
                           help="Bioconductor repository (its src/contrib/PACKAGES is read)")
    preflight.add_argument("--online", action="store_true", help="also resolve Julia packages")
    preflight.set_defaults(func=cmd_preflight)

    new = command("new-class", "create requirements/classes/NAME and its CI workflow")
    new.add_argument("-c", metavar="NAME", required=True, help="class name, e.g. data1010")
    new.add_argument("-t", metavar="TARGET", required=True, choices=[t.value for t in Target])
    new.add_argument("-m", action="store_true", help="the class needs MySQL")
    new.add_argument("--python", default="3.11", metavar="X.Y", help="Python version (default 3.11)")
    new.set_defaults(func=cmd_new_class)

    workflows = command("workflows", "(re)generate .github/workflows/<class>.yml for every class")
    workflows.add_argument(
        "--check", action="store_true",
        help="write nothing; exit 1 when a workflow is missing, differs or is stale, or a hand-written one watches a class",
    )
    workflows.set_defaults(func=cmd_workflows)

    export = command("export-env", "copy a class's released env files (latest/) into a folder")
    export.add_argument("class_key", metavar="CLASS")
    export.add_argument("dest", metavar="DIR", type=Path)
    export.set_defaults(func=cmd_export_env)

    command("doctor", "check the prerequisites; one line per check, with a fix").set_defaults(func=cmd_doctor)

    quick = command("quickstart", "build one example class end to end on the embedded defaults")
    quick.add_argument("--class", dest="class_key", help="class to build (online profile; default: the first)")
    profile = quick.add_mutually_exclusive_group()
    profile.add_argument("--offline", dest="offline", action="store_const", const=True, help="force the offline profile")
    profile.add_argument("--online", dest="offline", action="store_const", const=False, help="force the online profile")
    quick.set_defaults(func=cmd_quickstart, offline=None)

    ui = command("ui", "the Dagster UI (dagster dev) on the quickstart's profile, settings and stand-ins")
    ui_profile = ui.add_mutually_exclusive_group()
    ui_profile.add_argument("--offline", dest="offline", action="store_const", const=True, help="force the offline profile")
    ui_profile.add_argument("--online", dest="offline", action="store_const", const=False, help="force the online profile")
    ui.add_argument("--port", type=int, default=3000, help="port of the UI (default 3000)")
    ui.add_argument("--host", default="127.0.0.1", help="address of the UI (default 127.0.0.1: Dagster has no login)")
    ui.set_defaults(func=cmd_ui, offline=None)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Not a parser default: actions are shared with the subparsers, whose default would win.
    args.requirements = getattr(args, "requirements", Path("requirements"))
    return args.func(args)


if __name__ == "__main__":
    sys.exit(main())
