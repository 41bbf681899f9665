# syntax=docker/dockerfile:1
# The ML API example (examples/ml-api) as a container image, and the
# template for an app of your own: point APP_DIR at a folder holding its
# server.ts, its Python modules and a requirements.txt (and change the
# model training step). docs/deploy.md walks through it.
#
#   docker build -t tandem-ml-api .
#   docker run --rm -p 3000:3000 tandem-ml-api
#
# Every stage is Debian bookworm, whose python3 is CPython 3.11: the binary
# links the libpython3.11 of the build stage and finds the same one in the
# runtime stage.

ARG APP_DIR=examples/ml-api
ARG RUST_IMAGE=rust:1.95-bookworm
ARG BASE_IMAGE=debian:bookworm-slim
# Where the tandem binary comes from: the build stage below, or an image
# holding a binary built elsewhere at /out/tandem (tests/image.rs).
ARG BINARY_FROM=build

# --- build: the release binary ---------------------------------------------
FROM ${RUST_IMAGE} AS build
# cmake and simde: the QuickJS engine builds from source (build/simde.cmake).
RUN apt-get update \
 && apt-get install -y --no-install-recommends cmake libsimde-dev python3-dev \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
ENV PYO3_PYTHON=/usr/bin/python3.11
RUN cargo build --release -p tandem \
 && install -D target/release/tandem /out/tandem

FROM ${BINARY_FROM} AS binary

# --- app: the app's virtualenv and its trained models ----------------------
FROM ${BASE_IMAGE} AS app
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3-venv \
 && rm -rf /var/lib/apt/lists/*
ARG APP_DIR
COPY ${APP_DIR} /out/app
# The runtime stage copies the virtualenv as is: same path, same interpreter.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir -r /out/app/requirements.txt \
 && /opt/venv/bin/python /out/app/train.py

# --- runtime: libpython, the binary, the app, a non-root user --------------
FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends libpython3.11 python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --no-create-home --home-dir /app --shell /usr/sbin/nologin tandem
COPY --from=app /opt/venv /opt/venv
COPY --from=binary /out/tandem /usr/local/bin/tandem
COPY --from=app --chown=tandem:tandem /out/app /app
WORKDIR /app
USER 10001
# The runtime adds $VIRTUAL_ENV's site-packages to sys.path. Listen on all
# interfaces (the default is loopback), on $PORT.
ENV VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    TANDEM_HOST=0.0.0.0 \
    PORT=3000 \
    XDG_CACHE_HOME=/app/.cache
# One start at build time fills the compile caches (the engine's bytecode of
# the runtime's own JavaScript, the helper package's Python code) that later
# starts read: about half of a start otherwise, and a read-only root file
# system (deploy/kubernetes) could not keep them.
RUN echo 'console.log("caches filled")' > /tmp/warm.js \
 && tandem run /tmp/warm.js \
 && rm /tmp/warm.js
EXPOSE 3000
# SIGTERM starts the graceful drain (--shutdown-timeout, 30 s by default).
STOPSIGNAL SIGTERM
# Readiness (docs/http.md): 503, so a failed check, until the app's own
# ready() passes and from SIGTERM on. Python's urllib, to need no curl.
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s --retries=3 \
  CMD ["python3", "-c", "import os, urllib.request; urllib.request.urlopen('http://127.0.0.1:%s/ready' % os.environ.get('PORT', '3000'), timeout=2)"]
ENTRYPOINT ["tandem", "run"]
CMD ["server.ts"]
