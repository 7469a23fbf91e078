# Tandem's image: `docker build -t tandem .`, then see compose.yaml and the README's "Deploying with
# the container". Two stages: the wheel and its dependencies are built in the first, and only the
# installed virtual environment is copied into the second (no compiler, no pip cache, no test extra).

FROM python:3.12-slim-bookworm AS build
WORKDIR /src
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
RUN python -m venv /opt/tandem
COPY pyproject.toml README.md LICENSE ./
COPY bot ./bot
COPY db ./db
COPY jobs ./jobs
# The postgres extra (psycopg's binary wheel) and nothing else: tests, linters and type checkers stay out.
RUN /opt/tandem/bin/pip install '.[postgres]'

FROM python:3.12-slim-bookworm
LABEL org.opencontainers.image.title="Tandem" \
      org.opencontainers.image.description="Joint marketing and IT check-ins, pulses and shared wins in Slack" \
      org.opencontainers.image.licenses="MIT"
# A user of its own, without a login shell or a home worth the name: Tandem writes only to /data.
RUN groupadd --system --gid 10001 tandem \
    && useradd --system --uid 10001 --gid tandem --home-dir /data --shell /usr/sbin/nologin tandem \
    && mkdir /data && chown tandem:tandem /data
COPY --from=build /opt/tandem /opt/tandem
ENV PATH="/opt/tandem/bin:$PATH" \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PORT=3000 \
    LOG_FORMAT=json \
    DATABASE_URL=sqlite:////data/tandem.db
WORKDIR /data
USER 10001:10001
EXPOSE 3000
# /healthz answers 200 when the database answers (and, in Socket Mode, the websocket is up). Python's
# own urllib: the slim image has no curl.
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD ["python", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/healthz' % os.environ.get('PORT', '3000'), timeout=4)"]
# Exec form: `tandem` itself is PID 1 (gunicorn's master runs in that process and reaps its workers),
# so `docker stop`'s SIGTERM reaches it directly; give it 70 s (`docker stop -t 70`, compose's
# stop_grace_period) to let in-flight work finish.
ENTRYPOINT ["tandem"]
CMD ["serve"]
