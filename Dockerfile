# The class image, one Dockerfile for every class. Stages:
#   conda_env  helper: installs the class conda env from its lock with py-rattler
#   base     Python: the class conda env from its lock + pip lock + Jupyter kernel
#   r_lang   base + R: the class env's R (r-base, r-irkernel from the lock) as Jupyter kernel `ir`,
#            plus the class's packages.R against a configurable CRAN mirror (CRAN_REPO)
#   r_julia  r_lang + Julia    (placeholder)
# MySQL (INSTALL_MYSQL=1, class.yaml `mysql: true`): MariaDB server + client in the base stage,
# started by the notebook user with start-mysql.sh.
# The build context is laid out by jh_pipeline.images.context.prepare_build_context:
#   Dockerfile, scripts/image/, build/apt/{common,class}.txt, build/conda/conda-lock.yml,
#   build/pip/requirements.pip.lock, build/r/packages.R, build/ca/extra-ca.crt (empty = no extra CA).
# Layers go from what all classes share to what one class owns (like repo2docker), so a rebuild
# after a class change reuses everything above the class's own files, and a pip-only change keeps
# the conda layer. Built with the classic builder (docker-py): no RUN --mount, no heredocs.

# Production: the official Jupyter base-notebook image. Pin it by digest in production, e.g.
#   quay.io/jupyter/base-notebook@sha256:<digest of the 2024-12-09 tag>
# The hermetic tests override it with jh-local/foundation:latest (docker/foundation/).
ARG BASE_IMAGE=quay.io/jupyter/base-notebook:2024-12-09

# --- conda_env: helper stage, installs the class env; only /opt/envs reaches the image -----------
# py-rattler (~100 MB with its venv) and its download cache stay in this stage, so the class image
# holds the env itself and nothing of the tool that installed it.
FROM ${BASE_IMAGE} AS conda_env

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
# root (numeric, so it resolves whatever the base image's passwd says); this stage never runs as a
# container, only its /opt/envs is copied out.
# hadolint ignore=DL3002
USER 0

# Extra CA bundle for TLS-inspecting proxies: EXTRA_CA_BUNDLE names a file in the context (empty =
# none). System bundle + extra CAs go to a build-only bundle; each networked step sources env.sh,
# which points PIP_CERT/SSL_CERT_FILE/REQUESTS_CA_BUNDLE at it. The base stage copies it for its pip
# step and removes it at the end unless KEEP_CA_BUNDLE=1.
ARG EXTRA_CA_BUNDLE=build/ca/extra-ca.crt
COPY ${EXTRA_CA_BUNDLE} /tmp/jh-extra-ca.crt
RUN mkdir -p /usr/local/share/jh-build-ca \
 && if [ -s /tmp/jh-extra-ca.crt ]; then \
        cp /tmp/jh-extra-ca.crt /usr/local/share/jh-build-ca/extra.crt \
     && { cat /etc/ssl/certs/ca-certificates.crt 2>/dev/null || true; cat /tmp/jh-extra-ca.crt; } \
            > /usr/local/share/jh-build-ca/ca-bundle.crt \
     && b=/usr/local/share/jh-build-ca/ca-bundle.crt \
     && echo "export PIP_CERT=$b SSL_CERT_FILE=$b REQUESTS_CA_BUNDLE=$b" > /usr/local/share/jh-build-ca/env.sh; \
    else \
        echo ": no extra CA bundle" > /usr/local/share/jh-build-ca/env.sh; \
    fi \
 && rm -f /tmp/jh-extra-ca.crt

# py-rattler installs the class env from its lock: the same library that solved and locked it.
# Shared by all classes (declared before CLASS_NAME, so this layer is cached across classes).
ARG PIP_INDEX_URL=https://pypi.org/simple
ARG RATTLER_VERSION=0.28.0
RUN . /usr/local/share/jh-build-ca/env.sh \
 && python3 -m venv /opt/jh-tools \
 && /opt/jh-tools/bin/python -m pip install --no-cache-dir --disable-pip-version-check \
        "py-rattler==${RATTLER_VERSION}" \
 && rm -rf /root/.cache
COPY scripts/image/install-conda-lock.py /opt/jh-tools/bin/install-conda-lock.py

# The class conda env: exactly the locked linux-64 records (download, hash check, link); the
# package cache is a temp dir the script removes.
ARG CLASS_NAME
COPY build/conda/conda-lock.yml /tmp/jh-conda/conda-lock.yml
RUN test -n "${CLASS_NAME}" || { echo "build arg CLASS_NAME is required" >&2; exit 1; }; \
    . /usr/local/share/jh-build-ca/env.sh \
 && /opt/jh-tools/bin/python /opt/jh-tools/bin/install-conda-lock.py \
        /tmp/jh-conda/conda-lock.yml "/opt/envs/${CLASS_NAME}" \
 && "/opt/envs/${CLASS_NAME}/bin/python" -c "import sys; print(sys.prefix, sys.version)" \
 && rm -rf /tmp/jh-conda /root/.cache

# --- base: the class image (Python) -----------------------------------------------------------
FROM ${BASE_IMAGE} AS base

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0
ARG DEBIAN_FRONTEND=noninteractive

# OS packages every class gets (requirements/common/apt.txt; one name or name=version per word,
# '#' comments). An empty list skips apt entirely.
COPY scripts/image/apt-install.sh /usr/local/bin/jh-apt-install
COPY build/apt/common.txt /tmp/jh-apt/common.txt
RUN jh-apt-install /tmp/jh-apt/common.txt && rm -rf /tmp/jh-apt

# MySQL for classes that ask for it (INSTALL_MYSQL=1): a MariaDB server and client from the base
# image's OS (Debian/Ubuntu names below) and start-mysql.sh, which the notebook user runs to start a
# server on demand: data in ~/.mysql, listening on its socket and 127.0.0.1 only. Before the class's
# own layers, so classes without MySQL share this (empty) layer and classes with MySQL share it too.
ARG INSTALL_MYSQL=0
ARG MYSQL_PACKAGES="mariadb-server-core mariadb-client-core"
COPY scripts/image/start-mysql.sh /tmp/jh-mysql/start-mysql.sh
RUN if [ "${INSTALL_MYSQL}" = 1 ]; then \
        echo "${MYSQL_PACKAGES}" > /tmp/jh-mysql/packages \
     && jh-apt-install /tmp/jh-mysql/packages \
     && install -m 0755 /tmp/jh-mysql/start-mysql.sh /usr/local/bin/start-mysql.sh; \
    fi \
 && rm -rf /tmp/jh-mysql

# --- owned by the class ------------------------------------------------------------------------
ARG CLASS_NAME

# The class's own OS packages (requirements/classes/<class>/apt.txt).
COPY build/apt/class.txt /tmp/jh-apt/class.txt
RUN jh-apt-install /tmp/jh-apt/class.txt && rm -rf /tmp/jh-apt

# The class env, owned by the notebook user like CONDA_DIR in docker-stacks (chowned while copied,
# so no file is stored twice). Same path in both stages, so prefixes baked into files stay right.
COPY --from=conda_env --chown=${NB_UID}:${NB_GID} /opt/envs /opt/envs
COPY --from=conda_env /usr/local/share/jh-build-ca /usr/local/share/jh-build-ca

# pip-only packages after the conda layer, so a pip change never reinstalls the conda env.
# --no-deps: the lock already lists every distribution (with hashes, which pip then enforces).
# An env without pip gets the notebook stack's pip (CONDA_DIR) pointed at it (pip --python).
# (ARGs are per stage: PIP_INDEX_URL is declared again here.)
ARG PIP_INDEX_URL=https://pypi.org/simple
COPY build/pip/requirements.pip.lock /tmp/jh-pip/requirements.pip.lock
RUN env_dir="/opt/envs/${CLASS_NAME}" \
 && if grep -qv -e '^[[:space:]]*#' -e '^[[:space:]]*$' /tmp/jh-pip/requirements.pip.lock; then \
        . /usr/local/share/jh-build-ca/env.sh \
     && if "${env_dir}/bin/python" -m pip --version >/dev/null 2>&1; then \
            set -- "${env_dir}/bin/python" -m pip; \
        else \
            set -- python3 -m pip --python "${env_dir}/bin/python"; \
        fi \
     && "$@" install --no-cache-dir --disable-pip-version-check --no-deps \
            -r /tmp/jh-pip/requirements.pip.lock \
     && find "${env_dir}" -user 0 -exec chown -h "${NB_UID}:${NB_GID}" {} +; \
    fi \
 && rm -rf /tmp/jh-pip /root/.cache

# The class's Jupyter kernel, registered where the notebook server looks (CONDA_DIR/share/jupyter).
# REGISTER_KERNEL=0 only for envs without ipykernel (test builds).
ARG REGISTER_KERNEL=1
ARG KERNEL_DISPLAY_NAME="Python (${CLASS_NAME})"
# HOME points at a scratch dir: IPython would otherwise leave a root-owned ~/.ipython in the user's home.
RUN if [ "${REGISTER_KERNEL}" = 1 ]; then \
        HOME=/tmp/jh-kernel-home "/opt/envs/${CLASS_NAME}/bin/python" -m ipykernel install --prefix "${CONDA_DIR}" \
            --name "${CLASS_NAME}" --display-name "${KERNEL_DISPLAY_NAME}" \
     && chown -R "${NB_UID}:${NB_GID}" "${CONDA_DIR}/share/jupyter/kernels/${CLASS_NAME}"; \
    fi \
 && rm -rf /tmp/jh-kernel-home /root/.cache /root/.local

# Drop the build-only CA bundle (or, with KEEP_CA_BUNDLE=1, trust the extra CAs in the image too)
# and every cache; hand the home directory to the notebook user.
ARG KEEP_CA_BUNDLE=0
RUN if [ "${KEEP_CA_BUNDLE}" = 1 ] && [ -s /usr/local/share/jh-build-ca/extra.crt ]; then \
        mkdir -p /usr/local/share/ca-certificates \
     && cp /usr/local/share/jh-build-ca/extra.crt /usr/local/share/ca-certificates/jh-extra-ca.crt \
     && { update-ca-certificates \
          || cat /usr/local/share/jh-build-ca/extra.crt >> /etc/ssl/certs/ca-certificates.crt; } \
     && printf '[global]\ncert = /etc/ssl/certs/ca-certificates.crt\n' > /etc/pip.conf; \
    fi \
 && rm -rf /usr/local/share/jh-build-ca /root/.cache "/home/${NB_USER}/.cache" /tmp/jh-* \
 && mkdir -p "/home/${NB_USER}" \
 && find "/home/${NB_USER}" -xdev -user 0 -exec chown -h "${NB_UID}:${NB_GID}" {} +

ENV JH_CLASS_NAME=${CLASS_NAME} \
    JH_CLASS_ENV=/opt/envs/${CLASS_NAME}
WORKDIR /home/${NB_USER}
# NB_UID is numeric (1000) in base-notebook and in the foundation image; hadolint cannot see that.
# hadolint ignore=DL3066
USER ${NB_UID}

# --- R ---------------------------------------------------------------------------------------
# R is the class env's own (production: conda-forge r-base and r-irkernel from the class lock; the
# hermetic tests' r-base stand-in points bin/R at Debian's r-base-core from an apt list).
FROM base AS r_lang

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0

# The R kernel `ir`, registered next to the Python kernel (CONDA_DIR/share/jupyter) and pointing at
# the class env's R. Needs IRkernel in the env's R library (r-irkernel in the class's conda list).
ARG R_KERNEL_DISPLAY_NAME=""
RUN if [ ! -x "${JH_CLASS_ENV}/bin/Rscript" ]; then \
        echo "r_lang: ${JH_CLASS_ENV}/bin/Rscript is missing: the class's conda list needs r-base" >&2; exit 1; \
    fi \
 && HOME=/tmp/jh-r-home JH_R_DISPLAY_NAME="${R_KERNEL_DISPLAY_NAME:-R (${JH_CLASS_NAME})}" \
        "${JH_CLASS_ENV}/bin/Rscript" -e "if (!requireNamespace('IRkernel', quietly = TRUE)) \
            stop('IRkernel is not installed for the class env R: add r-irkernel to its conda list'); \
            IRkernel::installspec(name = 'ir', displayname = Sys.getenv('JH_R_DISPLAY_NAME'), \
            user = FALSE, prefix = Sys.getenv('CONDA_DIR'))" \
 && chown -R "${NB_UID}:${NB_GID}" "${CONDA_DIR}/share/jupyter/kernels/ir" \
 && rm -rf /tmp/jh-r-home

# The class's packages.R, through run-packages-r.R: packages come from CRAN_REPO (whatever repos the
# script names), and a package that does not install fails the build, naming it (install.packages
# alone only warns). Installed as root into the R library (the env's lib/R/library), then handed to
# the notebook user like the rest of the env. The build-only CA bundle is back for the downloads.
COPY --from=conda_env /usr/local/share/jh-build-ca /usr/local/share/jh-build-ca
COPY scripts/image/run-packages-r.R /tmp/jh-r/run-packages-r.R
ARG CRAN_REPO=https://cloud.r-project.org
COPY build/r/packages.R /tmp/jh-r/packages.R
RUN . /usr/local/share/jh-build-ca/env.sh \
 && if [ -n "${SSL_CERT_FILE:-}" ]; then export CURL_CA_BUNDLE="${SSL_CERT_FILE}"; fi \
 && HOME=/tmp/jh-r-home "${JH_CLASS_ENV}/bin/Rscript" /tmp/jh-r/run-packages-r.R /tmp/jh-r/packages.R "${CRAN_REPO}" \
 && if [ -d "${JH_CLASS_ENV}/lib/R" ]; then \
        find "${JH_CLASS_ENV}/lib/R" -xdev -user 0 -exec chown -h "${NB_UID}:${NB_GID}" {} +; \
    fi \
 && rm -rf /tmp/jh-r /tmp/jh-r-home /tmp/Rtmp* /root/.cache /usr/local/share/jh-build-ca

LABEL org.jh-pipeline.target="r_lang"
# NB_UID is numeric (see the base stage).
# hadolint ignore=DL3066
USER ${NB_UID}

# --- Julia -----------------------------------------------------------------------------------
FROM r_lang AS r_julia
# Julia from a release tarball (URL + sha256 as build args, verified before unpacking), the class's
# locked Project.toml/Manifest.toml instantiated into the default environment, the IJulia kernel.
# Logic in scripts/image/julia/ (install-julia.sh, instantiate.jl, ca-env.sh); the build context
# adds build/julia/{Project,Manifest}.toml (jh_pipeline.images.julia_context).

SHELL ["/bin/bash", "-o", "pipefail", "-c"]
USER 0

# Production default: the official 1.10 LTS tarball and its published sha256. JH_JULIA_URL /
# JH_JULIA_SHA256 override both (mirrors, air-gapped sites); an empty sha256 fails the build.
ARG JULIA_URL=https://julialang-s3.julialang.org/bin/linux/x64/1.10/julia-1.10.10-linux-x86_64.tar.gz
ARG JULIA_SHA256=6a78a03a71c7ab792e8673dc5cedb918e037f081ceb58b50971dfb7c64c5bf81
# The base stage dropped its build-only CA bundle: this stage brings its own copy (ca-env.sh).
ARG EXTRA_CA_BUNDLE=build/ca/extra-ca.crt
COPY ${EXTRA_CA_BUNDLE} /tmp/jh-julia/extra-ca.crt
COPY scripts/image/julia/install-julia.sh scripts/image/julia/ca-env.sh /tmp/jh-julia/
RUN bash /tmp/jh-julia/install-julia.sh \
 && mkdir -p /opt/julia-depot
# --- end of the Julia download (tests/images/test_julia_stage.py builds the stage up to here) ---

# The class environment, exactly as locked, in the default environment of the shared depot
# /opt/julia-depot (environments/v<major.minor>); precompiled for a generic CPU target (the
# docker-stacks values) so the caches are valid on other machines; the `julia` kernel registered
# where the notebook server looks. Built as root, chowned to the notebook user in the same layer.
# JULIA_PKG_SERVER_URL (optional): a Pkg server mirror; empty keeps Julia's default.
ARG JULIA_PKG_SERVER_URL=
COPY build/julia/Project.toml build/julia/Manifest.toml /tmp/jh-julia/env/
COPY scripts/image/julia/instantiate.jl /tmp/jh-julia/
RUN . /tmp/jh-julia/ca-env.sh \
 && if [ -n "${JULIA_PKG_SERVER_URL}" ]; then export JULIA_PKG_SERVER="${JULIA_PKG_SERVER_URL}"; fi \
 && case "$(uname -m)" in \
        x86_64) cpu_target="generic;sandybridge,-xsaveopt,clone_all;haswell,-rdrnd,base(1)" ;; \
        aarch64) cpu_target="generic;cortex-a57;thunderx2t99;carmel" ;; \
        *) echo "r_julia: no generic JULIA_CPU_TARGET known for $(uname -m)" >&2; exit 1 ;; \
    esac \
 && mkdir -p /tmp/jh-julia/home /tmp/jh-julia/jupyter \
 && HOME=/tmp/jh-julia/home JUPYTER_DATA_DIR=/tmp/jh-julia/jupyter JUPYTER="${CONDA_DIR}/bin/jupyter" \
    JULIA_DEPOT_PATH=/opt/julia-depot: JULIA_CPU_TARGET="${cpu_target}" JULIA_PKG_PRECOMPILE_AUTO=0 \
    julia --startup-file=no --history-file=no /tmp/jh-julia/instantiate.jl \
        /tmp/jh-julia/env "${CONDA_DIR}/share/jupyter/kernels" julia Julia \
 && rm -rf /opt/julia-depot/logs \
 && chown -R "${NB_UID}:${NB_GID}" /opt/julia-depot "${CONDA_DIR}/share/jupyter/kernels/julia" \
 && rm -rf /tmp/jh-julia /root/.cache /root/.julia

# At run time the user's own depot comes first (their added packages and logs persist in the home
# volume), then the shared depot with the class environment, then Julia's bundled depots (the
# trailing ':'). `@v#.#` resolves to the first depot that has environments/v<major.minor>, so
# the class environment is the default one as long as the user has not made their own.
ENV JULIA_DEPOT_PATH=/home/${NB_USER}/.julia:/opt/julia-depot:
LABEL org.jh-pipeline.target="r_julia"
# hadolint ignore=DL3066
USER ${NB_UID}
