# level4 service image: serves the API and the dashboard on 0.0.0.0:8000, which
# needs LEVEL4_API_TOKEN (the service refuses to listen beyond loopback without one).

# Build stage: wheels for level4 (its hot path compiled with mypyc, which needs a C
# compiler; setup.py falls back to pure Python where it cannot) and every dependency.
FROM python:3.11-slim AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update && apt-get install -y --no-install-recommends gcc libc6-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml setup.py README.org ./
COPY level4 ./level4
COPY translations ./translations
COPY migrations ./migrations
RUN pip wheel --wheel-dir /wheels .

# Run stage: no compiler, no sources; a user of its own.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

COPY --from=build /wheels /wheels
RUN pip install --no-index /wheels/*.whl && rm -rf /wheels \
    && useradd --create-home --uid 10001 level4 && mkdir -p /data && chown level4 /data

USER level4
WORKDIR /data
ENV LEVEL4_HOST=0.0.0.0 \
    LEVEL4_PORT=8000 \
    LEVEL4_DATABASE_URL=sqlite:////data/level4.sqlite3
EXPOSE 8000
# Healthy while /health answers 200: the catalogue database is reachable. HTTPS when the
# service serves it (LEVEL4_SSL_CERTFILE); loopback, so the certificate's name is not checked.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, ssl, urllib.request; ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE; scheme = 'https' if os.environ.get('LEVEL4_SSL_CERTFILE') else 'http'; urllib.request.urlopen('%s://127.0.0.1:%s/health' % (scheme, os.environ.get('LEVEL4_PORT', '8000')), timeout=4, context=ctx)"
CMD ["level4", "serve"]
