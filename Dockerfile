# syntax=docker/dockerfile:1.7
#
# SmartCloudOps image: one image for `smartcloudops serve | worker | flower | db upgrade`.
#   docker build -t smartcloudops:0.1.0 .
#   docker build --platform linux/arm64 -t smartcloudops:0.1.0-arm64 .   # Fargate ARM64
#
# The base is pinned to an exact Python patch release on Debian bookworm. For fully
# reproducible builds pin the digest too (docker buildx imagetools inspect <image>):
#   --build-arg PYTHON_IMAGE=python:3.11.13-slim-bookworm@sha256:<digest>
ARG PYTHON_IMAGE=python:3.11.13-slim-bookworm

# ------------------------------------------------------------------ builder: wheel + venv
FROM ${PYTHON_IMAGE} AS builder

ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1

WORKDIR /src

# Only what the wheel is built from (pyproject's package list is fixed by the design).
COPY pyproject.toml README.md celeryconfig.py ./
COPY pipeline/ pipeline/
COPY tasks/ tasks/
COPY consumers/ consumers/
COPY config/ config/
COPY adapters/ adapters/
COPY smartcloudops/ smartcloudops/

RUN python -m pip wheel --no-deps --wheel-dir /dist .

# The runtime venv is built here, at the same path it has in the final stage, so its
# scripts' shebangs stay valid after the copy. Every dependency ships binary wheels for
# linux/amd64 and linux/arm64, so no compiler is needed even here.
RUN python -m venv /opt/smartcloudops \
 && /opt/smartcloudops/bin/pip install --only-binary=:all: /dist/*.whl \
 && /opt/smartcloudops/bin/pip uninstall --yes pip setuptools wheel

# ------------------------------------------------------------------ runtime
FROM ${PYTHON_IMAGE} AS runtime

LABEL org.opencontainers.image.title="smartcloudops" \
      org.opencontainers.image.description="AIOps pipeline: alerts, metric streams and chat commands into safe, audited actions on AWS"

# A fixed numeric uid/gid: the ECS task definitions run as 10001:10001 and Kubernetes
# runAsNonRoot can verify a number, not a name.
RUN groupadd --system --gid 10001 smartcloudops \
 && useradd --system --uid 10001 --gid smartcloudops --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin smartcloudops

COPY --from=builder /opt/smartcloudops /opt/smartcloudops

# The image's own pip and setuptools are not needed at run time either.
RUN python -m pip uninstall --yes pip setuptools wheel 2>/dev/null || true

ENV PATH=/opt/smartcloudops/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SCO_HTTP_HOST=0.0.0.0 \
    SCO_HTTP_PORT=8080 \
    SCO_LOG_FORMAT=json \
    SCO_DATA_DIR=/tmp/smartcloudops \
    SCO_HEALTHCHECK_URL=http://127.0.0.1:8080/healthz

USER 10001:10001
WORKDIR /tmp
EXPOSE 8080 5555

# The interpreter is the probe (no curl in the image). serve answers /healthz; for
# Flower set SCO_HEALTHCHECK_URL=http://127.0.0.1:5555/healthcheck; a worker has no
# HTTP port, run it with --no-healthcheck (ECS ignores image health checks anyway and
# uses the task definition's).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
  CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen(os.environ['SCO_HEALTHCHECK_URL'], timeout=3)"]

ENTRYPOINT ["smartcloudops"]
CMD ["serve"]
