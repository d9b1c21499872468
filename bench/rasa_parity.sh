#!/usr/bin/env bash
# Rasa 3.6 and the built-in NLU side by side on the held-out sets (tests/data/nlu_heldout): accuracy and latency.
#
# Installs Rasa outside the repository if it is missing (../shared/rasa/install.sh; a few minutes,
# ~2 GB), trains it on content/nlu/ with nlu/rasa/config.yml, serves it with `rasa run --enable-api`
# on 127.0.0.1, and runs bench/nlu_bench.py --rasa-url against it. Everything it starts is stopped
# on exit.
#
# Usage, from anywhere:  bench/rasa_parity.sh
# Environment: RASA_VENV (default ../rasa-venv beside the repo), RASA_PORT (default 5005),
#              PYTHON (the project's interpreter; default ../venv/bin/python if present, else python3),
#              RASA_MODEL (a trained model .tar.gz to serve instead of training one).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
RASA_VENV=${RASA_VENV:-$ROOT/../rasa-venv}
PORT=${RASA_PORT:-5005}
if [ -z "${PYTHON:-}" ]; then
  if [ -x "$ROOT/../venv/bin/python" ]; then PYTHON=$ROOT/../venv/bin/python; else PYTHON=python3; fi
fi
WORK=$(mktemp -d /tmp/rasa-parity.XXXX)
RASA_PID=

cleanup() {
  if [ -n "$RASA_PID" ] && kill -0 "$RASA_PID" 2>/dev/null; then
    kill "$RASA_PID" 2>/dev/null || true
    wait "$RASA_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x "$RASA_VENV/bin/rasa" ]; then
  echo "installing Rasa 3.6 into $RASA_VENV (a few minutes, ~2 GB)"
  "$ROOT/../shared/rasa/install.sh" "$RASA_VENV"
fi
export RASA_TELEMETRY_ENABLED=false

MODEL=${RASA_MODEL:-}
if [ -z "$MODEL" ]; then
  echo "training Rasa on content/nlu with nlu/rasa/config.yml"
  start=$(date +%s)
  (cd "$WORK" && "$RASA_VENV/bin/rasa" train nlu --nlu "$ROOT/content/nlu" --config "$ROOT/nlu/rasa/config.yml" \
    --out "$WORK/models" --fixed-model-name opastin-nlu)
  echo "Rasa trained in $(( $(date +%s) - start )) s"
  MODEL=$WORK/models/opastin-nlu.tar.gz
fi

echo "starting rasa run --enable-api on 127.0.0.1:$PORT"
(cd "$WORK" && exec "$RASA_VENV/bin/rasa" run --enable-api -i 127.0.0.1 -p "$PORT" --model "$MODEL" \
  >"$WORK/rasa.log" 2>&1) &
RASA_PID=$!

ready=
for _ in $(seq 1 300); do
  if "$PYTHON" -c "import httpx, sys; sys.exit(httpx.get('http://127.0.0.1:$PORT/status', timeout=2).status_code != 200)" \
      2>/dev/null; then
    ready=yes
    break
  fi
  if ! kill -0 "$RASA_PID" 2>/dev/null; then break; fi
  sleep 1
done
if [ -z "$ready" ]; then
  echo "Rasa did not come up on 127.0.0.1:$PORT; its log:" >&2
  cat "$WORK/rasa.log" >&2
  exit 1
fi

"$PYTHON" "$ROOT/bench/nlu_bench.py" --rasa-url "http://127.0.0.1:$PORT" "$@"
