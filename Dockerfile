# The studio image: one image for the web server and the Celery worker.
FROM python:3.12-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    STUDIO_VAR_DIR=/data \
    PYTHONPATH=/app

WORKDIR /app

# Dependencies only (the package itself is uninstalled again), so that code changes
# do not reinstall them. The code runs from /app (PYTHONPATH), where templates, static
# files and the demo data sit beside it. The `advanced` extra brings the sentence
# encoders (advanced training) and the static word vector table's vocabulary
# (standard training), which docker-compose.yml's settings point at.
COPY pyproject.toml README.md ./
RUN mkdir -p studio jobs projects training runtime \
    && touch studio/__init__.py jobs/__init__.py projects/__init__.py \
       training/__init__.py runtime/__init__.py \
    && pip install '.[advanced]' \
    && pip uninstall --yes orchestration-studio \
    && rm -rf studio jobs projects training runtime build *.egg-info

COPY . .
RUN useradd --system --uid 10001 --home-dir /app studio \
    && mkdir -p /data \
    && chown studio /data

USER studio
EXPOSE 8000
VOLUME ["/data"]

# Probes /healthz over loopback: 200 needs the database, the broker and a live worker.
HEALTHCHECK --interval=15s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "scripts/healthcheck"]

CMD ["sh", "-c", "python manage.py migrate --noinput && python manage.py collectstatic --noinput && python manage.py ensureadmin && exec gunicorn studio.wsgi --bind 0.0.0.0:8000 --workers ${WEB_CONCURRENCY:-2} --threads 4 --timeout 120 --no-control-socket --access-logfile -"]
