#!/bin/bash
# Build-only CA bundle for TLS-inspecting proxies (one implementation for every stage that downloads).
#   build-ca.sh EXTRA_CA_FILE [DEST_DIR]
# An empty or missing EXTRA_CA_FILE means none. DEST_DIR (default /usr/local/share/jh-build-ca) gets
# env.sh, which a networked step sources: it points pip, requests, curl, OpenSSL and Julia's Pkg at
# ca-bundle.crt = the system bundle + the extra CAs. Helper stages only: never in a pushed layer.
# Used by the Dockerfile's `ca` stage (and so by the Julia download and Pkg in julia_depot) and by the
# offline foundation image (scripts/build-foundation.sh copies it into that context). In the build
# context it is scripts/image/build-ca.sh (jh_pipeline.images.context lays the context out).
set -euo pipefail
extra=${1:?usage: build-ca.sh EXTRA_CA_FILE [DEST_DIR]}
dest=${2:-/usr/local/share/jh-build-ca}
mkdir -p "$dest"
if [ -s "$extra" ]; then
    cp "$extra" "$dest/extra.crt"
    { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat "$extra"; } >"$dest/ca-bundle.crt"
    b="$dest/ca-bundle.crt"
    echo "export PIP_CERT=$b SSL_CERT_FILE=$b REQUESTS_CA_BUNDLE=$b CURL_CA_BUNDLE=$b JULIA_SSL_CA_ROOTS_PATH=$b" \
        >"$dest/env.sh"
else
    echo ": no extra CA bundle" >"$dest/env.sh"
fi
