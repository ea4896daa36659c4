# level4 service image: serves the control API on 0.0.0.0:8000, which needs
# LEVEL4_API_TOKEN (the service refuses to listen beyond loopback without one).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
COPY pyproject.toml README.org ./
COPY level4 ./level4
COPY translations ./translations
COPY migrations ./migrations
RUN pip install . && useradd --create-home --uid 10001 level4 && mkdir -p /data && chown level4 /data

USER level4
WORKDIR /data
ENV LEVEL4_HOST=0.0.0.0 \
    LEVEL4_PORT=8000 \
    LEVEL4_DATABASE_URL=sqlite:////data/level4.sqlite3
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s \
    CMD python -c "import urllib.request,sys; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=4); sys.exit(0)"
CMD ["level4", "serve"]
