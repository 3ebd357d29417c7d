# The class image, one Dockerfile for every class. Stages:
#   conda_env  helper: installs the class conda env from its lock with py-rattler
#   base     Python: the class conda env from its lock + pip lock + Jupyter kernel
#   r_lang   base + R          (placeholder: R arrives in a later change)
#   r_julia  r_lang + Julia    (placeholder)
# The build context is laid out by jh_pipeline.images.context.prepare_build_context:
#   Dockerfile, scripts/image/, build/apt/{common,class}.txt, build/conda/conda-lock.yml,
#   build/pip/requirements.pip.lock, build/ca/extra-ca.crt (empty = no extra CA).
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
COPY build/apt/common.txt /tmp/jh-apt/common.txt
RUN sed -e 's/#.*//' /tmp/jh-apt/common.txt | tr -s '[:space:]' '\n' | sed -e '/^$/d' > /tmp/jh-apt/pkgs \
 && if [ -s /tmp/jh-apt/pkgs ]; then \
        apt-get update \
     && xargs -a /tmp/jh-apt/pkgs apt-get install -y --no-install-recommends \
     && apt-get clean \
     && rm -rf /var/lib/apt/lists/*; \
    fi \
 && rm -rf /tmp/jh-apt

# --- owned by the class ------------------------------------------------------------------------
ARG CLASS_NAME

# The class's own OS packages (requirements/classes/<class>/apt.txt).
COPY build/apt/class.txt /tmp/jh-apt/class.txt
RUN sed -e 's/#.*//' /tmp/jh-apt/class.txt | tr -s '[:space:]' '\n' | sed -e '/^$/d' > /tmp/jh-apt/pkgs \
 && if [ -s /tmp/jh-apt/pkgs ]; then \
        apt-get update \
     && xargs -a /tmp/jh-apt/pkgs apt-get install -y --no-install-recommends \
     && apt-get clean \
     && rm -rf /var/lib/apt/lists/*; \
    fi \
 && rm -rf /tmp/jh-apt

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
FROM base AS r_lang
# Placeholder: R (r-base from the class lock, packages.R against a configurable CRAN mirror)
# comes in a later change. Until then r_lang images equal base images.
LABEL org.jh-pipeline.target="r_lang"

# --- Julia -----------------------------------------------------------------------------------
FROM r_lang AS r_julia
# Placeholder: Julia (download URL + sha256 as build args, requirements.jl) comes in a later change.
LABEL org.jh-pipeline.target="r_julia"
