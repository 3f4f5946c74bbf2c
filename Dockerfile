# The gateway image that infra/workload.py deploys (`enclave/gateway:<version>`):
#   docker build -t enclave/gateway:0.1.0 .
# tests/infra/test_gateway_image.py checks that the workload's command, port, user, read-only root and
# environment match this file. No container engine runs where the project is developed, so the image itself
# has not been built there (docs/tenant-stack.md).

# Exact tag, never `latest`: the same Python 3.11 patch release and Debian as the lock was resolved for.
# Pin by digest (`python:3.11.11-slim-bookworm@sha256:...`) in the registry mirror the platform builds from.
FROM python:3.11.11-slim-bookworm AS build

ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
COPY requirements.lock /tmp/requirements.lock
# Every distribution is checked against the hashes in the lock; nothing unpinned is installed.
RUN /opt/venv/bin/pip install --require-hashes --no-deps -r /tmp/requirements.lock

FROM python:3.11.11-slim-bookworm

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONPATH=/app \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    ENCLAVE_HOST=0.0.0.0 \
    ENCLAVE_PORT=8000 \
    ENCLAVE_DATA_DIR=/tmp/enclave

COPY --from=build /opt/venv /opt/venv
COPY tenancy /app/tenancy
COPY audit /app/audit
COPY auth /app/auth
COPY storage_connector /app/storage_connector
COPY enclave /app/enclave
COPY infra /app/infra
# The `enclave` console script as pip would write it (the project's build backend is not in the lock, so the
# sources are used from /app instead of being built into a wheel).
RUN printf '#!/opt/venv/bin/python\nfrom enclave.cli.main import main\nmain()\n' > /opt/venv/bin/enclave \
    && chmod 0555 /opt/venv/bin/enclave \
    && python -m compileall -q /app /opt/venv \
    && groupadd --system --gid 10001 enclave \
    && useradd --system --uid 10001 --gid 10001 --no-create-home --shell /usr/sbin/nologin enclave

# Read-only root filesystem: the only writable path is /tmp (an emptyDir in the Deployment), where
# ENCLAVE_DATA_DIR points; byte code is compiled above, so Python writes no .pyc at run time.
USER 10001:10001
WORKDIR /app
EXPOSE 8000
ENTRYPOINT ["enclave"]
CMD ["serve"]
