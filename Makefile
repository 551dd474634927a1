# breakglass — one entry point for humans and CI.
#   make demo    the policy tools on the example configuration, the Lambdas on moto, organisation mode
#   make test    formatting, lints, template validators, all tests (what CI runs)
#   make bench   criterion benchmarks of the hot path, then the Lambdas (cold start, latency, RSS, zip),
#                then the organisation's sweep at 200 and 2,000 buckets (sweep_bench), then a flood of
#                1,000 refused calls with a remediation in the middle (flood_bench), 1,000 events under
#                faults (load_bench), the CLI over 20 accounts at 25 ms a request (cli_bench), and Cloud
#                Custodian beside the sweep on the same moto (peer_bench)
#   make package sam build with cargo-lambda (release builds: several minutes on 2 cores)
#   make fuzz    cargo-fuzz: FUZZ_TARGET=round_trip|evaluate|gate_request, FUZZ_SECONDS (default 600); needs nightly

SHELL := bash
.SHELLFLAGS := -eo pipefail -c
CARGO ?= cargo
FUZZ_SECONDS ?= 600
# round_trip (parser and canonical form), evaluate (policy + request → decision) or gate_request
# (the gate's function-URL event and body)
FUZZ_TARGET ?= round_trip
CORPUS ?= ../shared/corpus

.PHONY: all demo test fmt-check lint validate unit venv bench zips package publish-products fuzz clean

all: test

demo: venv
	@# `make test`'s build: one resolution of features for everything. Building the functions and
	@# the demo apart resolved two others and compiled the AWS SDK twice more (2026-12-07).
	$(CARGO) build --quiet --workspace --bins --tests
	./scripts/demo.sh
	@echo
	@echo "== Part two: the Lambdas on a local AWS (moto), as stakeholders and the security team see it"
	./target/debug/demo

# The Python tools install while clippy compiles (they wait on the network, clippy on the CPU);
# validate and unit then find them in place.
test:
	@mkdir -p target; { ./scripts/venv.sh lint && ./scripts/venv.sh; } > target/venv.log 2>&1 & tools=$$!; \
	checks=0; $(MAKE) --no-print-directory fmt-check lint || checks=$$?; \
	wait $$tools || { cat target/venv.log; echo "make test: installing the Python tools failed (above)"; exit 1; }; \
	cat target/venv.log; [ $$checks -eq 0 ] || exit $$checks; \
	$(MAKE) --no-print-directory validate unit

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
	@# The binaries and the tests at once, with the features the tests resolve: the Lambda binaries
	@# the e2e tests run, and the test build after it compiles nothing twice (a build of the binaries
	@# alone resolved other features and compiled some 40 crates again for the tests). Not the
	@# benchmarks: `make bench` builds them, clippy checks them.
	$(CARGO) build --quiet --workspace --bins --tests
	@if [ -d "$(CORPUS)" ]; then echo "corpus: $(CORPUS)"; else echo "corpus: not found at $(CORPUS) (corpus tests will skip, or fail under CI=true)"; fi
	@rm -rf target/iam-used
	@# The end-to-end tests mostly wait (on moto, the SDK's backoff, the functions' own timers): four
	@# at once on two cores ran the e2e binary in 371 s against 508-567 s for two (2026-12-06).
	BREAKGLASS_CORPUS=$(abspath $(CORPUS)) RUST_TEST_THREADS=$${RUST_TEST_THREADS:-4} $(CARGO) test --workspace 2>&1 | tee target/test.log
	@awk '/^test result:/ { p += $$4; f += $$6 } END { printf "make test: %d passed, %d failed\n", p, f }' target/test.log
	@# Least privilege, measured: each grant of template.yaml against what the e2e tests used under IAM.
	@# Built above with the tests (`cargo run -p e2e` would resolve features anew and compile again).
	./target/debug/grants

bench: zips
	$(CARGO) bench -p canonical-policies --bench pipeline
	$(CARGO) build --release --quiet -p enforcer -p notifier -p catalog -p recorder -p gate -p breakglass
	$(CARGO) build --release --quiet -p e2e --bin lambda_bench --bin sweep_bench --bin flood_bench --bin load_bench --bin cli_bench --bin peer_bench
	./target/release/lambda_bench
	./target/release/sweep_bench
	./target/release/flood_bench
	./target/release/load_bench
	./scripts/venv.sh peer
	./target/release/cli_bench
	./target/release/peer_bench

# The Lambda zips whose sizes `make bench` reports (x86_64, as template.yaml deploys them).
zips:
	@./scripts/venv.sh lambda
	PATH="$(CURDIR)/.venv/bin:$$PATH" cargo lambda build --release --x86-64 --output-format zip -p enforcer -p notifier -p catalog -p recorder -p gate

# sam build with cargo-lambda (scripts/package.sh): x86_64, as template.yaml deploys and as built and
# tested here; ARCH=arm64 builds a Graviton variant of the template where the aarch64 target is installed.
package:
	@./scripts/package.sh

# Uploads the Service Catalog product templates; then pass the URL as ProductTemplateBaseUrl.
# Needs AWS credentials: make publish-products BUCKET=my-artifacts-bucket
# Organisation mode: PRODUCTS=dir written by `breakglass org render-products` (a list of buckets).
PRODUCTS ?= catalog/products
publish-products:
	aws s3 cp $(PRODUCTS)/ s3://$(BUCKET)/breakglass/products/ --recursive --exclude '*' --include '*.yaml'
	@echo "ProductTemplateBaseUrl=https://$(BUCKET).s3.amazonaws.com/breakglass/products/"

fuzz:
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/$(FUZZ_TARGET)
	@# Seeds from the shared corpus are copied into fuzz/corpus (git-ignored), never into the repo.
	@if [ "$(FUZZ_TARGET)" = gate_request ]; then cp fuzz/seeds/gate_request/* fuzz/corpus/$(FUZZ_TARGET)/; \
	elif [ -d "$(CORPUS)/policies" ]; then cp "$(CORPUS)"/policies/*.json fuzz/corpus/$(FUZZ_TARGET)/; fi
	cd fuzz && $(CARGO) +nightly fuzz run $(FUZZ_TARGET) corpus/$(FUZZ_TARGET) -- -max_total_time=$(FUZZ_SECONDS) -max_len=24576

clean:
	$(CARGO) clean
