#!/usr/bin/env bash
# Offline checks of the Helm chart (no cluster):
#   1. helm (pinned, built once from the Go module proxy and kept in $HELM_BIN) lints the chart
#      with --strict against values.schema.json and the CI values;
#   2. `helm template` renders it twice (deploy/helm/ci-values.yaml, and a variant with plain
#      Kafka, a JWKS URL and fixed replicas) and kubernetes-validate checks every manifest,
#      strictly, against the pinned Kubernetes version's schemas;
#   3. project rules on the rendered manifests (hardening, probes, no secret value);
#   4. the chart refuses to render with consumer replicas above the partition count, and with
#      each needed Secret reference missing.
#
#   bash deploy/helm/check.sh
set -euo pipefail

HELM_VERSION=v3.19.0
KUBE_VERSION=1.34.0
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
CHART="$REPO/deploy/helm/alliance"
CI_VALUES="$REPO/deploy/helm/ci-values.yaml"
cd "$REPO"

fail() { echo "helm-check: FAIL: $*" >&2; exit 1; }
step() { echo "helm-check: $*"; }

# ---------------------------------------------------------------- helm, built once per machine
command -v go > /dev/null || PATH="/usr/local/go/bin:$PATH"
command -v go > /dev/null || fail "Go is needed to build helm (go install helm.sh/helm/v3/cmd/helm)"
HELM_BIN=${HELM_BIN:-"$(go env GOPATH)/bin/helm"}
pinned() { go version -m "$HELM_BIN" 2> /dev/null | grep -Eq "^\s+mod\s+helm.sh/helm/v3\s+$HELM_VERSION(\s|$)"; }
if ! pinned; then
  step "building helm $HELM_VERSION into $(dirname "$HELM_BIN") (once per machine, a few minutes)"
  GOBIN=$(dirname "$HELM_BIN") GOFLAGS=-buildvcs=false go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
  [[ "$(basename "$HELM_BIN")" == helm ]] || mv "$(dirname "$HELM_BIN")/helm" "$HELM_BIN"
  pinned || fail "$HELM_BIN is not helm $HELM_VERSION after go install"
fi
helm() { "$HELM_BIN" "$@"; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# ---------------------------------------------------------------- lint and render
step "helm $HELM_VERSION lint --strict (values.schema.json, $CI_VALUES)"
helm lint --strict "$CHART" -f "$CI_VALUES" --kube-version "$KUBE_VERSION" > "$work/lint.txt" \
  || { cat "$work/lint.txt" >&2; fail "helm lint"; }

render() { helm template alliance "$CHART" -f "$CI_VALUES" --kube-version "$KUBE_VERSION" "$@"; }
render > "$work/ci.yaml" || fail "helm template with $CI_VALUES"
render --set kafka.securityProtocol=PLAINTEXT,kafka.tls.caSecret.existingSecret= \
  --set auth.jwks.existingSecret=,auth.jwksUrl=https://idp.example.org/jwks.json \
  --set intake.autoscaling.enabled=false,gateway.autoscaling.enabled=false \
  --set database.sslmode=require,database.tls.caSecret.existingSecret= \
  --set hooks.provisionTopics=false \
  --set tracing.otlpEndpoint=http://otel-collector.monitoring:4318 > "$work/variant.yaml" || fail "helm template (variant)"

step "kubernetes-validate --strict, Kubernetes $KUBE_VERSION"
uv run --frozen kubernetes-validate --strict --quiet -k "$KUBE_VERSION" \
  "$work/ci.yaml" "$work/variant.yaml" || fail "kubernetes-validate rejected a rendered manifest"

# ---------------------------------------------------------------- project rules
uv run --frozen python - "$work/ci.yaml" "$work/variant.yaml" <<'PY' || fail "chart policy check"
import re, sys
import yaml

problems, counts = [], {}


def literal_secret(env):
    """A secret written into the manifest: by its name, or a password inside a URL."""
    name, value = env["name"], str(env.get("value", ""))
    if "value" not in env or name.endswith("_FILE"):
        return False
    return bool(re.search(r"PASSWORD|SECRET|_KEYS$", name) or re.search(r"://[^/@\s]*:[^/@\s]*@", value))


for path in sys.argv[1:]:
    docs = [d for d in yaml.safe_load_all(open(path)) if d]
    kinds = {}
    for doc in docs:
        kinds.setdefault(doc["kind"], []).append(doc)
        counts[doc["kind"]] = counts.get(doc["kind"], 0) + 1
    for doc in kinds.get("Deployment", []) + kinds.get("Job", []):
        name = f"{path.rsplit('/', 1)[-1]}: {doc['kind']} {doc['metadata']['name']}"
        pod = doc["spec"]["template"]["spec"]
        psc = pod.get("securityContext", {})
        if not psc.get("runAsNonRoot") or psc.get("seccompProfile", {}).get("type") != "RuntimeDefault":
            problems.append(f"{name}: pod not runAsNonRoot with seccomp RuntimeDefault")
        if pod.get("automountServiceAccountToken") is not False:
            problems.append(f"{name}: mounts a service account token")
        volumes = [v["name"] for v in pod.get("volumes", [])]
        if len(volumes) != len(set(volumes)):
            problems.append(f"{name}: a volume named twice in {volumes}")
        for c in pod["containers"]:
            sc = c.get("securityContext", {})
            if not (sc.get("readOnlyRootFilesystem") and sc.get("allowPrivilegeEscalation") is False
                    and sc.get("capabilities", {}).get("drop") == ["ALL"]):
                problems.append(f"{name}: container {c['name']} not hardened")
            if not c.get("resources", {}).get("limits") or not c["resources"].get("requests"):
                problems.append(f"{name}: container {c['name']} without requests and limits")
            if doc["kind"] == "Deployment":
                probes = {k: c.get(k, {}).get("httpGet", {}).get("path") for k in ("livenessProbe", "readinessProbe")}
                if probes != {"livenessProbe": "/healthz", "readinessProbe": "/readyz"}:
                    problems.append(f"{name}: probes {probes}")
            mounts = [m["name"] for m in c.get("volumeMounts", [])]
            if len(mounts) != len(set(mounts)) or not set(mounts) <= set(volumes):
                problems.append(f"{name}: container {c['name']} mounts {mounts} of {volumes}")
            envs = [e["name"] for e in c.get("env", [])]
            if len(envs) != len(set(envs)):
                problems.append(f"{name}: container {c['name']} sets a variable twice")
            for env in c.get("env", []):
                if literal_secret(env):
                    problems.append(f"{name}: {env['name']} carries a literal secret")
    for doc in kinds.get("HorizontalPodAutoscaler", []):
        if doc["spec"]["scaleTargetRef"]["name"].rsplit("-", 1)[-1] not in ("intake", "gateway"):
            problems.append(f"HPA on {doc['spec']['scaleTargetRef']['name']}")
    if len(kinds.get("Deployment", [])) != 4 or len(kinds.get("PodDisruptionBudget", [])) != 4:
        problems.append(f"{path}: expected 4 Deployments and 4 PodDisruptionBudgets")
    if len(kinds.get("NetworkPolicy", [])) != 5:
        problems.append(f"{path}: expected 5 NetworkPolicies (4 services, the hooks)")
for p in problems:
    print(f"  {p}", file=sys.stderr)
print("helm-check: rendered " + ", ".join(f"{n} {k}" for k, n in sorted(counts.items())))
sys.exit(1 if problems else 0)
PY
step "policy ok (volumes, mounts and variables named once, non-root, read-only root, no escalation, capabilities dropped, seccomp, requests and limits, probes, no literal secret, HPAs on intake and gateway only)"

# ---------------------------------------------------------------- must refuse to render
refuses() {  # refuses "what the error must say" helm-template-arguments...
  local expect=$1
  shift
  if render "$@" > /dev/null 2> "$work/err.txt"; then
    fail "rendered with $*: expected a refusal naming '$expect'"
  fi
  grep -qF -- "$expect" "$work/err.txt" \
    || { cat "$work/err.txt" >&2; fail "refused with $*, but not for '$expect'"; }
}
refuses "scoring.replicas is 13, above kafka.topicPartitions (12)" --set scoring.replicas=13
refuses "alerts.replicas is 5, above kafka.topicPartitions (4)" --set kafka.topicPartitions=4,alerts.replicas=5
for ref in database.admin.existingSecret intake.database.existingSecret \
  scoring.database.existingSecret alerts.database.existingSecret gateway.database.existingSecret \
  alerts.webhook.keys.existingSecret database.tls.caSecret.existingSecret; do
  refuses "$ref" --set "$ref="
done
# A service with neither its own Kafka principal's Secret nor the shared one.
for component in intake scoring alerts gateway provisioning; do
  refuses "kafka.sasl.perComponent.$component" \
    --set "kafka.sasl.existingSecret=,kafka.sasl.perComponent.$component="
done
refuses "auth.jwksUrl or auth.jwks.existingSecret" --set auth.jwks.existingSecret=
refuses "kafka.bootstrapServers" --set kafka.bootstrapServers=
refuses "auth.issuer" --set auth.issuer=
step "refusals ok (replicas above the partitions; each missing Secret reference, JWKS, brokers, issuer)"
step "OK"
