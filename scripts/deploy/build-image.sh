#!/usr/bin/env bash
# Build the deployment image (deploy/Dockerfile) with the engine's classic builder, on host networking.
#   bash scripts/deploy/build-image.sh TAG [--base IMAGE] [--ca PEM_FILE] [--git-sha SHA]
# --base  the Python base image (default: the Dockerfile's, python:3.11-slim-bookworm)
# --ca    a CA bundle pip trusts during the build only (TLS-inspecting proxies): it goes into the
#         build context as deploy/build-ca/extra.crt, never into the checkout or the final image
# The context is what the Dockerfile copies, as a tar archive (sorted names, fixed owners and times,
# so unchanged files hit the build cache).
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
tag=${1:?usage: build-image.sh TAG [--base IMAGE] [--ca PEM_FILE] [--git-sha SHA]}
shift
args=()
ca=""
while (($#)); do
    case $1 in
        --base) args+=(--build-arg "BASE_IMAGE=$2"); shift 2 ;;
        --ca) ca=$2; shift 2 ;;
        --git-sha) args+=(--build-arg "GIT_SHA=$2"); shift 2 ;;
        *) echo "build-image.sh: unknown option $1" >&2; exit 2 ;;
    esac
done

paths=(pyproject.toml jh_pipeline Dockerfile scripts docker requirements deploy/Dockerfile
       deploy/dagster.yaml deploy/workspace.yaml deploy/build-ca/README.md)
# One archive: the checkout's files, then the CA appended under its build-context name.
context_tar() {
    local tmp
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' RETURN
    tar -c -C "$repo" --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 \
        --exclude=__pycache__ --exclude='*.pyc' --exclude='deploy/build-ca/*.crt' -f "$tmp/ctx.tar" "${paths[@]}"
    if [ -n "$ca" ]; then
        tar -r -f "$tmp/ctx.tar" -C "$(dirname "$ca")" --owner=0 --group=0 --numeric-owner --mtime=@0 \
            --transform="s|^$(basename "$ca")\$|deploy/build-ca/extra.crt|" "$(basename "$ca")"
    fi
    cat "$tmp/ctx.tar"
}
ctx=$(mktemp)
trap 'rm -f "$ctx"' EXIT
context_tar >"$ctx"
# The venv stage gets a tag of its own ($tag-venv): an untagged stage image is dangling, and a prune
# of dangling images would make every later build reinstall the dependencies.
docker build --network host -f deploy/Dockerfile --target venv -t "$tag-venv" "${args[@]}" - <"$ctx"
docker build --network host -f deploy/Dockerfile -t "$tag" "${args[@]}" - <"$ctx"
