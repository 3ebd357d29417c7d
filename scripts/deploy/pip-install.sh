#!/usr/bin/env bash
# pip install into the deployment image's virtualenv (deploy/Dockerfile, `venv` stage only), trusting
# the build-only CA certificates in /tmp/build-ca/*.crt besides the image's own.
set -euo pipefail
shopt -s nullglob
extra=(/tmp/build-ca/*.crt)
if ((${#extra[@]})); then
    cat /etc/ssl/certs/ca-certificates.crt "${extra[@]}" > /tmp/build-ca/bundle.pem
    export PIP_CERT=/tmp/build-ca/bundle.pem
fi
[ -x /opt/dagster/venv/bin/pip ] || python3 -m venv /opt/dagster/venv
exec /opt/dagster/venv/bin/pip install --no-cache-dir --disable-pip-version-check "$@"
