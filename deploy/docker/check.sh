#!/usr/bin/env bash
# Proves the service image builds and starts, without a Docker engine or a registry image:
#   1. installs buildah and debootstrap from Debian when missing (root, apt-get);
#   2. a local base image: Debian bookworm by debootstrap from the machine's configured Debian
#      mirror, with Debian's python3.11 (venv module, CA certificates), cached by its inputs in
#      buildah's storage and as a tarball under ${XDG_CACHE_HOME:-~/.cache}/alliance/images/;
#   3. builds deploy/docker/service.Dockerfile once per service with `buildah bud --isolation
#      chroot`, the local base as BUILDER_IMAGE and RUNTIME_IMAGE (PyPI for the packages);
#   4. starts each service from its image (`buildah run --isolation chroot --network host`, the
#      image's own CMD and user) against the running stack's Kafka and PostgreSQL, with the
#      environment the launcher gives it, waits for /readyz 200, checks that the service's
#      process runs as a non-root uid, stops it with SIGTERM (it must exit 0) and removes it.
#
#   export ALLIANCE_STACK_DIR=...; uv run python -m alliance_devstack start  # the stack
#   bash deploy/docker/check.sh
#
# Root only (buildah's storage, chroot). Why this way: docs/decisions/0027-images-built-in-ci.md.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
cd "$REPO"
SERVICES=(intake scoring alerts gateway)
SUITE=bookworm
# What the Dockerfile's stages need from the base; part of the cache key.
BASE_PACKAGES=python3.11,python3-venv,ca-certificates
CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/alliance/images"
TAG=check
WORK=$(mktemp -d /tmp/alliance-images-XXXXXX)
STARTED=$SECONDS

fail() { echo "images: FAIL: $*" >&2; exit 1; }
step() { echo "images: [$((SECONDS - STARTED))s] $*"; }

(( EUID == 0 )) || fail "run as root (buildah's storage and chroot isolation)"
[[ -n "${ALLIANCE_STACK_DIR:-}" ]] \
  || fail "no stack: export ALLIANCE_STACK_DIR and run python -m alliance_devstack start first"
uv run --frozen python -m alliance_devstack env > /dev/null || fail "the stack in $ALLIANCE_STACK_DIR is not running"

# What this script started, so the exit trap stops exactly that (by PID) and removes its
# containers, whatever failed.
declare -A RUN_PID=()
CONTAINERS=()
cleanup() {
  local pid ctr
  for pid in "${RUN_PID[@]}"; do
    kill -TERM "$pid" 2> /dev/null || true
  done
  for pid in "${RUN_PID[@]}"; do
    for _ in $(seq 50); do kill -0 "$pid" 2> /dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2> /dev/null || true
  done
  for ctr in "${CONTAINERS[@]}"; do buildah rm "$ctr" > /dev/null 2>&1 || true; done
  rm -rf "$WORK"
}
trap cleanup EXIT

# ---------------------------------------------------------------- 1. tools
missing=()
command -v buildah > /dev/null || missing+=(buildah)
command -v debootstrap > /dev/null || missing+=(debootstrap)
if (( ${#missing[@]} )); then
  step "installing ${missing[*]} from Debian"
  export DEBIAN_FRONTEND=noninteractive
  if ! { apt-get update -q && apt-get install -y -q --no-install-recommends "${missing[@]}"; } \
    > "$WORK/apt.log" 2>&1; then
    tail -20 "$WORK/apt.log" >&2
    fail "apt-get install ${missing[*]} failed"
  fi
fi
step "$(buildah --version); debootstrap $(dpkg-query -W -f '${Version}' debootstrap)"

# ---------------------------------------------------------------- 2. the local base
# The mirror apt uses for the suite itself (one-line or deb822 sources); no other network.
mirror=${ALLIANCE_DEBIAN_MIRROR:-$(python3 - "$SUITE" <<'PY'
import glob, re, sys

suite = sys.argv[1]


def entries():
    """(uris, suites, components) of each enabled `deb` source."""
    for path in sorted(glob.glob("/etc/apt/sources.list") + glob.glob("/etc/apt/sources.list.d/*.list")):
        for line in open(path):
            parts = re.sub(r"\[[^]]*\]", "", line.split("#")[0]).split()
            if len(parts) >= 3 and parts[0] == "deb":
                yield [parts[1]], [parts[2]], parts[3:]
    for path in sorted(glob.glob("/etc/apt/sources.list.d/*.sources")):
        for block in re.split(r"\n\s*\n", open(path).read()):
            fields = {}
            for line in block.splitlines():
                if not line[:1].isspace() and not line.startswith("#") and ":" in line:
                    key, value = line.split(":", 1)
                    fields[key.strip().lower()] = value.split()
            if "deb" in fields.get("types", []) and fields.get("enabled", ["yes"]) != ["no"]:
                yield fields.get("uris", []), fields.get("suites", []), fields.get("components", [])


for uris, suites, components in entries():
    if suite in suites and "main" in components and uris:
        print(uris[0].rstrip("/"))
        break
PY
)}
[[ -n "$mirror" ]] || fail "no Debian mirror for $SUITE main in /etc/apt/sources.list*"
arch=$(dpkg --print-architecture)
# Same inputs, same base: a second run on this machine neither debootstraps nor imports.
key=$(printf '%s\n' "$SUITE" "$mirror" "$arch" "$BASE_PACKAGES" \
  "$(dpkg-query -W -f '${Version}' debootstrap)" "minbase, apt lists and debs removed, PATH, LANG" \
  | sha256sum | cut -c1-16)
BASE="localhost/alliance-base:$SUITE-$key"
tarball="$CACHE/$SUITE-$key.tar"
if buildah inspect --type image "$BASE" > /dev/null 2>&1; then
  step "base $BASE (cached image)"
else
  if [[ ! -s "$tarball" ]]; then
    step "debootstrap $SUITE ($arch, minbase + $BASE_PACKAGES) from $mirror"
    mkdir -p "$CACHE"
    rootfs="$CACHE/rootfs-$key.partial"
    rm -rf "$rootfs"
    debootstrap --variant=minbase --include="$BASE_PACKAGES" "$SUITE" "$rootfs" "$mirror" \
      > "$WORK/debootstrap.log" 2>&1 \
      || { tail -30 "$WORK/debootstrap.log" >&2; fail "debootstrap $SUITE from $mirror failed"; }
    rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.partial" . || fail "could not pack $rootfs"
    mv "$tarball.partial" "$tarball"
    rm -rf "$rootfs"
  fi
  step "importing $tarball as $BASE"
  ctr=$(buildah from scratch)
  CONTAINERS+=("$ctr")
  mnt=$(buildah mount "$ctr")
  tar -C "$mnt" --numeric-owner -xf "$tarball" || fail "could not unpack $tarball"
  buildah umount "$ctr" > /dev/null
  # An image from scratch has no PATH: the Dockerfile extends the base's.
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    --env LANG=C.UTF-8 --cmd /bin/bash "$ctr"
  buildah commit -q --rm "$ctr" "$BASE" > /dev/null || fail "could not commit $BASE"
fi

# ---------------------------------------------------------------- 3. the service images
# The gateway's image carries the clinician console when it is built (service.Dockerfile).
CONSOLE_BUILT=false
if [[ -f services/gateway/console/dist/index.html ]]; then
  CONSOLE_BUILT=true
elif command -v npm > /dev/null; then
  step "building the clinician console (npm ci, npm run build)"
  (cd services/gateway/console && npm ci --no-audit --no-fund --loglevel=error && npm run build) \
    > "$WORK/console.log" 2>&1 || { tail -40 "$WORK/console.log" >&2; fail "the console did not build"; }
  CONSOLE_BUILT=true
fi
# The build reaches PyPI through the machine's trust (a TLS-inspecting proxy's CA included):
# its CA bundle is mounted for the RUN steps only and never lands in an image.
ca_bundle=${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}
build_volumes=()
[[ -f "$ca_bundle" ]] && build_volumes=(--volume "$ca_bundle:/etc/ssl/certs/ca-certificates.crt:ro")
for svc in "${SERVICES[@]}"; do
  step "building localhost/alliance/$svc:$TAG"
  buildah bud --isolation chroot --network host --layers --format docker --pull=never \
    "${build_volumes[@]}" \
    --build-arg SERVICE="$svc" --build-arg BUILDER_IMAGE="$BASE" --build-arg RUNTIME_IMAGE="$BASE" \
    -f deploy/docker/service.Dockerfile -t "localhost/alliance/$svc:$TAG" . \
    > "$WORK/build-$svc.log" 2>&1 \
    || { tail -40 "$WORK/build-$svc.log" >&2; fail "buildah bud of $svc failed"; }
done

# ---------------------------------------------------------------- 4. each service from its image
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# The process below `pid` whose command line runs alliance_<service> (buildah re-executes itself
# to chroot before it execs the image's command).
service_pid() {
  local root=$1 module=$2 pid children
  local queue=("$root")
  while (( ${#queue[@]} )); do
    pid=${queue[0]}
    queue=("${queue[@]:1}")
    if [[ "$pid" != "$root" ]] && tr '\0' ' ' < "/proc/$pid/cmdline" 2> /dev/null | grep -q -- "-m $module"; then
      echo "$pid"
      return 0
    fi
    children=$(cat /proc/"$pid"/task/*/children 2> /dev/null || true)
    for child in $children; do queue+=("$child"); done
  done
  return 1
}

# One list from an image's configuration (`buildah inspect` JSON), one item a line.
image_config() { python3 -c "import json, sys; print(*json.load(sys.stdin)['Docker']['config']$2, sep='\n')" <<< "$1"; }
id_of() { awk '/^Uid:/ { u = $3 } /^Gid:/ { g = $3 } END { print u ":" g }' "/proc/$1/status"; }

IMPORT_ALL='
import importlib, pkgutil, sys
failed = []
for top in (sys.argv[1], "alliance_platform", "alliance_contracts"):
    for module in pkgutil.walk_packages(importlib.import_module(top).__path__, top + "."):
        if module.name.endswith(("__main__", "migrations.env")):  # these run, not import
            continue
        try:
            importlib.import_module(module.name)
        except Exception as exc:
            failed.append(f"{module.name}: {exc!r}")
print(*failed, sep="\n")
sys.exit(1 if failed else 0)
'

for svc in "${SERVICES[@]}"; do
  image="localhost/alliance/$svc:$TAG"
  ctr=$(buildah from --pull=never --name "alliance-check-$svc-$$" "$image")
  CONTAINERS+=("$ctr")
  # The image's own command (CMD) and healthcheck (["CMD", ...]), as a runtime would run them.
  config=$(buildah inspect --type image "$image") || fail "cannot inspect $image"
  mapfile -t cmd < <(image_config "$config" "['Cmd'] or []")
  mapfile -t healthcheck < <(image_config "$config" ".get('Healthcheck', {}).get('Test', [])[1:]")
  (( ${#cmd[@]} )) || fail "$image has no CMD"
  (( ${#healthcheck[@]} )) || fail "$image has no HEALTHCHECK (built without --format docker?)"
  # Every module of the service and of the shared packages imports: the image holds every
  # dependency, not only those the start-up path touches.
  buildah run --isolation chroot "$ctr" -- python -c "$IMPORT_ALL" "alliance_$svc" \
    > "$WORK/imports-$svc.log" 2>&1 \
    || { cat "$WORK/imports-$svc.log" >&2; fail "$image cannot import all of its modules"; }
  # The environment the launcher gives the service (its own database role, the JWKS, the
  # webhook key). Each file it names (`*_FILE`) is handed over as Kubernetes mounts a Secret:
  # a copy owned by the image's user, read-only at /run/alliance/<variable>. The local identity
  # provider's private key is never a service's.
  mapfile -t user < <(image_config "$config" "['User'].split(':')")
  files="$WORK/files-$svc"
  mkdir -p "$files"
  env_args=()
  while IFS= read -r line; do
    name=${line#export }
    name=${name%%=*}
    value=${line#*=}
    [[ "$name" == ALLIANCE_DEV_SIGNING_KEY_FILE ]] && continue
    if [[ "$name" == *_FILE && -f "$value" ]]; then
      install -m 0400 -o "${user[0]}" -g "${user[1]:-${user[0]}}" "$value" "$files/$name"
      value="/run/alliance/$name"
    fi
    env_args+=(--env "$name=$value")
  done < <(uv run --frozen python -m alliance_devstack env --service "$svc")
  chown "${user[0]}:${user[1]:-${user[0]}}" "$files"
  chmod 0500 "$files"
  port=$(free_port)
  log="$ALLIANCE_STACK_DIR/logs/image-$svc.log"
  mkdir -p "$(dirname "$log")"
  step "starting $svc from $image on 127.0.0.1:$port (log: $log)"
  buildah run --isolation chroot --network host \
    --volume "$files:/run/alliance:ro" \
    "${env_args[@]}" --env ALLIANCE_HTTP_HOST=127.0.0.1 --env ALLIANCE_HTTP_PORT="$port" \
    "$ctr" -- "${cmd[@]}" > "$log" 2>&1 < /dev/null &
  RUN_PID[$svc]=$!

  deadline=$((SECONDS + 90))
  until python3 -c "import sys, urllib.request as u; sys.exit(u.urlopen('http://127.0.0.1:$port/readyz', timeout=2).status != 200)" 2> /dev/null; do
    kill -0 "${RUN_PID[$svc]}" 2> /dev/null \
      || { tail -40 "$log" >&2; fail "$svc exited before /readyz answered 200"; }
    (( SECONDS < deadline )) || { tail -40 "$log" >&2; fail "$svc: /readyz not 200 within 90 s"; }
    sleep 0.5
  done

  pid=$(service_pid "${RUN_PID[$svc]}" "alliance_$svc") \
    || fail "$svc answers /readyz, but no alliance_$svc process under buildah run (pid ${RUN_PID[$svc]})"
  for ids in Uid Gid; do
    read -r _ real effective saved fs < <(grep "^$ids:" "/proc/$pid/status")
    for id in "$real" "$effective" "$saved" "$fs"; do
      (( id != 0 )) || fail "$svc (pid $pid) runs as root (uid or gid 0): $(grep "^$ids:" "/proc/$pid/status")"
    done
  done
  if [[ "$svc" == gateway ]]; then
    # The console from the image: 200 when it was built into it, else the 503 saying how.
    want=503
    [[ "$CONSOLE_BUILT" == true ]] && want=200
    got=$(python3 -c "import urllib.error as e, urllib.request as u
try: print(u.urlopen('http://127.0.0.1:$port/console/', timeout=5).status)
except e.HTTPError as x: print(x.code)")
    [[ "$got" == "$want" ]] || fail "gateway image: /console/ answered $got, not $want"
  fi
  buildah run --isolation chroot --network host --env ALLIANCE_HTTP_PORT="$port" "$ctr" \
    -- "${healthcheck[@]}" > "$WORK/health-$svc.log" 2>&1 \
    || { cat "$WORK/health-$svc.log" >&2; fail "$svc: the image's HEALTHCHECK failed"; }
  step "$svc ready from its image, its HEALTHCHECK passes, pid $pid runs as uid:gid $(id_of "$pid")"

  kill -TERM "$pid"
  deadline=$((SECONDS + 30))
  while kill -0 "${RUN_PID[$svc]}" 2> /dev/null; do
    (( SECONDS < deadline )) || { tail -40 "$log" >&2; fail "$svc still running 30 s after SIGTERM"; }
    sleep 0.2
  done
  rc=0
  wait "${RUN_PID[$svc]}" || rc=$?
  unset "RUN_PID[$svc]"
  (( rc == 0 )) || { tail -40 "$log" >&2; fail "$svc exited $rc after SIGTERM (expected 0)"; }
  buildah rm "$ctr" > /dev/null
  step "$svc stopped cleanly (exit 0)"
done
step "OK: base $BASE; ${SERVICES[*]} built, ready from their images as non-root, stopped cleanly"
