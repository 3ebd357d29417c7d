#!/usr/bin/env bash
# Materialize the assets of one class, then export its environment files for upload.
#
#   scripts/ci/materialize-class.sh CLASS [--force | --force=true|false]
#
# --force re-solves and rebuilds even when the inputs are unchanged (run config
# resources.run_options.config.force). The workflow passes its force_resolve input as
# --force=VALUE (empty on push events: not forced).
#
# Guarded: `dagster asset materialize --select S` materializes EVERY asset when S matches
# nothing, so the selection is listed first and the run only goes ahead when it matches at
# least one asset and only assets under the CLASS/ key prefix. The run then names exactly
# those keys.
#
# Environment:
#   JH_DAGSTER_MODULE  definitions module (default jh_pipeline.definitions)
#   JH_EXPORT_DIR      where the env files go (default .jh_artifacts/export/CLASS)
#   JH_EXPORT          false to skip the export (e.g. local runs)
#   other JH_* settings (store backend, bucket, registry) are read by the pipeline.
set -euo pipefail

die() {
    echo "materialize-class: $*" >&2
    exit 1
}

usage="usage: $0 CLASS [--force | --force=true|false]"
[ "$#" -ge 1 ] && [ "$#" -le 2 ] || die "$usage"
class="$1"
force=false
case "${2-}" in
    "" | --force= | --force=false) ;;
    --force | --force=true) force=true ;;
    *) die "unknown option '$2' ($usage)" ;;
esac
[ -n "$class" ] || die "empty class name"
# Class keys are [a-z0-9_]+ (jh_pipeline.catalog.names); anything else could widen the selection.
[[ "$class" =~ ^[a-z0-9_]+$ ]] || die "'$class' is not a class key ([a-z0-9_]+)"

module="${JH_DAGSTER_MODULE:-jh_pipeline.definitions}"
selection="key:\"$class/*\""

# Dagster's warnings go to stderr; stdout is one asset key per line (parts joined by '/').
listed="$(dagster asset list -m "$module" --select "$selection")" \
    || die "could not list assets of '$class' from module $module"

keys=()
while IFS= read -r key; do
    [ -n "$key" ] || continue
    case "$key" in
        "$class"/*) keys+=("$key") ;;
        *) die "selection $selection matched '$key', which is outside class '$class'; refusing to materialize" ;;
    esac
done <<<"$listed"

[ "${#keys[@]}" -gt 0 ] \
    || die "no asset matches class '$class' (selection $selection in $module); refusing to materialize (an empty selection would build every class)"

# A class whose class.yaml is unusable shows only its folder and an env step that names its errors.
[[ " ${keys[*]} " == *" $class/image "* ]] \
    || die "class $class has errors; run jh-pipeline validate"

# The shared server env and image go first: they cost a lookup when they exist, and the class
# image builds FROM the server image they record. Listed by exact key, so nothing else joins.
shared="$(dagster asset list -m "$module" --select 'key:"common/server_env" or key:"common/server_image"')" \
    || die "could not list the shared server assets from module $module"
while IFS= read -r key; do
    case "$key" in
        common/server_env | common/server_image) keys=("$key" "${keys[@]}") ;;
        "") ;;
        *) die "the shared selection matched '$key'; refusing to materialize" ;;
    esac
done <<<"$(printf '%s\n' "$shared" | sort -r)"
joined="$(IFS=,; echo "${keys[*]}")"
echo "materialize-class: materializing ${#keys[@]} asset(s) of '$class': $joined (force=$force)" >&2
dagster asset materialize -m "$module" --select "$joined" \
    --config-json "{\"resources\": {\"run_options\": {\"config\": {\"force\": $force}}}}"

if [ "${JH_EXPORT:-true}" != "false" ]; then
    export_dir="${JH_EXPORT_DIR:-.jh_artifacts/export/$class}"
    jh-pipeline export-env "$class" "$export_dir"
fi
