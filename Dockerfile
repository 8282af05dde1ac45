# docgen service image: the app, LibreOffice (with the system Python's uno) and fonts.
FROM python:3.11-slim-bookworm

RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends \
      libreoffice-writer-nogui python3-uno fonts-liberation fonts-liberation2 \
      fonts-crosextra-carlito fonts-crosextra-caladea libcairo2 \
 && rm -rf /var/lib/apt/lists/*
RUN pip install --no-cache-dir uv

WORKDIR /app
COPY pyproject.toml uv.lock README.md ./
RUN uv sync --frozen --no-dev --no-install-project
COPY docgen ./docgen
COPY signing ./signing
COPY storage ./storage
COPY templates ./templates
# Bytecode compiled at build time: the service and each of its worker processes would
# otherwise compile every module (pyHanko, fontTools...) again on start, as the app user cannot
# write next to them.
RUN uv sync --frozen --no-dev --compile-bytecode \
 && .venv/bin/python -m compileall -q docgen signing storage

RUN useradd --system --home /var/lib/docgen docgen && mkdir -p /var/lib/docgen \
 && chown docgen /var/lib/docgen
USER docgen
ENV DOCGEN_DATA_DIR=/var/lib/docgen DOCGEN_HOST=0.0.0.0 DOCGEN_PORT=8000 HOME=/var/lib/docgen
EXPOSE 8000
CMD ["/app/.venv/bin/docgen", "serve"]
