# OCA Engine image: the app and its installed dependencies on a Python 3.11 base, run as a
# non-root user, with the SQLite file (when no OCA_DATABASE_URL is given) on the /data volume.
#
#   docker build -t oca-engine .                                   # base: python:3.11-slim
#   docker build --build-arg EXTRAS=s3 -t oca-engine .             # with the S3 evidence store
#   docker run --rm -v oca-data:/data oca-engine oca db upgrade    # migrations: a separate step
#   docker run -d -p 8000:8000 -v oca-data:/data oca-engine        # serve on :8000
#
# BASE may be any Debian-like image with python3 (3.11+) and its venv module on the PATH;
# scripts/image-test builds one from Debian packages and builds this file against it with podman.
# Behind a TLS-intercepting proxy, give pip its CA bundle as a build secret (used by the build
# stage only, never stored in a layer):  --secret id=pip_cert,src=/etc/ssl/certs/ca-certificates.crt
ARG BASE=python:3.11-slim

# --- build: a virtual environment holding the dependencies and the `oca` command ---------------
FROM ${BASE} AS build
# optional extras of the project, comma-separated (s3: evidence files in an S3-compatible bucket)
ARG EXTRAS=""
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY app ./app
# The project is installed in place (REPO_ROOT is the folder above the `app` package, where the
# code looks for alembic.ini, migrations/ and instruments/), so the final stage puts the same
# files at the same path. pip and setuptools leave the environment once it is built.
RUN --mount=type=secret,id=pip_cert \
    if [ -s /run/secrets/pip_cert ]; then export PIP_CERT=/run/secrets/pip_cert; fi \
    && python3 -m venv /opt/oca \
    && /opt/oca/bin/python -m pip install --quiet --upgrade pip \
    && /opt/oca/bin/python -m pip install --quiet -e "/app${EXTRAS:+[$EXTRAS]}" \
    && /opt/oca/bin/python -m pip uninstall --quiet --yes setuptools pip \
    && /opt/oca/bin/oca --help > /dev/null

# --- final: the base, the environment, the app's files, a user ----------------------------------
FROM ${BASE}
ENV PATH=/opt/oca/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    OCA_DATA_DIR=/data \
    OCA_INSTRUMENTS_DIR=/app/instruments
# Pango and a font for the PDF reports (WeasyPrint lays text out with Pango; docs/reports.md).
RUN apt-get update -q \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
       libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core \
    && rm -rf /var/lib/apt/lists/*
RUN groupadd --gid 10001 oca \
    && useradd --uid 10001 --gid oca --home-dir /data --no-create-home --no-log-init \
       --shell /usr/sbin/nologin oca \
    && mkdir -p /data && chown oca:oca /data && chmod 0750 /data
COPY --from=build /opt/oca /opt/oca
WORKDIR /app
COPY alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY instruments ./instruments
# Compiled once here: the code is root's and read-only to the user that runs it.
RUN python3 -m compileall -q /app/app /app/migrations

USER 10001:10001
VOLUME /data
# OCA_HOST and OCA_PORT move the server (e.g. with --network host); the healthcheck follows them.
ENV OCA_HOST=0.0.0.0 \
    OCA_PORT=8000
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s --start-period=20s --retries=3 \
    CMD ["python3", "-c", "import os, sys, urllib.request; url = 'http://127.0.0.1:%s/healthz' % os.environ.get('OCA_PORT', '8000'); sys.exit(0 if urllib.request.urlopen(url, timeout=2).status == 200 else 1)"]
# Migrations are a separate step (oca db upgrade); `exec` leaves uvicorn as PID 1, to get SIGTERM.
CMD ["sh", "-c", "exec oca serve --no-migrate --host \"$OCA_HOST\" --port \"$OCA_PORT\""]
