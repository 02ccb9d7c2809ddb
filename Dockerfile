# The moderation service: gunicorn serving the Flask app with the shipped model bundle. Its default worker
# (service.worker.BufferedThreadWorker) reads each request whole before scoring it, so slow clients cannot
# starve the workers; still put a TLS-terminating proxy in front (docs/deployment.md).
#   docker build -t comment-moderation .
#   docker run -p 8000:8000 -e MODERATION_DATABASE_URL=postgresql://user:pw@db:5432/moderation \
#              -e MODERATION_SECRET_KEY=... comment-moderation
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 \
    MODERATION_HOST=0.0.0.0 MODERATION_PORT=8000 MODERATION_WORKERS=2 \
    OMP_NUM_THREADS=1 HF_HUB_OFFLINE=1 MODERATION_CACHE_DIR=/app/cache \
    MODERATION_DATABASE_URL=sqlite:////app/instance/moderation.sqlite

WORKDIR /app
# CPU-only torch first (the default index would pull a multi-GB CUDA build), then the project.
RUN pip install --index-url https://download.pytorch.org/whl/cpu torch==2.13.0
COPY pyproject.toml README.md constraints.txt ./
COPY models ./models
COPY service ./service
COPY training ./training
# Editable, as in the README: the bundle is read from /app/models/bundles where it was copied.
# The encoder's ONNX graph is exported and checked against torch here, once, not in every container.
RUN pip install -c constraints.txt -e . \
    && python -c "from models.encoder import Encoder; assert Encoder().backend == 'onnx'" \
    && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin moderation \
    && mkdir -p /app/instance && chown moderation /app/instance

USER moderation
EXPOSE 8000
# SQLite under /app/instance unless MODERATION_DATABASE_URL points at PostgreSQL.
VOLUME ["/app/instance"]
HEALTHCHECK --interval=30s --timeout=5s --start-period=90s --retries=3 \
    CMD python -c "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/readyz' % os.environ.get('MODERATION_PORT', '8000'), timeout=4)"
ENTRYPOINT ["moderation"]
CMD ["serve"]
