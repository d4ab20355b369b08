#!/usr/bin/env bash
# Set everything up, then run the pipeline or the tests.
#
#   ./tasks.sh repro   create .venv if needed, install requirements, run `dvc repro`
#   ./tasks.sh test    create .venv if needed, install requirements, run the test suite
#   ./tasks.sh exps    compare experiments: dvc exp show with the key params and metrics only
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
    # Reinstall only when requirements.txt changed since the last install.
    local stamp=.venv/.requirements.sha256
    local wanted
    wanted=$(sha256sum requirements.txt | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        echo "tasks.sh: installing requirements.txt into .venv"
        .venv/bin/python -m pip install --quiet --upgrade pip
        .venv/bin/python -m pip install --quiet -r requirements.txt
        echo "$wanted" > "$stamp"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
    # The offline page of `dvc plots show` inlines Vega from npm packages.
    if command -v npm >/dev/null; then
        python -m stages.report install
    else
        echo "tasks.sh: npm not found: dvc plots show needs it once (apt-get install npm, then: python -m stages.report install)"
    fi
}

# The columns worth comparing: test and validation metrics, and the params people change.
EXP_COLUMNS='^(Experiment|Created|State)$|^(test|val)\.(loss|accuracy)$|^epochs_run$|^seed$'
EXP_COLUMNS+='|^train\.(hidden_units|hidden_activation|output_activation|optimizer|learning_rate|momentum'
EXP_COLUMNS+='|batch_size|epochs|dropout|early_stopping_patience)$|^prepare\.dataset$'

case "${1:-}" in
    repro)
        shift
        setup
        dvc repro "$@"
        dvc metrics show
        ;;
    test)
        shift
        setup
        python -m pytest "$@"
        ;;
    exps)
        shift
        setup
        dvc exp show --drop '.*' --keep "$EXP_COLUMNS" "$@"
        ;;
    *)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
