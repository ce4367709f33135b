#!/usr/bin/env bash
# bash tools/dist_launch.sh SCRIPT NPROC [SCRIPT args]: SCRIPT under torchrun, --launcher pytorch.
# What dist_train.sh and dist_test.sh share. Multi-node: NNODES, NODE_RANK, MASTER_ADDR, PORT.
# Without CUDA the same command runs NPROC processes on the CPU with the gloo backend.
set -e
SCRIPT=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
TOOLS_DIR=$(cd "$(dirname "$0")" && pwd)
source "$TOOLS_DIR/find_python.sh"  # PYTHON, else the active env, else .venv

PYTHONPATH="$TOOLS_DIR/..:$PYTHONPATH" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$SCRIPT" "${@:3}" --launcher pytorch
