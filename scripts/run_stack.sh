#!/usr/bin/env bash
# `make run-stack`: the API calling a TF-Serving-compatible server over REST (or gRPC with
# PROTOCOL=grpc), as docker-compose.yml wires them, without Docker. The server is the local
# stand-in (`python -m serving`) on 127.0.0.1:8501 (REST) and :8500 (gRPC) with the compose file's
# batching settings; the API starts once the model is
# AVAILABLE, and the server is stopped when the API exits (or on Ctrl-C / SIGTERM).
#
# Settings (environment): SERVING_PORT (8501), SERVING_GRPC_PORT (8500), PROTOCOL (rest | grpc),
# MODEL_NAME (autoencoder),
# MODEL_BASE_PATH (serving/models/$MODEL_NAME), SERVING_START_TIMEOUT (300 s).
set -euo pipefail
cd "$(dirname "$0")/.."

py=${PYTHON_BIN:-.venv/bin/python}
port=${SERVING_PORT:-8501}
grpc_port=${SERVING_GRPC_PORT:-8500}
model=${MODEL_NAME:-autoencoder}
base=${MODEL_BASE_PATH:-$PWD/serving/models/$model}
start_timeout=${SERVING_START_TIMEOUT:-300}
export TF_CPP_MIN_LOG_LEVEL=${TF_CPP_MIN_LOG_LEVEL:-3}

if ! compgen -G "$base/[0-9]*/saved_model.pb" >/dev/null; then
  echo "run-stack: no model version under $base (a numbered folder with saved_model.pb);" \
       "export one with: $py -m training.export <model.keras> --base $base" >&2
  exit 1
fi

"$py" -m serving --rest_api_host=127.0.0.1 --rest_api_port="$port" \
  --grpc_host=127.0.0.1 --port="$grpc_port" \
  --model_name="$model" --model_base_path="$base" \
  --enable_batching --batching_parameters_file=serving/batching.config \
  --rest_api_timeout_in_ms=120000 &
server=$!
api=

stop_server() {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
stop_api() {
  if [ -n "$api" ]; then
    kill -TERM "$api" 2>/dev/null || true
    wait "$api" 2>/dev/null || true
  fi
}
trap stop_server EXIT
trap 'stop_api; exit 130' INT TERM

model_available() {
  "$py" - "http://127.0.0.1:$port/v1/models/$model" <<'EOF'
import sys, urllib.request
try:
    with urllib.request.urlopen(sys.argv[1], timeout=2) as answer:
        sys.exit(0 if b'"AVAILABLE"' in answer.read() else 1)
except OSError:
    sys.exit(1)
EOF
}

deadline=$((SECONDS + start_timeout))
until model_available; do
  if ! kill -0 "$server" 2>/dev/null; then
    echo "run-stack: the model server exited before the model was AVAILABLE" >&2
    exit 1
  fi
  if [ "$SECONDS" -ge "$deadline" ]; then
    echo "run-stack: model $model not AVAILABLE on 127.0.0.1:$port within ${start_timeout}s" >&2
    exit 1
  fi
  sleep 1
done
echo "run-stack: model server ready on http://127.0.0.1:$port; starting the API" >&2

if [ "${PROTOCOL:-rest}" = grpc ]; then
  export TF_SERVING_GRPC="127.0.0.1:$grpc_port"
fi
TF_SERVING_URL="http://127.0.0.1:$port" MODEL_NAME="$model" "$py" -m api &
api=$!
status=0
wait "$api" || status=$?
exit "$status"
