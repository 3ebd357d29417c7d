#!/usr/bin/env bash
# Install the Debian packages named in the given files (apt.txt format: names or name=version,
# '#' comments), leaving no apt lists or caches behind. Nothing named: apt is not touched at all.
# Usage (in the image build): apt-install.sh FILE...
set -euo pipefail
packages=$(sed -e 's/#.*//' "$@" | tr -s '[:space:]' '\n' | sed -e '/^$/d')
[ -n "$packages" ] || exit 0
apt-get update
# shellcheck disable=SC2086  # one word per package, on purpose
apt-get install -y --no-install-recommends $packages
apt-get clean
rm -rf /var/lib/apt/lists/*
