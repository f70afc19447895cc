# Shared by infra scripts: paths and settings, all overridable by the environment.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export PAAS_DATA_DIR="${PAAS_DATA_DIR:-$ROOT/.paas}"
export PAAS_WEB_PORT="${PAAS_WEB_PORT:-3000}"
export PAAS_HTTP_PORT="${PAAS_HTTP_PORT:-8080}"
export PAAS_AGENT_PORT="${PAAS_AGENT_PORT:-3101}"
export PAAS_REDIS_PORT="${PAAS_REDIS_PORT:-6379}"
export PAAS_DOMAIN="${PAAS_DOMAIN:-localhost}"
RUN_DIR="$PAAS_DATA_DIR/run"
LOG_DIR="$PAAS_DATA_DIR/logs"
TSX="$ROOT/node_modules/.bin/tsx"

say() { printf '\033[1m==>\033[0m %s\n' "$*"; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }
