# Shared by infra scripts: paths and settings, all overridable by the environment.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PAAS_DATA_DIR="${PAAS_DATA_DIR:-$ROOT/.paas}"
export PAAS_WEB_PORT="${PAAS_WEB_PORT:-3000}"
export PAAS_HTTP_PORT="${PAAS_HTTP_PORT:-8080}"
export PAAS_HTTPS_PORT="${PAAS_HTTPS_PORT:-8443}"
export PAAS_AGENT_PORT="${PAAS_AGENT_PORT:-3101}"
export PAAS_REDIS_PORT="${PAAS_REDIS_PORT:-6379}"
export PAAS_DOMAIN="${PAAS_DOMAIN:-localhost}"
# Prometheus (the metrics' history) and the router's figures for it, both on loopback.
export PAAS_PROMETHEUS_PORT="${PAAS_PROMETHEUS_PORT:-9390}"
export PAAS_ROUTER_METRICS_PORT="${PAAS_ROUTER_METRICS_PORT:-9391}"
RUN_DIR="$PAAS_DATA_DIR/run"
LOG_DIR="$PAAS_DATA_DIR/logs"
# Tests only: the services run from bundles (SERVICES_DIR) under plain node.
TSX="$ROOT/node_modules/.bin/tsx"

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
SERVICES_DIR="$ROOT/dist/services"
# The dashboard from Next's standalone output (outputFileTracingRoot is the repo root, so the
# app sits at its repo path inside it).
WEB_STANDALONE="$ROOT/apps/web/.next/standalone/apps/web"

# listener_pid PORT: the pid of the process listening on TCP PORT (nothing when the port is free).
listener_pid() { ss -Hltnp "sport = :$1" | grep -o 'pid=[0-9]*' | head -1 | cut -d= -f2; }

# port_holder PORT: "COMMAND (pid N)" of the process listening on PORT, or nothing when it is free.
port_holder() {
  local line pid
  line=$(ss -Hltnp "sport = :$1")
  [ -n "$line" ] || return 0
  pid=$(listener_pid "$1")
  if [ -n "$pid" ]; then printf '%s (pid %s)' "$(ps -o args= -p "$pid" | cut -c1-80)" "$pid"; else printf 'a process in another namespace'; fi
}
