#!/usr/bin/env bash
# `make package`: the deployable artefacts, built by `sam build` (cargo-lambda, release profile).
# template.yaml targets arm64 (Graviton). This machine cannot install the aarch64 standard library
# (no network beyond package registries), so without it we say so and build an x86_64 variant of the
# template instead: same resources, `Architectures: [x86_64]`. Output: .aws-sam/build (sam deploy).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/venv.sh lambda
./scripts/venv.sh lint
export PATH="$PWD/.venv/bin:$PWD/.venv-lint/bin:$PATH" SAM_CLI_TELEMETRY=0
template=template.yaml
if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
  echo "package: the aarch64 target is not installed (rustup target add aarch64-unknown-linux-gnu);"
  echo "package: building x86_64 from template.x86_64.yaml instead. Deploy that template, or build on a machine with the target."
  sed 's/Architectures: \[arm64\]/Architectures: [x86_64]/' template.yaml > template.x86_64.yaml
  template=template.x86_64.yaml
fi
# rust-cargolambda is a SAM beta feature.
sam build --beta-features --template-file "$template"
ls -l .aws-sam/build/*/bootstrap
echo "package: done; deploy with sam deploy as the breakglass-deployment role: docs/deploy.md, step 4"
