#!/bin/bash
# Same shape as the official image's entrypoint: its fixed flags first, the command's flags after
# (a later flag wins; --model_config_file makes --model_name/--model_base_path ignored).
exec python3 -m serving --port="${GRPC_PORT}" --rest_api_port="${PORT}" \
  --model_name="${MODEL_NAME}" --model_base_path="${MODEL_BASE_PATH}/${MODEL_NAME}" "$@"
