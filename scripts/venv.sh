#!/usr/bin/env bash
# Creates .venv with the Python tools the tests and the demo use (moto as the local AWS), once.
# Re-running is cheap: it only installs when the pinned versions are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
want="moto[server]==5.2.5"
if [ -x .venv/bin/moto_server ] && .venv/bin/python -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null; then
  exit 0
fi
echo "setting up .venv ($want)" >&2
"$python" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check "$want"
