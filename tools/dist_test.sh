#!/usr/bin/env bash
# bash tools/dist_test.sh CONFIG CHECKPOINT GPUS [test.py args]
# Same launch as tools/dist_train.sh (NNODES, NODE_RANK, MASTER_ADDR, PORT; gloo without CUDA).
set -e
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
exec bash "$TOOLS_DIR/dist_launch.sh" "$TOOLS_DIR/test.py" "$3" "$1" "$2" "${@:4}"
