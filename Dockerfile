FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    INFOBIP_EVENTS_HOST=0.0.0.0 \
    INFOBIP_EVENTS_PORT=8080 \
    INFOBIP_EVENTS_DATABASE_URL=sqlite:////data/infobip-events.db

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY events ./events
COPY storage ./storage
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /data infobip \
    && mkdir -p /data && chown infobip /data

USER infobip
VOLUME ["/data"]
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz').status != 200)"
CMD ["infobip-events", "serve"]
