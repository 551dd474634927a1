#!/usr/bin/env bash
# `make demo`: the policy tools of breakglass on the example configuration.
# Shows: both templates rendered, an AWS-normalised copy recognised as ClosedAccess, a tampered copy
# that still calls itself ClosedAccess caught as drift with a plain-English diff, and the evaluator
# proving who can read what.
set -euo pipefail
cd "$(dirname "$0")/.."

bg=${BREAKGLASS_BIN:-target/debug/breakglass}
config=examples/breakglass.toml
bucket=acme-cloudtrail-logs
# A fixed clock, so that the demo prints the same thing every day.
now=2026-11-24T12:00:00Z
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ -t 1 ]; then bold=$'\033[1m' plain=$'\033[0m'; else bold='' plain=''; fi
step() { printf '\n%s== %s%s\n' "$bold" "$*" "$plain"; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

step "1. ClosedAccess for $bucket, rendered from $config (first statement: nobody reads objects)"
run "$bg" policy render closed --config "$config" --bucket "$bucket" | tee "$work/closed.json" | head -n 20
echo "  … ($(wc -l < "$work/closed.json") lines in all)"
run "$bg" policy hash "$work/closed.json"

step "2. OpenAccess for one investigator until 16:00 UTC (expiry written into the policy itself)"
run "$bg" policy render open --config "$config" --bucket "$bucket" --at "$now" --until 2026-11-24T16:00:00Z \
  --reader arn:aws:iam::111122223333:role/investigations/LogInvestigator > "$work/open.json"
sed -n '3,45p' "$work/open.json"
run "$bg" policy classify --config "$config" --bucket "$bucket" --at "$now" "$work/open.json"

step "3. What GetBucketPolicy returns for our ClosedAccess: minified, arrays reordered and collapsed"
head -c 300 examples/policies/closed-as-returned-by-aws.json; echo " …"
run "$bg" policy classify --config "$config" --bucket "$bucket" examples/policies/closed-as-returned-by-aws.json

step "4. A tampered policy that still calls itself ClosedAccess"
set +e
"$bg" policy classify --config "$config" --bucket "$bucket" examples/policies/tampered-closed.json
echo "(exit code $?: drift)"
set -e
run "$bg" policy diff --config "$config" --bucket "$bucket" examples/policies/tampered-closed.json

step "5. The evaluator: can mallory read a log object?"
obj=arn:aws:s3:::acme-cloudtrail-logs/AWSLogs/111122223333/CloudTrail/eu-central-1/2026/11/24/trail.json.gz
echo "Under the tampered policy:"
run "$bg" policy explain --principal arn:aws:iam::111122223333:role/mallory --action s3:GetObject \
  --resource "$obj" --at "$now" --context aws:SecureTransport=true examples/policies/tampered-closed.json
echo "Under ClosedAccess:"
run "$bg" policy explain --principal arn:aws:iam::111122223333:role/mallory --action s3:GetObject \
  --resource "$obj" --at "$now" --context aws:SecureTransport=true "$work/closed.json"
echo "The investigator under the OpenAccess, before and after its expiry:"
for at in 2026-11-24T15:59:59Z 2026-11-24T16:00:00Z; do
  run "$bg" policy explain --principal arn:aws:iam::111122223333:role/investigations/LogInvestigator \
    --action s3:GetObject --resource "$obj" --at "$at" --context aws:SecureTransport=true "$work/open.json" | head -n 1
done

step "Done: the templates, the canonical hash and the classifier agree; the tampered copy is drift."
