#!/usr/bin/env bash
# Set everything up, then run the pipeline or the tests.
#
#   ./tasks.sh repro   create .venv if needed, install requirements, get the data, run `dvc repro`
#   ./tasks.sh test    create .venv if needed, install requirements, run ruff and the test suite
#   ./tasks.sh exps    compare experiments: dvc exp show, best test accuracy first, without file hashes
#
# Extra arguments go to dvc repro, pytest or dvc exp show. Needs Python 3.11 (python3.11 or python3).
set -euo pipefail
cd "$(dirname "$0")"

setup() {
    local python
    python=$(command -v python3.11 || command -v python3) || { echo "tasks.sh: Python 3.11 not found" >&2; exit 1; }
    if [ ! -x .venv/bin/python ]; then
        echo "tasks.sh: creating .venv with $("$python" --version)"
        "$python" -m venv .venv
    fi
    # Install the exact packages of requirements.lock (every one pinned, every file's hash checked),
    # again only when the lock changed since the last install.
    local stamp=.venv/.requirements.sha256
    local wanted
    wanted=$(sha256sum requirements.lock | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        echo "tasks.sh: installing requirements.lock into .venv"
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet --require-hashes --no-deps -r requirements.lock
        echo "$wanted" > "$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}

# Left out of the comparison: file hashes (names with a slash) and the figure params; --only-changed
# leaves out, too, every column whose value is the same in every row, so the table fits a terminal,
# but for the validation and test metrics, which are always shown.
EXP_DROP='.*/|visualize\.'
EXP_KEEP='(val|test)\.'

case "${1:-}" in
    repro)
        shift
        setup
        python -m mnist_dvc.apps.fetch
        dvc repro "$@"
        python -m tools.summary
        ;;
    test)
        shift
        setup
        ruff check .
        ruff format --check .
        python -m pytest "$@"
        ;;
    exps)
        shift
        setup
        dvc exp show --only-changed --drop "$EXP_DROP" --keep "$EXP_KEEP" --sort-by metrics/test.json:test.accuracy --sort-order desc "$@"
        ;;
    *)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
