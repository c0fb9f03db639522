#!/usr/bin/env bash
# Checks the Prometheus alert rules offline: `promtool check rules`, then the rules' unit tests
# (`promtool test rules`). promtool comes from Debian's `prometheus` package, unpacked into a
# cache (not installed: the package would start a Prometheus server). Run from the repo root.
set -euo pipefail
cd "$(dirname "$0")"

promtool="$(command -v promtool || true)"
if [[ -z "$promtool" ]]; then
  cache="${XDG_CACHE_HOME:-$HOME/.cache}/alliance/promtool"
  promtool="$cache/usr/bin/promtool"
  if [[ ! -x "$promtool" ]]; then
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' EXIT
    (cd "$work" && apt-get download prometheus >/dev/null 2>&1) || {
      echo "monitoring-check: cannot download Debian's prometheus package (apt-get download prometheus)" >&2
      exit 1
    }
    mkdir -p "$cache"
    dpkg-deb -x "$work"/prometheus_*.deb "$cache"
  fi
fi
echo "monitoring-check: $("$promtool" --version 2>&1 | head -1)"
"$promtool" check rules alerts.yml
"$promtool" test rules alerts.test.yml
python3 -c 'import json, sys; json.load(open("grafana-dashboard.json"))' \
  || { echo "monitoring-check: grafana-dashboard.json is not JSON" >&2; exit 1; }
echo "monitoring-check: OK"
