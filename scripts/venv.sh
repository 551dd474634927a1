#!/usr/bin/env bash
# Creates .venv with the Python tools the project uses, once; re-running only installs what is missing.
#   scripts/venv.sh          moto (the local AWS of the tests and the demo)
#   scripts/venv.sh lambda   also cargo-lambda and zig (make package, make bench)
#   scripts/venv.sh lint     the template validators, in their own .venv-lint (their pins clash with moto's)
#   scripts/venv.sh peer     Cloud Custodian and c7n-org, in their own .venv-peer (make bench compares them with breakglass)
set -euo pipefail
cd "$(dirname "$0")/.."
python=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$python" -m venv .venv
install() { # name==version [more requirements]
  .venv/bin/python -m pip install --quiet --disable-pip-version-check "$@"
}
if ! .venv/bin/python -c 'import moto, sys; sys.exit(moto.__version__ != "5.2.5")' 2>/dev/null || [ ! -x .venv/bin/moto_server ]; then
  echo "installing moto[server] 5.2.5 into .venv" >&2
  install "moto[server]==5.2.5"
fi
if [ "${1:-}" = lambda ] && [ ! -x .venv/bin/cargo-lambda ]; then
  echo "installing cargo-lambda 1.9.2 and zig into .venv" >&2
  install "cargo-lambda==1.9.2" "ziglang==0.17.1"
fi
if [ "${1:-}" = peer ]; then
  [ -x .venv-peer/bin/python ] || "$python" -m venv .venv-peer
  if ! .venv-peer/bin/python -c 'import importlib.metadata as m, sys; sys.exit(m.version("c7n") != "0.9.53" or m.version("c7n-org") != "0.6.52")' 2>/dev/null; then
    echo "installing c7n (Cloud Custodian) 0.9.53 and c7n-org 0.6.52 into .venv-peer" >&2
    .venv-peer/bin/python -m pip install --quiet --disable-pip-version-check "c7n==0.9.53" "c7n-org==0.6.52"
  fi
fi
if [ "${1:-}" = lint ]; then
  [ -x .venv-lint/bin/python ] || "$python" -m venv .venv-lint
  if ! .venv-lint/bin/python -m pip show --quiet aws-sam-cli cfn-lint checkov >/dev/null 2>&1 \
    || ! .venv-lint/bin/python - <<'PY'
import importlib.metadata as m, sys
want = {"aws-sam-cli": "1.170.0", "cfn-lint": "1.58.0", "checkov": "3.2.459"}
sys.exit(any(m.version(k) != v for k, v in want.items()))
PY
  then
    echo "installing aws-sam-cli, cfn-lint and checkov into .venv-lint" >&2
    .venv-lint/bin/python -m pip install --quiet --disable-pip-version-check \
      "aws-sam-cli==1.170.0" "cfn-lint==1.58.0" "checkov==3.2.459"
  fi
fi
