# Sourced by the launch scripts: which python runs the tools.
# 1. PYTHON from the environment; 2. the python of an active virtualenv or conda env;
# 3. the checkout's .venv (what `make demo` / `make test` create), so the scripts work in a new
#    shell without `source .venv/bin/activate`; 4. python on PATH.
if [ -z "${PYTHON:-}" ]; then
    REPO_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    if [ -z "${VIRTUAL_ENV:-}${CONDA_PREFIX:-}" ] && [ -x "$REPO_ROOT/.venv/bin/python" ]; then
        PYTHON="$REPO_ROOT/.venv/bin/python"
    else
        PYTHON=python
    fi
fi
