"""`jh-pipeline`: the project's own command line (validate, scaffold, workflows, releases)."""

from __future__ import annotations

import argparse
import sys
from datetime import date
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from jh_pipeline.catalog import Target, load_catalog
from jh_pipeline.settings import PipelineSettings

if TYPE_CHECKING:
    from jh_pipeline.store.base import ArtifactStore


def _repo_root(requirements: Path) -> Path:
    return requirements.resolve().parent


def _settings() -> PipelineSettings:
    """The one settings model, read once per command (the environment and jh_pipeline.yaml)."""
    from jh_pipeline.defs.context import repo_root
    from jh_pipeline.settings import load_pipeline_settings

    return load_pipeline_settings(repo_root())


def cmd_validate(args: argparse.Namespace) -> int:
    catalog = load_catalog(args.requirements)
    findings = catalog.all_findings()
    for finding in findings:
        print(finding.format())
    errors = sum(f.is_error for f in findings)
    checked = len(catalog.classes) + len(catalog.left_out)
    print(f"{checked} classes checked: {errors} error(s), {len(findings) - errors} warning(s)", file=sys.stderr)
    return 1 if errors else 0


def preflight_settings(args: argparse.Namespace, settings: PipelineSettings) -> object:
    """Preflight's settings: the pipeline's endpoints and the flags."""
    from jh_pipeline.defs.resources import parse_channel_map
    from jh_pipeline.envs.pip_lock import PipIndexConfig
    from jh_pipeline.preflight import PreflightSettings

    endpoints = settings.endpoints
    return PreflightSettings(
        channel_map=parse_channel_map(endpoints.channel_map),
        channel_alias=endpoints.channel_alias,
        pip=PipIndexConfig.of(endpoints.pip_index_url, endpoints.extra_ca_bundle),
        cran_repo=endpoints.cran_repo,
        bioc_repo=args.bioc_repo,
        ca_bundle=endpoints.extra_ca_bundle or None,
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
        settings = preflight_settings(args, _settings())
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
    from jh_pipeline.defs.resources import open_store

    settings = _settings()
    ctx = PipelineContext.from_settings(settings)
    spec = ctx.catalog.classes.get(args.class_key)
    if spec is None:
        print(f"error: no class '{args.class_key}' in {ctx.catalog.root}", file=sys.stderr)
        return 1
    semester = ctx.semester(spec, date.today())
    released = open_store(settings.store).read_latest_set(semester, spec.key)
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


def _class_spec(class_key: str, settings: PipelineSettings) -> tuple[object, object] | None:
    """(pipeline context, class) from the settings, or None after printing why not."""
    from jh_pipeline.defs.context import PipelineContext

    ctx = PipelineContext.from_settings(settings)
    spec = ctx.catalog.classes.get(class_key)
    if spec is None or spec.config is None:
        why = "has errors (run jh-pipeline validate)" if spec is not None else f"is not in {ctx.catalog.root}"
        print(f"error: class '{class_key}' {why}", file=sys.stderr)
        return None
    return ctx, spec


def _move_production(class_key: str, action: str, target: str | None) -> int:
    """Promote or roll back as a Dagster materialization of `<class>/production`, recorded in the
    instance of DAGSTER_HOME (where the UI shows it); without DAGSTER_HOME in a throwaway one."""
    import os

    import dagster as dg

    from jh_pipeline.definitions import build_definitions
    from jh_pipeline.defs.resources import resources_from_settings
    from jh_pipeline.release.pointers import actor

    settings = _settings()
    found = _class_spec(class_key, settings)
    if found is None:
        return 1
    ctx, spec = found
    defs = build_definitions(ctx, settings)  # type: ignore[arg-type]
    key = dg.AssetKey([class_key, "production"])
    if os.environ.get("DAGSTER_HOME"):
        instance = dg.DagsterInstance.get()
    else:
        print("note: DAGSTER_HOME is not set: the move is recorded in the store only, not in a Dagster instance",
              file=sys.stderr)
        instance = dg.DagsterInstance.ephemeral()
    config = {"action": action, "target": target or "", "by": actor()}
    result = dg.materialize(
        list(defs.assets or []), selection=[key], instance=instance, resources=resources_from_settings(settings),
        run_config={"ops": {f"{class_key}__production": {"config": config}}},
        tags={"class": class_key, "jh/action": action}, raise_on_error=False,
    )
    failures = [e for e in result.all_events if e.is_step_failure]
    if not result.success:
        for event in failures:
            data = event.step_failure_data
            print(f"error: {data.user_failure_data.description if data.user_failure_data else data.error.message}",
                  file=sys.stderr)
        if not failures:
            print(f"error: the {action} run of {class_key} failed (run {result.run_id})", file=sys.stderr)
        return 1
    [event] = [e for e in result.get_asset_materialization_events() if e.asset_key == key]
    meta = {k: v.value for k, v in event.materialization.metadata.items()}
    if meta.get("skipped"):
        print(f"{class_key}: production already is {meta['image_tag']} ({meta['to_digest']})")
    else:
        print(f"{class_key}: {action}: {meta['tag']} {meta['from_set'] or '(none)'} -> {meta['image_tag']} "
              f"({meta['to_digest']}) by {meta['by']} at {meta['at']} (run {result.run_id})")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    return _move_production(args.class_key, "promote", args.source)


def cmd_rollback(args: argparse.Namespace) -> int:
    return _move_production(args.class_key, "rollback", args.to)


def _released(class_key: str) -> tuple[PipelineSettings, ArtifactStore, str] | None:
    """Settings, store and this semester of a valid class (None after saying why it is not one)."""
    from jh_pipeline.defs.resources import open_store

    settings = _settings()
    found = _class_spec(class_key, settings)
    if found is None:
        return None
    ctx, spec = found
    return settings, open_store(settings.store), ctx.semester(spec, date.today())


def cmd_history(args: argparse.Namespace) -> int:
    from jh_pipeline.release.history import format_history, history_rows
    from jh_pipeline.release.records import read_records
    from jh_pipeline.store.base import POINTERS

    released = _released(args.class_key)
    if released is None:
        return 1
    _, store, semester = released
    pointers = {p: getattr(store.read_pointer_manifest(semester, args.class_key, p), "set_id", None) for p in POINTERS}
    rows = history_rows(read_records(store, semester, args.class_key), pointers)
    sys.stdout.write(format_history(args.class_key, semester, rows))
    return 0


def cmd_hub_config(args: argparse.Namespace) -> int:
    from jh_pipeline.release.hub import DOCKERSPAWNER_CONFIG, Z2JH_VALUES

    found = _released(args.class_key)
    if found is None:
        return 1
    settings, store, semester = found
    pointer = args.pointer or settings.docker.hub_tag
    released = store.read_pointer_set(semester, args.class_key, pointer)
    if released is None or Z2JH_VALUES not in released[1]:
        hint = f"jh-pipeline promote {args.class_key}" if pointer == "production" else "materialize its release"
        print(f"error: {args.class_key} has no {pointer} hub settings in {semester}: {hint}", file=sys.stderr)
        return 1
    manifest, files = released
    print(f"# {args.class_key} {pointer} ({semester}): set {manifest.set_id}")
    print(f"# --- Zero to JupyterHub ({Z2JH_VALUES}) ---")
    sys.stdout.write(files[Z2JH_VALUES].decode())
    print(f"# --- DockerSpawner ({DOCKERSPAWNER_CONFIG}) ---")
    sys.stdout.write(files[DOCKERSPAWNER_CONFIG].decode())
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from jh_pipeline.doctor import run_doctor

    return run_doctor(_settings())


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

    promote = command("promote", "move a class's production pointer (:production, production/) to a released image")
    promote.add_argument("class_key", metavar="CLASS")
    promote.add_argument("--from", "--target", dest="source", metavar="TAG|SET",
                         help="image tag or set id to promote (default: the current latest)")
    promote.set_defaults(func=cmd_promote)

    rollback = command("rollback", "move a class's production pointer back")
    rollback.add_argument("class_key", metavar="CLASS")
    rollback.add_argument("--to", "--target", dest="to", metavar="TAG|SET", help="image tag or set id (default: the previous production)")
    rollback.set_defaults(func=cmd_rollback)

    history = command("history", "every released set of a class: date, tag, digest, size, package changes, pointers")
    history.add_argument("class_key", metavar="CLASS")
    history.set_defaults(func=cmd_history)

    hub = command("hub-config", "the hub settings of a class's image, pinned by digest (Zero to JupyterHub, DockerSpawner)")
    hub.add_argument("class_key", metavar="CLASS")
    hub.add_argument("--pointer", choices=["latest", "production"],
                     help="which release (default: JH_HUB_TAG, else production)")
    hub.set_defaults(func=cmd_hub_config)

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
