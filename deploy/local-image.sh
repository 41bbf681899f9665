#!/usr/bin/env bash
# Builds the Dockerfile's image on a machine that cannot reach Docker Hub
# (this project's CI machine), with podman:
#   - the base image (debian:bookworm-slim's stand-in) is made from Debian's
#     packages with mmdebstrap, once;
#   - the tandem binary is the one cargo built here (BINARY_FROM), not the
#     Dockerfile's Rust stage, whose rust:1.95-bookworm image is on Docker Hub;
#   - RUN steps use chroot isolation and the host's network (the container
#     runtimes cannot manage cgroups or raise limits here), and pip trusts
#     the host's CA bundle, through a pip.conf mounted for the build only
#     (PyPI is reached through a TLS-inspecting proxy here).
# Everything else is the Dockerfile as it ships.
#
#   deploy/local-image.sh [TAG] [BINARY]     (defaults: localhost/tandem-ml-api:local,
#                                             target/release/tandem)
set -euo pipefail
cd "$(dirname "$0")/.."
tag=${1:-localhost/tandem-ml-api:local}
binary=${2:-target/release/tandem}
base=localhost/tandem-base:bookworm

[ -x "$binary" ] || { echo "local-image: $binary is missing: cargo build --release -p tandem" >&2; exit 1; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if ! podman image exists "$base"; then
  echo "local-image: making $base from Debian's packages (mmdebstrap)" >&2
  mmdebstrap --quiet --variant=minbase bookworm "$work/base.tar"
  podman import --quiet "$work/base.tar" "$base" >/dev/null
fi

# An image holding only /out/tandem, for the Dockerfile's BINARY_FROM.
mkdir -p "$work/binary/out"
cp "$binary" "$work/binary/out/tandem"
tar -C "$work/binary" -cf "$work/binary.tar" out
podman import --quiet "$work/binary.tar" localhost/tandem-binary:local >/dev/null

printf '[global]\ncert = /run/host-ca.crt\n' > "$work/pip.conf"
podman build --quiet --format docker --isolation chroot --network host \
  --ulimit nofile=1024:4096 --ulimit nproc=1024:4096 \
  --volume /etc/ssl/certs/ca-certificates.crt:/run/host-ca.crt:ro \
  --volume "$work/pip.conf:/etc/pip.conf:ro" \
  --build-arg BASE_IMAGE="$base" --build-arg BINARY_FROM=localhost/tandem-binary:local \
  --tag "$tag" .
