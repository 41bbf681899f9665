# syntax=docker/dockerfile:1
# The ML API example (examples/ml-api) as a container image, and the
# template for an app of your own: point APP_DIR at a folder holding its
# server.ts, its Python modules and a requirements.txt (and change the
# model training step). docs/deploy.md walks through it.
#
#   docker build -t tandem-ml-api .
#   docker run --rm -p 3000:3000 tandem-ml-api
#
# Both stages are Debian bookworm, whose python3 is CPython 3.11: the binary
# links the libpython3.11 of the build stage and finds the same one in the
# runtime stage.

ARG APP_DIR=examples/ml-api

# --- build: the release binary, and the app's virtualenv and models -------
FROM rust:1.95-bookworm AS build
# cmake and simde: the QuickJS engine builds from source (build/simde.cmake).
RUN apt-get update \
 && apt-get install -y --no-install-recommends \
      cmake libsimde-dev python3-dev python3-venv \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV PYO3_PYTHON=/usr/bin/python3.11
RUN cargo build --release -p tandem \
 && install -D target/release/tandem /out/tandem
ARG APP_DIR
# The app's Python packages, in a virtualenv the runtime stage copies as is
# (same path, same interpreter).
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r "${APP_DIR}/requirements.txt" \
 && /opt/venv/bin/python "${APP_DIR}/train.py" \
 && mkdir -p /out/app \
 && cp -r "${APP_DIR}/." /out/app/

# --- runtime: libpython, the binary, the app, a non-root user --------------
FROM debian:bookworm-slim
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpython3.11 python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --home-dir /app --shell /usr/sbin/nologin tandem
COPY --from=build /opt/venv /opt/venv
COPY --from=build /out/tandem /usr/local/bin/tandem
COPY --from=build --chown=tandem:tandem /out/app /app
WORKDIR /app
USER 10001
# The runtime adds $VIRTUAL_ENV's site-packages to sys.path. Listen on all
# interfaces (the default is loopback), on $PORT.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TANDEM_HOST=0.0.0.0 \
    PORT=3000
EXPOSE 3000
# SIGTERM starts the graceful drain (--shutdown-timeout, 30 s by default).
STOPSIGNAL SIGTERM
# Readiness (docs/http.md): 503, so a failed check, until the app's own
# ready() passes and from SIGTERM on. Python's urllib, to need no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["tandem", "run"]
CMD ["server.ts"]
