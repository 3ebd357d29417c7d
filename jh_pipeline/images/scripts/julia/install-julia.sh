#!/usr/bin/env bash
# Install Julia from a release tarball, verified by sha256 BEFORE anything is unpacked.
# Runs inside the image build (r_julia stage of the Dockerfile), as root.
#
#   JULIA_URL      tarball URL (https://, http:// or file://), e.g. the official
#                  https://julialang-s3.julialang.org/bin/linux/x64/1.10/julia-1.10.10-linux-x86_64.tar.gz
#   JULIA_SHA256   its sha256 (64 hex digits, optional "sha256:" prefix); required: an empty value
#                  fails, nothing is ever installed unverified
#   JULIA_PREFIX   parent directory of the install (default /opt): Julia goes to $JULIA_PREFIX/julia-<version>
#   JULIA_INSTALL_DIR  where Julia goes instead (e.g. /opt/julia: a path a later stage can COPY)
#   JULIA_BIN_LINK symlink to create (default /usr/local/bin/julia)
#
# The version comes from the unpacked `bin/julia --version`, so any release tarball works.
# Every failure exits non-zero with a message on stderr that names the problem.
set -euo pipefail

JULIA_PREFIX=${JULIA_PREFIX:-/opt}
JULIA_BIN_LINK=${JULIA_BIN_LINK:-/usr/local/bin/julia}
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

die() { echo "install-julia: ERROR: $*" >&2; exit 1; }
log() { echo "install-julia: $*" >&2; }

url=${JULIA_URL:-}
[ -n "$url" ] || die "JULIA_URL is empty: set JH_JULIA_URL (build arg JULIA_URL) to a Julia release tarball"
expected=$(printf '%s' "${JULIA_SHA256:-}" | tr -d '[:space:]' | tr '[:upper:]' '[:lower:]')
expected=${expected#sha256:}
if [ -z "$expected" ]; then
    die "JULIA_SHA256 is empty: set JH_JULIA_SHA256 (build arg JULIA_SHA256) to the sha256 of $url;" \
        "refusing to install an unverified download"
fi
[[ "$expected" =~ ^[0-9a-f]{64}$ ]] \
    || die "JULIA_SHA256 '$expected' is not a sha256 (64 hex digits): check JH_JULIA_SHA256"

# The extra CA bundle of the build (TLS-inspecting proxies): env.sh of the `ca` stage (build-ca.sh).
ca_env=${JH_BUILD_CA_ENV:-/usr/local/share/jh-build-ca/env.sh}
if [ -f "$ca_env" ]; then
    # shellcheck source=/dev/null
    . "$ca_env"
fi

work=$(mktemp -d /tmp/jh-julia-install.XXXXXX)
trap 'rm -rf "$work"' EXIT
archive="$work/julia.tar.gz"

# Download with the image's Python (curl is not in base-notebook): follows redirects, honours
# SSL_CERT_FILE, retries transient failures, fails on HTTP errors.
log "downloading $url"
python3 - "$url" "$archive" <<'PY' || die "download of $url failed (see above)"
import os, shutil, ssl, sys, time, urllib.request
url, dest = sys.argv[1], sys.argv[2]
cafile = os.environ.get("SSL_CERT_FILE") or None
context = ssl.create_default_context(cafile=cafile)
for attempt in range(1, 4):
    try:
        with urllib.request.urlopen(url, timeout=120, context=context) as resp, open(dest, "wb") as out:
            shutil.copyfileobj(resp, out, 1 << 20)
        break
    except Exception as exc:
        print(f"install-julia: attempt {attempt}: {type(exc).__name__}: {exc}", file=sys.stderr)
        if attempt == 3 or (hasattr(exc, "code") and 400 <= exc.code < 500):
            sys.exit(1)
        time.sleep(2 * attempt)
PY

# Verify before unpacking: sha256sum -c is the check, the message says what differed.
actual=$(sha256sum "$archive" | cut -d' ' -f1)
if ! echo "$expected  $archive" | sha256sum -c --status -; then
    die "sha256 mismatch for $url: expected $expected, got $actual (JH_JULIA_SHA256 / build arg JULIA_SHA256)"
fi
log "sha256 verified: $actual"

# Unpack into a staging dir on the target filesystem, then move into place under its version.
mkdir -p "$JULIA_PREFIX"
staging=$(mktemp -d "$JULIA_PREFIX/.julia-staging.XXXXXX")
trap 'rm -rf "$work" "$staging"' EXIT
tar -xzf "$archive" -C "$staging" --no-same-owner || die "$url is not a readable .tar.gz"
rm -f "$archive"
mapfile -t found < <(find "$staging" -mindepth 1 -maxdepth 3 -path '*/bin/julia' -type f)
[ "${#found[@]}" -eq 1 ] || die "expected exactly one bin/julia in the tarball from $url, found ${#found[@]}"
root=$(dirname "$(dirname "${found[0]}")")

version_line=$("$root/bin/julia" --startup-file=no --version 2>&1) \
    || die "the unpacked julia does not run (wrong architecture for this image?): $version_line"
version=$(printf '%s\n' "$version_line" | sed -n 's/^julia version \([0-9][0-9A-Za-z.+-]*\).*/\1/p' | head -n 1)
[ -n "$version" ] || die "cannot read the Julia version from '$version_line'"

dest=${JULIA_INSTALL_DIR:-$JULIA_PREFIX/julia-$version}
[ ! -e "$dest" ] || die "$dest already exists"
mv "$root" "$dest"
chmod -R a+rX,go-w "$dest"
ln -sfn "$dest/bin/julia" "$JULIA_BIN_LINK"
"$JULIA_BIN_LINK" --startup-file=no --version >/dev/null || die "$JULIA_BIN_LINK does not run"
log "installed Julia $version in $dest ($JULIA_BIN_LINK)"
