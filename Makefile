# breakglass — one entry point for humans and CI.
#   make demo    the policy tools on the example configuration
#   make test    formatting, lints, all tests (what CI runs)
#   make bench   criterion benchmarks of the hot path, then the Lambdas (cold start, latency, RSS, zip)
#   make package Lambda zips with cargo-lambda (release builds: several minutes on 2 cores)
#   make fuzz    cargo-fuzz round trip (FUZZ_SECONDS, default 600; needs the nightly toolchain)

SHELL := bash
.SHELLFLAGS := -eo pipefail -c
CARGO ?= cargo
FUZZ_SECONDS ?= 600
CORPUS ?= ../shared/corpus

.PHONY: all demo test fmt-check lint validate unit venv bench package publish-products fuzz clean

all: test

demo: venv
	$(CARGO) build --quiet -p breakglass -p enforcer -p notifier -p catalog
	$(CARGO) build --quiet -p e2e --bin demo
	./scripts/demo.sh
	@echo
	@echo "== Part two: the Lambdas on a local AWS (moto), as stakeholders and the security team see it"
	$(CARGO) run --quiet -p e2e --bin demo

test: fmt-check lint validate unit

fmt-check:
	@$(CARGO) fmt --all -- --check || { echo "make test: formatting differs; run 'cargo fmt --all' and commit"; exit 1; }

lint:
	@$(CARGO) clippy --workspace --all-targets --quiet -- -D warnings || { echo "make test: clippy found problems (see above); fix them, no #[allow] without a reason"; exit 1; }

# sam validate --lint, cfn-lint, checkov on template.yaml and the product templates; the SCP's shape.
validate:
	@./scripts/venv.sh lint
	@./scripts/validate.sh

# moto (the local AWS of the end-to-end tests) lives in .venv; the tests run the real Lambda binaries.
venv:
	@./scripts/venv.sh

unit: venv
	$(CARGO) build --quiet -p enforcer -p notifier -p catalog -p breakglass
	@if [ -d "$(CORPUS)" ]; then echo "corpus: $(CORPUS)"; else echo "corpus: not found at $(CORPUS) (corpus tests will skip, or fail under CI=true)"; fi
	BREAKGLASS_CORPUS=$(abspath $(CORPUS)) $(CARGO) test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "make test: %d passed, %d failed\n", p, f }' target/test.log

bench: package
	$(CARGO) bench -p canonical-policies --bench pipeline
	$(CARGO) build --release --quiet -p enforcer -p notifier -p catalog
	$(CARGO) build --release --quiet -p e2e --bin lambda_bench
	./target/release/lambda_bench

# No aarch64 standard library can be installed on this machine (no network beyond package
# registries), so the zips are x86_64; on a machine with `rustup target add aarch64-unknown-linux-gnu`
# use --arm64 to match template.yaml.
package:
	@./scripts/venv.sh lambda
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --x86-64 --output-format zip -p enforcer -p notifier -p catalog

fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/round_trip
	@# Seeds from the shared corpus are copied into fuzz/corpus (git-ignored), never into the repo.
	@if [ -d "$(CORPUS)/policies" ]; then cp "$(CORPUS)"/policies/*.json fuzz/corpus/round_trip/; fi
	cd fuzz && $(CARGO) +nightly fuzz run round_trip corpus/round_trip -- -max_total_time=$(FUZZ_SECONDS) -max_len=24576

clean:
	$(CARGO) clean
