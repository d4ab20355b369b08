#!/usr/bin/env bash
# Set everything up, then run the pipeline or the tests.
#
#   ./tasks.sh repro   create .venv if needed, install requirements, get the data, run `dvc repro`
#   ./tasks.sh test    create .venv if needed, install requirements, run ruff and the test suite
#   ./tasks.sh exps    compare experiments: dvc exp show, best test accuracy first, in 100 columns
#
# Extra arguments go to dvc repro, pytest or dvc exp show. Needs Python 3.11, 3.12 or 3.13 (CI runs 3.11).
set -euo pipefail
cd "$(dirname "$0")"

setup() {
    if [ ! -x .venv/bin/python ]; then
        local python version
        python=$(command -v python3.11 || command -v python3.12 || command -v python3.13 || command -v python3) \
            || { echo "tasks.sh: Python not found; install Python 3.11, 3.12 or 3.13" >&2; exit 1; }
        version=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')
        case "$version" in
            3.11 | 3.12 | 3.13) ;;
            *) echo "tasks.sh: $python is Python $version; the locked packages need 3.11, 3.12 or 3.13" >&2; exit 1 ;;
        esac
        echo "tasks.sh: creating .venv with Python $version"
        "$python" -m venv .venv
    fi
    # Install the exact packages of requirements.lock (every one pinned, every file's hash checked),
    # again only when the lock changed since the last install.
    local stamp=.venv/.requirements.sha256
    local wanted
    wanted=$(sha256sum requirements.lock | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
        echo "tasks.sh: installing requirements.lock into .venv: $(grep -c '==' requirements.lock) packages," \
            "about 720 MB to download and 2.9 GB on disk; pip says what it does as it goes"
        echo "tasks.sh: step 1 of 2: upgrading pip"
        .venv/bin/python -m pip install --upgrade --progress-bar on pip
        echo "tasks.sh: step 2 of 2: the locked packages (pip is silent while it unpacks them, a minute or two)"
        .venv/bin/python -m pip install --progress-bar on --require-hashes --no-deps -r requirements.lock
        echo "$wanted" > "$stamp"
        echo "tasks.sh: .venv is ready"
    fi
    export PATH="$PWD/.venv/bin:$PATH"
}

# The comparison fits a terminal 100 columns wide: left out are file hashes (names with a slash), the figure
# params, the creation time, the export checks, the accuracy on changed test images (robustness.*: `dvc exp show`
# has them) and the training metrics (the epochs run, train.* and every loss), so that the validation and test
# accuracy, always kept, come right after the name. DVC puts metrics
# before params and, when the table is still too wide, hides params from the right; --only-changed shows only
# the params that differ between rows.
EXP_DROP='.*/|visualize\..*|Created|epochs|train\.(accuracy|loss)|.*\.(labels_equal|max_diff_ppm)|(val|test)\.loss|robustness\..*'
EXP_KEEP='(val|test)\.accuracy'
EXP_SORT='metrics/test.json:test.accuracy'

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
        dvc exp show --only-changed --drop "$EXP_DROP" --keep "$EXP_KEEP" --sort-by "$EXP_SORT" --sort-order desc "$@"
        ;;
    -h | --help | help)
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//'
        ;;
    *)
        echo "tasks.sh: unknown command '${1:-}'; expected repro, test or exps" >&2
        sed -n '2,8p' "$0" | sed 's/^# \{0,1\}//' >&2
        exit 2
        ;;
esac
