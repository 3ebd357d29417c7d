# Sourced (not run) by the Julia steps of the r_julia stage: trust an extra CA bundle during the build.
# /tmp/jh-julia/extra-ca.crt is build/ca/extra-ca.crt from the context (empty = no extra CA). The base
# stage removed its own build-only bundle, so this stage makes its own: system bundle + extra CAs in
# /tmp/jh-julia/ca-bundle.crt, used by the download (SSL_CERT_FILE) and by Julia's Pkg
# (JULIA_SSL_CA_ROOTS_PATH). The stage deletes /tmp/jh-julia at its end.
if [ -s /tmp/jh-julia/extra-ca.crt ]; then
    if [ ! -s /tmp/jh-julia/ca-bundle.crt ]; then
        { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat /tmp/jh-julia/extra-ca.crt; } \
            > /tmp/jh-julia/ca-bundle.crt
        chmod 0644 /tmp/jh-julia/ca-bundle.crt
    fi
    export SSL_CERT_FILE=/tmp/jh-julia/ca-bundle.crt \
        REQUESTS_CA_BUNDLE=/tmp/jh-julia/ca-bundle.crt \
        CURL_CA_BUNDLE=/tmp/jh-julia/ca-bundle.crt \
        JULIA_SSL_CA_ROOTS_PATH=/tmp/jh-julia/ca-bundle.crt
fi
