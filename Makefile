# Everything a developer or CI runs. `make test` is exactly what CI checks.

CARGO        ?= cargo
MUSL_TARGET  := x86_64-unknown-linux-musl
# Seconds of fuzzing per target for `make fuzz`.
FUZZ_SECONDS ?= 20
# Extra flags for `make run` (the dashboard on this machine's logs by default),
# e.g. `make run RUN_ARGS=--demo`.
RUN_ARGS     ?=
# Extra flags for `make bench-dashboard`, e.g. BENCH_ARGS="--rates 100,1000 --secs 10".
BENCH_ARGS   ?=

FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))

.PHONY: run test bench bench-compare bench-dashboard fuzz static

run:
	$(CARGO) build --release
	./target/release/nethergaze $(RUN_ARGS)

test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	$(CARGO) test
	cd fuzz && $(CARGO) check

bench:
	$(CARGO) bench

# Side-by-side figures against GoAccess (when installed): batch over a generated
# 1 M-line log, then live CPU and peak RSS at 0, 1 000 and 5 000 lines/s.
bench-compare:
	$(CARGO) build --release
	python3 benches/compare.py ./target/release/nethergaze

# The dashboard in a 200x50 pty following a growing log: bytes written to the
# terminal per second at 1 000 lines/s, CPU at 5 000 lines/s (about 80 s).
bench-dashboard:
	$(CARGO) build --release
	python3 benches/dashboard.py ./target/release/nethergaze $(BENCH_ARGS)

# cargo-fuzz needs nightly (sanitizer flags); both are installed on first use.
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		cargo +nightly fuzz run $$t -- -max_total_time=$(FUZZ_SECONDS); \
	done

# A fully static binary (musl; rusqlite's bundled SQLite is built with musl-gcc).
static:
	rustup target add $(MUSL_TARGET)
	$(CARGO) build --release --target $(MUSL_TARGET)
	@echo "built target/$(MUSL_TARGET)/release/nethergaze"
