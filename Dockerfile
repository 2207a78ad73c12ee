# syntax=docker/dockerfile:1
# Splitledger API. Build: docker build -t splitledger .
# Run:  docker run -e SPLITLEDGER_ENV=production -e SPLITLEDGER_DATABASE_URL=postgres://... \
#         -e SPLITLEDGER_JWT_KEYS=... -e SPLITLEDGER_DATA_KEYS=... -p 8000:8000 splitledger
# Migrate first (once per release): docker run --rm -e ... splitledger splitledger migrate

FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
RUN python -m venv /opt/splitledger
COPY pyproject.toml README.md ./
COPY api ./api
COPY schema ./schema
COPY auth ./auth
COPY domain ./domain
COPY migrations ./migrations
RUN /opt/splitledger/bin/pip install --no-cache-dir .

FROM python:3.11-slim AS runtime
ENV PATH=/opt/splitledger/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    SPLITLEDGER_ENV=production
RUN groupadd --system --gid 10001 splitledger \
    && useradd --system --uid 10001 --gid splitledger --home-dir /app --shell /usr/sbin/nologin splitledger
COPY --from=build /opt/splitledger /opt/splitledger
WORKDIR /app
USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=15s --timeout=3s --start-period=10s --retries=3 \
    CMD ["python", "-c", "import urllib.request,sys; sys.exit(0 if urllib.request.urlopen('http://127.0.0.1:8000/healthz', timeout=2).status == 200 else 1)"]
CMD ["splitledger", "serve", "--host", "0.0.0.0", "--port", "8000", "--workers", "2"]
