# OCA Engine: slim image, non-root user, instruments baked in; migrations are a separate step:
#   docker run … oca-engine oca db upgrade      then      docker run -p 8000:8000 … oca-engine
FROM python:3.11-slim AS base

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    OCA_DATA_DIR=/data \
    OCA_INSTRUMENTS_DIR=/app/instruments

WORKDIR /app
COPY pyproject.toml README.md alembic.ini ./
COPY app ./app
COPY migrations ./migrations
COPY instruments ./instruments
RUN pip install -e . \
    && useradd --system --uid 10001 --home-dir /data --create-home oca

USER oca
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=3s CMD python -c "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz').status == 200 else 1)"
CMD ["oca", "serve", "--no-migrate", "--host", "0.0.0.0", "--port", "8000"]
