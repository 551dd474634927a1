#!/usr/bin/env bash
# `make package`: the deployable artefacts, built by `sam build` (cargo-lambda, release profile).
# template.yaml targets x86_64, the architecture built and tested here. ARCH=arm64 builds for Graviton
# instead (docs/deploy.md): it needs `rustup target add aarch64-unknown-linux-gnu` and writes
# template.arm64.yaml, the same template with `Architectures: [arm64]`. Output: .aws-sam/build.
set -euo pipefail
cd "$(dirname "$0")/.."
arch=${ARCH:-x86_64}
template=template.yaml
case "$arch" in
  x86_64) ;;
  arm64)
    if ! rustup target list --installed 2>/dev/null | grep -q '^aarch64-unknown-linux-gnu$'; then
      echo "package: ARCH=arm64 needs the aarch64 target: rustup target add aarch64-unknown-linux-gnu" >&2
      exit 1
    fi
    sed 's/Architectures: \[x86_64\]/Architectures: [arm64]/' template.yaml > template.arm64.yaml
    template=template.arm64.yaml
    ;;
  *)
    echo "package: ARCH must be x86_64 (the default) or arm64, not \`$arch\`" >&2
    exit 2
    ;;
esac
./scripts/venv.sh lambda
./scripts/venv.sh lint
export PATH="$PWD/.venv/bin:$PWD/.venv-lint/bin:$PATH" SAM_CLI_TELEMETRY=0
# rust-cargolambda is a SAM beta feature.
sam build --beta-features --template-file "$template"
ls -l .aws-sam/build/*/bootstrap
echo "package: $arch done; deploy with sam deploy as the breakglass-deployment role: docs/deploy.md, step 4"
