#!/usr/bin/env bash
# Serve the files of SRC_DIR as a one-commit git repository on git://127.0.0.1:PORT/NAME.
# git daemon, not dumb HTTP: nbgitpuller makes shallow clones, which the dumb protocol cannot serve.
#
# Usage: scripts/hub/serve-git.sh SRC_DIR STATE_DIR PORT [NAME [BRANCH]]
# Prints the git daemon's PID on the last line of stdout; stop it by that PID.
set -euo pipefail

src=$1 state=$2 port=$3 name=${4:-lesson-material} branch=${5:-main}
work=$state/work
repos=$state/repos

mkdir -p "$work" "$repos"
cp -a "$src/." "$work/"
git -C "$work" init -q -b "$branch"
git -C "$work" add -A
git -C "$work" -c user.name="jh_pipeline tests" -c user.email="tests@127.0.0.1" \
    commit -q -m "lesson material"
# The bare repository's directory has no .git suffix: nbgitpuller names its clone after the URL.
git clone -q --bare "$work" "$repos/$name"

# The daemon binary itself (not the `git` wrapper), so the printed PID is the one to stop.
"$(git --exec-path)/git-daemon" --listen=127.0.0.1 --port="$port" --reuseaddr --export-all \
    --base-path="$repos" --informative-errors --verbose "$repos" \
    </dev/null >"$state/git-daemon.log" 2>&1 &
echo $!
