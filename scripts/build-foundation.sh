#!/usr/bin/env bash
# Build the foundation image (docker/foundation/: stand-in for quay.io/jupyter/docker-stacks-foundation)
# on top of the local debootstrap base.
#
# Usage: scripts/build-foundation.sh
#   BASE_IMAGE        (default jh-local/debian:bookworm; scripts/build-local-base.sh makes it)
#   FOUNDATION_TAG    (default jh-local/foundation:latest)
#   EXTRA_CA_BUNDLE   CA file trusted for HTTPS during the build (default: the host's
#                     /etc/ssl/certs/ca-certificates.crt, so a TLS-inspecting proxy's CA works inside
#                     the build as it does on the host; set to "" to pass none)
#   KEEP_CA_BUNDLE=1  also keep those CAs trusted in the image
#   PIP_INDEX_URL     forwarded when set
#   FORCE=1           rebuild even when the image is up to date (the layer cache still applies)
set -euo pipefail

REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BASE_IMAGE=${BASE_IMAGE:-jh-local/debian:bookworm}
TAG=${FOUNDATION_TAG:-jh-local/foundation:latest}
CA_BUNDLE=${EXTRA_CA_BUNDLE-/etc/ssl/certs/ca-certificates.crt}

log() { echo "build-foundation: $*" >&2; }

if ! docker image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "base image $BASE_IMAGE missing: run scripts/build-local-base.sh first"
    exit 1
fi

# Skip only when the existing image was built from the same recipe on the same base: the label
# holds a hash of docker/foundation/, the CA script it shares with the Dockerfile, and the base image
# id, so an edited recipe rebuilds.
LABEL_KEY=org.jh-pipeline.foundation-recipe
recipe=$(
    cd "$REPO_ROOT/docker/foundation"
    { find . -type f -print0 | LC_ALL=C sort -z | xargs -0 sha256sum
      sha256sum "$REPO_ROOT/jh_pipeline/images/scripts/build-ca.sh" | cut -d' ' -f1
      docker image inspect --format '{{.Id}}' "$BASE_IMAGE"; } | sha256sum | cut -c1-16
)
current=$(docker image inspect --format "{{ index .Config.Labels \"$LABEL_KEY\" }}" "$TAG" 2>/dev/null || true)
if [[ "${FORCE:-0}" != 1 && "$current" == "$recipe" ]]; then
    log "$TAG is up to date (recipe $recipe); skipping (FORCE=1 rebuilds)"
    exit 0
fi

# The CA bundle goes into a throw-away copy of the context, never into the repository.
CTX=$(mktemp -d /var/tmp/jh-foundation-ctx.XXXXXX)
trap 'rm -rf "$CTX"' EXIT
cp -a "$REPO_ROOT/docker/foundation/." "$CTX/"
cp "$REPO_ROOT/jh_pipeline/images/scripts/build-ca.sh" "$CTX/build-ca.sh"
args=(--build-arg "BASE_IMAGE=$BASE_IMAGE" --label "$LABEL_KEY=$recipe")
if [[ -n "$CA_BUNDLE" && -s "$CA_BUNDLE" ]]; then
    cp "$CA_BUNDLE" "$CTX/build-ca-bundle.crt"
    args+=(--build-arg EXTRA_CA_BUNDLE=build-ca-bundle.crt)
fi
[[ "${KEEP_CA_BUNDLE:-0}" == 1 ]] && args+=(--build-arg KEEP_CA_BUNDLE=1)
[[ -n "${PIP_INDEX_URL:-}" ]] && args+=(--build-arg "PIP_INDEX_URL=$PIP_INDEX_URL")

# Host networking: no bridge exists on these machines (dockerd runs with --bridge=none).
# DOCKER_BUILDKIT=0: the same classic builder docker-py uses, and Debian ships no buildx.
start=$SECONDS
DOCKER_BUILDKIT=0 docker build --network host "${args[@]}" -t "$TAG" "$CTX" >&2
log "built $TAG in $((SECONDS - start))s"
