# Infobip Events: `docker build -t infobip-events .` (README, "Docker"). Works with BuildKit and
# with the legacy builder. Build arguments:
#   PYTHON_IMAGE  the base image of both stages (default python:3.11-slim; a local stand-in
#                 where no registry is reachable: scripts/make-base-image.sh)
#   VERSION       the version label (tests/test_docker_files.py keeps it equal to pyproject's)
#   REVISION, SOURCE  the commit and the repository URL, for the labels
#   PIP_INDEX_URL a package index of your own, for the build only
ARG PYTHON_IMAGE=python:3.11-slim

# --- build: the pinned dependencies (hashes checked) and the service's wheel into /venv ------
FROM ${PYTHON_IMAGE} AS build
ARG PIP_INDEX_URL
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_ROOT_USER_ACTION=ignore
# tini (an init for PID 1: it forwards signals and reaps the children the CLI transport starts)
# is copied, statically linked, into the runtime stage, which needs no apt lists.
RUN apt-get update -qq \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements/build.txt requirements/runtime.txt requirements/
# /venv gets no pip: this stage's pip installs into it (pip --python).
RUN python -m venv --without-pip /venv \
    && python -m pip install --quiet --require-hashes --no-deps -r requirements/build.txt \
    && python -m pip --python /venv/bin/python install --quiet --require-hashes --no-deps \
        -r requirements/runtime.txt
COPY pyproject.toml README.md ./
COPY alembic alembic/
COPY storage storage/
COPY events events/
# phonenumbers' geocoding data (40 MB of the image's 140) serves phonenumbers.geocoder only,
# which the service never imports (tests/test_docker_files.py holds it to that).
RUN python -m pip wheel --quiet --no-build-isolation --no-deps --wheel-dir /wheels . \
    && python -m pip --python /venv/bin/python install --quiet --no-deps /wheels/*.whl \
    && /venv/bin/python -c 'import pathlib, shutil, phonenumbers; \
shutil.rmtree(pathlib.Path(phonenumbers.__file__).parent / "geodata")'

# --- runtime: the base image, tini, /venv and a numeric user ----------------------------------
FROM ${PYTHON_IMAGE}
ARG VERSION=0.1.0
ARG REVISION=unknown
ARG SOURCE=
LABEL org.opencontainers.image.title="Infobip Events" \
      org.opencontainers.image.description="A callback URL for Infobip that never loses a report" \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      org.opencontainers.image.licenses="Apache-2.0"
# The user is a number (Kubernetes' runAsNonRoot checks it) with a name for ps and ls. /data is
# the SQLite directory: a named volume mounted there takes its owner (10001); a bind mount
# keeps the host's, so give it to 10001 (README). No VOLUME: containers on PostgreSQL and
# one-off commands would each leave an anonymous volume behind.
# The base image's own pip, setuptools and wheel go too: nothing here installs at run time,
# and a package manager is one more thing for an intruder to use (/venv never had them).
# Deleted where Python finds them, whoever installed them (python:3.11-slim's pip, or Debian's
# python3-pip in a stand-in, which `pip uninstall` refuses to touch).
RUN groupadd --gid 10001 infobip \
    && useradd --uid 10001 --gid 10001 --home-dir /data --no-create-home \
        --shell /usr/sbin/nologin infobip \
    && mkdir /data /app && chown 10001:10001 /data \
    && python -c "import importlib.util as u, pathlib, shutil; \
[shutil.rmtree(d, ignore_errors=True) for n in ('pip', 'setuptools', 'wheel') \
 for spec in [u.find_spec(n)] if spec and spec.origin \
 for package in [pathlib.Path(spec.origin).parent] \
 for d in [package, *package.parent.glob(n + '-*')]]" \
    && rm -f /usr/bin/pip /usr/bin/pip3* /usr/local/bin/pip /usr/local/bin/pip3*
COPY --from=build /usr/bin/tini-static /usr/bin/tini
COPY --from=build /venv /venv
ENV PATH=/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INFOBIP_EVENTS_HOST=0.0.0.0 \
    INFOBIP_EVENTS_PORT=8080 \
    INFOBIP_EVENTS_DATABASE_URL=sqlite:////data/infobip-events.db \
    INFOBIP_EVENTS_HEARTBEAT_FILE=/tmp/infobip-events.heartbeat \
    INFOBIP_EVENTS_LOG_FORMAT=json
WORKDIR /app
USER 10001:10001
EXPOSE 8080
# What runs here, on the port in INFOBIP_EVENTS_PORT: the receiver's /readyz (database reachable,
# schema current) when one listens, the workers' heartbeat when they run (serve, receiver and
# worker alike). python -m events.health is `infobip-events health` without the CLI's imports.
HEALTHCHECK --interval=15s --timeout=10s --start-period=30s --retries=3 \
    CMD ["python", "-m", "events.health"]
ENTRYPOINT ["/usr/bin/tini", "--", "infobip-events"]
CMD ["serve"]
