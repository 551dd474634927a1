#!/usr/bin/env bash
# Offline validation of the deployment templates (part of `make test`): SAM's own validation with
# cfn-lint, cfn-lint on every template, checkov's CloudFormation checks. Each failure says what to fix.
set -uo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv-lint/bin:$PATH" SAM_CLI_TELEMETRY=0 AWS_DEFAULT_REGION=${AWS_DEFAULT_REGION:-eu-central-1}
templates=(template.yaml deployment-role.yaml organisation/member.yaml catalog/products/open-log-access.yaml catalog/products/close-log-access.yaml catalog/products/request-log-access.yaml)
failed=0
step() { # name, fix hint, command...
  local name=$1 hint=$2
  shift 2
  if out=$("$@" 2>&1); then
    echo "validate: $name ok"
  else
    echo "$out"
    echo "validate: $name FAILED: $hint"
    failed=1
  fi
}
step "sam validate --lint" "fix template.yaml where SAM points" sam validate --lint -t template.yaml
step "cfn-lint" "fix the findings above (no errors or warnings are accepted)" cfn-lint "${templates[@]}"
step "checkov" "fix the failed checks above; a skip needs a comment saying why (Metadata.checkov.skip)" \
  checkov --framework cloudformation --skip-download --quiet --compact $(printf -- '-f %s ' "${templates[@]}")
# The SCP is JSON IAM policy text; cfn-lint does not see it, so check its shape here.
step "scp" "canonical-policies/scp/*.json must be valid JSON under 5120 characters (SCP limit)" \
  .venv-lint/bin/python - <<'PY'
import json, pathlib, sys
for p in sorted(pathlib.Path("canonical-policies/scp").glob("*.json")):
    text = p.read_text()
    doc = json.loads(text)
    minified = json.dumps(doc, separators=(",", ":"))
    assert doc.get("Version") == "2012-10-17", f"{p}: Version must be 2012-10-17"
    assert len(minified) <= 5120, f"{p}: {len(minified)} characters minified, SCPs allow 5120"
    print(f"{p}: {len(minified)} characters minified")
PY
exit $failed
