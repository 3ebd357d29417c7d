#!/bin/sh
# Stand-in for `julia` in tests (packed into a tarball by the test): records how it was
# called and writes the sample env files where the resolve script would.
set -eu
shift 2  # --startup-file=no --history-file=no
script="$1"
out="$2"
shift 2
printf '%s\n' "$@" > "$out/args.txt"
printf '%s\n' "$JULIA_PKG_PRECOMPILE_AUTO" "$JULIA_DEPOT_PATH" > "$out/env.txt"
cp "$FAKE_JULIA_DATA/Project_sample.toml" "$out/Project.toml"
cp "$FAKE_JULIA_DATA/Manifest_v2_sample.toml" "$out/Manifest.toml"
echo "fake julia ran $script"
