# Browser client vendor files (socket.io-client); node itself stays out of the final image.
FROM node:20-bookworm-slim AS web
WORKDIR /src/clients/web
COPY clients/web/package.json clients/web/package-lock.json ./
RUN npm ci --omit=dev --no-audit --no-fund
# .dockerignore drops any host node_modules, so this copy keeps the ones just installed.
COPY clients/web/ ./

# Same base as the final stage so the venv's interpreter paths stay valid after the copy.
FROM python:3.11-slim-bookworm AS builder
ENV PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY ecabinet ./ecabinet
RUN /opt/venv/bin/pip install --no-cache-dir .

FROM python:3.11-slim-bookworm AS runtime
LABEL org.opencontainers.image.title="ecabinet" \
      org.opencontainers.image.description="Paperless meeting room server" \
      org.opencontainers.image.licenses="AGPL-3.0-or-later"

# soffice converts Word files to PDF, jailed by bubblewrap (docs/security.md: the container
# must allow user namespaces for it); the Noto and Liberation fonts cover Vietnamese glyphs
# and stand in metrically for the Microsoft fonts that uploaded documents name.
RUN apt-get update \
    && apt-get install -y --no-install-recommends \
        bubblewrap \
        fonts-liberation2 \
        fonts-noto-core \
        libreoffice-writer-nogui \
    && rm -rf /var/lib/apt/lists/*

# A home folder because LibreOffice writes its user profile there.
RUN groupadd --system --gid 10001 ecabinet \
    && useradd --system --uid 10001 --gid ecabinet --no-log-init \
        --create-home --home-dir /home/ecabinet --shell /usr/sbin/nologin ecabinet \
    && mkdir -p /data \
    && chown ecabinet:ecabinet /data

COPY --from=builder /opt/venv /opt/venv
COPY --from=web /src/clients/web /app/clients/web

ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    ECABINET_DATA_DIR=/data \
    ECABINET_CLIENTS_DIR=/app/clients \
    ECABINET_HOST=0.0.0.0 \
    ECABINET_PORT=8000

WORKDIR /app
# Numeric, so runtimes that enforce runAsNonRoot can verify it without /etc/passwd.
USER 10001:10001
# A fresh named volume copies /data's ownership from the image, so the app user can write it.
VOLUME /data
EXPOSE 8000

# Python's urllib, so the image needs no curl; it follows ECABINET_PORT if that is overridden.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:' + os.environ.get('ECABINET_PORT', '8000') + '/healthz', timeout=4)"]

CMD ["ecabinet", "serve"]
