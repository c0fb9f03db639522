# syntax=docker/dockerfile:1
#
# One image recipe for all four Alliance services (intake, scoring, alerts, gateway).
#
#   docker build -f deploy/docker/service.Dockerfile --build-arg SERVICE=intake -t alliance/intake .
#
# Why one shared file instead of services/<name>/Dockerfile: the four images differ only in the
# workspace package that is installed (alliance-<service>) and the module that is run
# (alliance_<service>). Four copies would be identical but for that name and would drift apart
# (uv pin, base image, user, healthcheck); one file with ARG SERVICE keeps them in lock-step and
# docker-compose.yml passes the name as a build argument. Build context = the repository root.
#
# The base images are build arguments, the official Python image by default. Any base with
# python3.11 on PATH works, as long as both stages have it at the same path (the venv points at
# the interpreter) and the builder has its venv module: CI builds a Debian bookworm base with
# Debian's python3.11 and builds with buildah (deploy/docker/check.sh, docs/operations.md).

ARG BUILDER_IMAGE=python:3.11-slim
ARG RUNTIME_IMAGE=python:3.11-slim

# ---------------------------------------------------------------- builder
FROM ${BUILDER_IMAGE} AS builder

# uv: use the image's interpreter (never download one), compile bytecode once at build time,
# copy (not hard-link) out of the cache mount, and put the environment at /app/.venv.
# pip and uv trust the image's CA bundle, so a build behind a TLS-inspecting proxy only needs
# that bundle mounted (deploy/docker/check.sh does; the runtime stage is unaffected).
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt \
    SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt \
    UV_PYTHON_DOWNLOADS=never \
    UV_PYTHON=python3.11 \
    UV_COMPILE_BYTECODE=1 \
    UV_LINK_MODE=copy \
    UV_PROJECT_ENVIRONMENT=/app/.venv

# uv comes from PyPI (pinned), like every other tool of this project, into a venv of its own:
# Debian's python3.11 has no pip and refuses installs into the system (PEP 668). Installed
# before ARG SERVICE is declared, so all four service builds share this cached layer.
RUN python3.11 -m venv /opt/uv \
    && /opt/uv/bin/pip install --no-cache-dir uv==0.13.8
ENV PATH="/opt/uv/bin:${PATH}"

WORKDIR /app

ARG SERVICE

# Layer 1: third-party dependencies only. uv needs the root manifest, the lock file and every
# workspace member's pyproject.toml to resolve the workspace; source edits do not invalidate this.
COPY pyproject.toml uv.lock ./
COPY shared/contracts/pyproject.toml shared/contracts/
COPY shared/platform/pyproject.toml shared/platform/
COPY services/intake/pyproject.toml services/intake/
COPY services/scoring/pyproject.toml services/scoring/
COPY services/alerts/pyproject.toml services/alerts/
COPY services/gateway/pyproject.toml services/gateway/
COPY tools/demo/pyproject.toml tools/demo/
COPY tools/devstack/pyproject.toml tools/devstack/
# The `:` line fails early with a clear message instead of a uv error about "alliance-".
RUN --mount=type=cache,target=/root/.cache/uv \
    : "${SERVICE:?build with --build-arg SERVICE=intake|scoring|alerts|gateway}" \
    && uv sync --frozen --no-dev --package "alliance-${SERVICE}" --no-editable --no-install-workspace

# Layer 2: the workspace packages this service needs (shared + the service itself), installed as
# regular wheels (--no-editable) so the venv does not point back into /app sources.
COPY shared/contracts/src shared/contracts/src
COPY shared/platform/src shared/platform/src
COPY services/${SERVICE}/src services/${SERVICE}/src
RUN --mount=type=cache,target=/root/.cache/uv \
    uv sync --frozen --no-dev --package "alliance-${SERVICE}" --no-editable

# Layer 3: static files a service serves: the gateway's clinician console and GraphiQL, when
# services/gateway/console/dist was built before the image (`npm run build` there; CI and
# deploy/docker/check.sh do it). Node never enters an image; without a build, /console answers
# 503 and says how to build it. The service directory minus its sources is small: .dockerignore
# drops node_modules.
COPY services/${SERVICE}/ /tmp/service/
RUN mkdir -p /app/static \
    && if [ -f /tmp/service/console/dist/index.html ]; then \
         cp -r /tmp/service/console/dist /app/static/console; \
       fi \
    && rm -rf /tmp/service

# ---------------------------------------------------------------- runtime
FROM ${RUNTIME_IMAGE} AS runtime

ARG SERVICE

LABEL org.opencontainers.image.title="alliance-${SERVICE}" \
      org.opencontainers.image.description="Alliance ${SERVICE} service"

# Fixed uid/gid 10001 so volume ownership and Kubernetes runAsUser are predictable.
# --no-log-init: a high uid otherwise bloats /var/log/faillog and lastlog (hadolint DL3046).
RUN groupadd --gid 10001 alliance \
    && useradd --no-log-init --uid 10001 --gid 10001 --no-create-home \
       --home-dir /nonexistent --shell /usr/sbin/nologin alliance

# Only the virtualenv and the static files travel; they stay owned by root, so the service
# cannot modify its own code.
COPY --from=builder /app/.venv /app/.venv
COPY --from=builder /app/static /app/static

ENV PATH="/app/.venv/bin:${PATH}" \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ALLIANCE_SERVICE=${SERVICE} \
    ALLIANCE_HTTP_HOST=0.0.0.0 \
    ALLIANCE_HTTP_PORT=8000 \
    ALLIANCE_CONSOLE_DIR=/app/static/console

WORKDIR /app
USER 10001:10001
EXPOSE 8000

# Liveness only (/healthz: the process answers); slim images have no curl, so use the stdlib.
# urlopen raises on connection errors and non-2xx answers, which exits 1 (unhealthy).
HEALTHCHECK --interval=15s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ALLIANCE_HTTP_PORT', '8000') + '/healthz', timeout=3)"]

# Exec form cannot expand build arguments, so a shell resolves the module name once and then
# `exec`s: python becomes PID 1 and receives SIGTERM directly (uvicorn shuts down gracefully).
# Equivalent to CMD ["python", "-m", "alliance_<service>"].
CMD ["/bin/sh", "-c", "exec python -m \"alliance_${ALLIANCE_SERVICE}\""]
