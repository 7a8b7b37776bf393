# syntax=docker/dockerfile:1
# The modelops-operator image: the wheel built in a throw-away stage, installed into a venv in a slim runtime.
#   docker build -t modelops-operator:dev .
# Runs as a non-root numeric user and writes nothing outside /tmp, so it works with readOnlyRootFilesystem
# (the Helm chart mounts an emptyDir at /tmp).

ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY operator/ operator/
RUN pip wheel --no-cache-dir --no-deps --wheel-dir /wheels .

FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
LABEL org.opencontainers.image.title="modelops-operator" \
      org.opencontainers.image.description="Kubernetes operator (kopf) that manages remote ML/AI builds, runs and tools declaratively" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.licenses="Apache-2.0" \
      org.opencontainers.image.base.name="${PYTHON_IMAGE}"
ENV PATH="/opt/venv/bin:${PATH}" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    HOME=/tmp \
    TMPDIR=/tmp
# The venv is built here (not copied) so that its interpreter links point at this stage's Python; the
# wheels are bind-mounted from the build stage and never land in a layer. pip compiles the bytecode at
# install time, so nothing needs writing at run time.
RUN --mount=type=bind,from=build,source=/wheels,target=/wheels \
    python -m venv /opt/venv \
    && /opt/venv/bin/pip install --no-cache-dir /wheels/*.whl \
    && /opt/venv/bin/pip uninstall --yes pip \
    && groupadd --system --gid 10001 modelops \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --home-dir /tmp --shell /usr/sbin/nologin modelops
USER 10001:10001
WORKDIR /tmp
# /metrics and /healthz: the defaults of MODELOPS_METRICS_PORT and MODELOPS_HEALTH_PORT.
EXPOSE 8080 8081
ENTRYPOINT ["modelops-operator", "run"]
