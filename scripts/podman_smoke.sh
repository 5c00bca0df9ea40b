#!/usr/bin/env bash
# Build the worker image with podman from a locally made Debian base and smoke-test it:
# `musicbot worker --check` must run, and the offline demo must play inside the image.
#
#   sudo scripts/podman_smoke.sh        # needs root, podman and debootstrap (apt-get install)
#
# No container registry is needed: the base is made with debootstrap from the Debian mirror
# apt already uses, and imported as localhost/musicbot-base:bookworm (kept for later runs).
# The image is built for THIS machine's architecture with EXTRAS=local (the demo needs the
# fake Discord); production images are EXTRAS=worker for linux/arm64.
set -euo pipefail
cd "$(dirname "$0")/.."

BASE=localhost/musicbot-base:bookworm
IMAGE=localhost/musicbot-worker:smoke
SUITE=bookworm
MIRROR=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
DEMO_TIMEOUT_S=${DEMO_TIMEOUT_S:-300}
# chroot isolation needs no OCI runtime: works where crun/runc may not set rlimits/cgroups.
ISOLATION=${PODMAN_ISOLATION:-chroot}

for tool in podman debootstrap; do
  if ! command -v "$tool" >/dev/null; then
    echo "podman_smoke: $tool is missing (apt-get install -y podman debootstrap)" >&2
    exit 2
  fi
done
if [ "$(id -u)" != 0 ]; then
  echo "podman_smoke: debootstrap needs root" >&2
  exit 2
fi

step() { printf '\n== %s (%ss)\n' "$1" "$SECONDS"; }

if ! podman image exists "$BASE"; then
  step "making $BASE with debootstrap"
  rootfs=$(mktemp -d)
  trap 'rm -rf "$rootfs"' EXIT
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$rootfs" "$MIRROR" >/dev/null
  # Trust what this machine trusts (a site CA for TLS to package indexes, when there is one).
  if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
    cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
    chroot "$rootfs" update-ca-certificates >/dev/null
  fi
  rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin
  tar -C "$rootfs" -c . | podman import \
    --change 'ENV PIP_CERT=/etc/ssl/certs/ca-certificates.crt' \
    --change 'ENV SSL_CERT_FILE=/etc/ssl/certs/ca-certificates.crt' \
    --change 'CMD ["/bin/bash"]' - "$BASE" >/dev/null
fi

step "building $IMAGE from $BASE"
# Docker image format: the OCI format has no HEALTHCHECK.
podman build --quiet --format docker --isolation "$ISOLATION" -f Dockerfile.worker \
  --build-arg BASE_IMAGE="$BASE" --build-arg EXTRAS=local -t "$IMAGE" . >/dev/null

# Commands run INSIDE the image as a RUN step of a throwaway build (same isolation, same
# user as the image's USER): `podman run` needs an OCI runtime allowed to set rlimits and
# cgroups, which sandboxed machines often refuse, while chroot isolation works there too.
in_image() {
  local dir
  dir=$(mktemp -d)
  printf 'FROM %s\nRUN %s\n' "$IMAGE" "$1" > "$dir/Containerfile"
  local status
  set +e
  podman build --format docker --isolation "$ISOLATION" --no-cache --layers=false -f "$dir/Containerfile" "$dir" \
    2>&1 | grep -v -e '^STEP ' -e '^COMMIT' -e '^--> ' -e '^[0-9a-f]\{64\}$'
  status=${PIPESTATUS[0]}
  set -e
  rm -rf "$dir"
  return "$status"
}

step "image facts"
podman image inspect "$IMAGE" --format \
  'user={{.Config.User}} stopsignal={{.Config.StopSignal}} cmd={{.Config.Cmd}} size={{.Size}}'
podman image inspect "$IMAGE" --format 'healthcheck={{json .Config.Healthcheck}}'
in_image 'echo "uid=$(id -u)"; ffmpeg -hide_banner -version | head -1; musicbot --help >/dev/null && echo "musicbot: ok"; if command -v gcc cc; then echo "a compiler is in the runtime image"; exit 1; fi'

step "musicbot worker --check with no worker running (must say unhealthy, not crash)"
in_image 'musicbot worker --check; rc=$?; echo "exit code: $rc"; [ "$rc" -eq 1 ] || [ "$rc" -eq 2 ]'

step "offline demo inside the image"
in_image "XDG_CACHE_HOME=/tmp/.cache timeout $DEMO_TIMEOUT_S musicbot demo"

step "smoke passed"
