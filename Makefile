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
# Extra flags for `make bench-compare`, e.g. COMPARE_ARGS="--runs 5 --live-secs 30".
COMPARE_ARGS ?=
# Extra flags for `make bench` (cargo bench), e.g. BENCH_FLAGS="-- --test" (each once).
BENCH_FLAGS  ?=
# Extra flags for `make bench-rotation`, e.g. ROTATION_ARGS="--secs 3 --rotations 10".
ROTATION_ARGS ?=
# Extra flags for `make bench-memcap`, e.g. MEMCAP_ARGS="--clients 6000 --cap 5000 --live-secs 5".
MEMCAP_ARGS  ?=
# Extra flags for `make bench-synflood`, e.g. SYNFLOOD_ARGS="--sizes 1000 --runs 1" (CI).
SYNFLOOD_ARGS ?=
# Extra flags for `make bench-curves`, e.g. CURVES_ARGS="--lines 200000 --sockets none".
CURVES_ARGS  ?=

MUSL_BIN     := target/$(MUSL_TARGET)/release/nethergaze
# With cargo-auditable installed (`cargo install --locked cargo-auditable`; .ci/run
# does), the static binary carries its dependency list in a `.dep-v0` section, for
# `cargo audit bin` and other scanners (issue 15 item 4). Without it, a plain build.
STATIC_BUILD := $(if $(shell command -v cargo-auditable),auditable rustc,rustc)
# Flags for the final link only (`cargo rustc -- …`; with LTO that step emits all
# the code). Relative relocations packed (DT_RELR, which musl's static-pie start-up
# applies): the static-pie binary's .rela.dyn of ~250 KB becomes ~3 KB, keeping
# ASLR without costing the 5 MiB budget.
STATIC_LINK_FLAGS := -C link-arg=-Wl,-z,pack-relative-relocs
# The bundled SQLite's compile options, the same in every build: .cargo/config.toml.
FUZZ_TARGETS := $(basename $(notdir $(wildcard fuzz/fuzz_targets/*.rs)))

# The Rust version Cargo.toml declares (`rust-version`), checked by `make msrv`.
MSRV         := $(shell sed -n 's/^rust-version = "\(.*\)"/\1/p' Cargo.toml)
# The package version (Cargo.toml), which names the release tarball.
VERSION      := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
# Where `make dist` and `make deb` put the tarball, its .sha256 and the .deb.
DIST_DIR     := target/dist

.PHONY: run test bench bench-compare bench-dashboard bench-memcap bench-rotation bench-synflood bench-curves fuzz static test-static msrv release-assets dist deb

run:
	$(CARGO) build --release
	./target/release/nethergaze $(RUN_ARGS)

test:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --all-targets -- -D warnings
	@sh tests/preflight.sh
	$(CARGO) test
	cd fuzz && $(CARGO) check

bench:
	$(CARGO) bench $(BENCH_FLAGS)

# The declared rust-version builds the committed Cargo.lock: every target type
# checked with that toolchain (installed on first use, minimal profile).
msrv:
	rustup toolchain list | grep -q '^$(MSRV)-' || rustup toolchain install $(MSRV) --profile minimal
	cargo +$(MSRV) check --locked --all-targets

# Side-by-side figures against GoAccess (when installed): batch over a generated
# 1 M-line log, then live CPU and peak RSS at 0, 1 000 and 5 000 lines/s.
bench-compare:
	$(CARGO) build --release
	python3 benches/compare.py ./target/release/nethergaze $(COMPARE_ARGS)

# The dashboard in a 200x50 pty following a growing log: bytes written to the
# terminal per second at 1 000 lines/s, CPU at 5 000 lines/s (about 80 s).
bench-dashboard:
	$(CARGO) build --release
	python3 benches/dashboard.py ./target/release/nethergaze $(BENCH_ARGS)

# A writer at 5 000 lines/s while its log rotates 1 and 10 times a second by
# copytruncate, rename and delete/re-create: lines written vs lines counted.
bench-rotation:
	$(CARGO) build --release
	python3 benches/rotation_soak.py ./target/release/nethergaze $(ROTATION_ARGS)

# Worst-case peak RSS at the max_tracked_ips cap (50 000 rows, 512-byte strings):
# --once without and with history, and a live run with history (about 3 minutes).
bench-memcap:
	$(CARGO) build --release
	python3 benches/memcap.py ./target/release/nethergaze $(MEMCAP_ARGS)

# Root only: 1 000, 10 000 and 60 000 TCP sockets (four fifths SYN_RECV from
# raw SYNs, the rest established) from up to 20 000 loopback addresses, each
# size in its own network namespace: `--once --json` over netlink and over
# /proc/net/tcp, time (minus an empty namespace's run), CPU and peak RSS; the
# steady tick (--for 5); the largest flood again at max_tracked_ips = 5000.
bench-synflood:
	$(CARGO) build --release
	python3 benches/synflood.py ./target/release/nethergaze $(SYNFLOOD_ARGS)

# The README's cost curves, as markdown: lines/s and peak RSS vs distinct
# clients (1 k to 1 M, past the max_tracked_ips cap), and (root) socket dump
# time vs sockets through benches/synflood.py. A few minutes.
bench-curves:
	$(CARGO) build --release
	python3 benches/curves.py ./target/release/nethergaze $(CURVES_ARGS)

# Seed inputs beside each target's own corpus (fuzz/corpus/<target>, not in git):
# the geoip target starts from MaxMind's test, corrupt and hostile databases.
FUZZ_SEEDS_geoip := $(CURDIR)/tests/data/maxmind

# cargo-fuzz needs nightly (sanitizer flags); both are installed on first use.
fuzz:
	rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	set -e; for t in $(FUZZ_TARGETS); do \
		echo "== fuzz $$t ($(FUZZ_SECONDS) s)"; \
		mkdir -p fuzz/corpus/$$t; \
		seeds=; [ $$t != geoip ] || seeds="$(FUZZ_SEEDS_geoip)"; \
		cargo +nightly fuzz run $$t $(CURDIR)/fuzz/corpus/$$t $$seeds -- -max_total_time=$(FUZZ_SECONDS); \
	done

# A fully static binary (musl; rusqlite's bundled SQLite is built with musl-gcc):
# target/x86_64-unknown-linux-musl/release/nethergaze, at most 5 MiB. Installs the
# musl target and musl-tools when missing (or says the command to run).
static:
	@rustup target list --installed 2>/dev/null | grep -qx '$(MUSL_TARGET)' || { \
		command -v rustup >/dev/null || { \
			echo "make static: the $(MUSL_TARGET) target needs rustup; run:" >&2; \
			echo "  curl -sSf https://sh.rustup.rs | sh -s -- -y && rustup target add $(MUSL_TARGET)" >&2; \
			exit 1; }; \
		echo "rustup target add $(MUSL_TARGET)"; rustup target add $(MUSL_TARGET); }
	@command -v musl-gcc >/dev/null || { \
		if [ "$$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then \
			echo "apt-get install musl-tools"; \
			apt-get install -y -qq --no-install-recommends musl-tools >/dev/null || \
			{ apt-get update -qq && apt-get install -y -qq --no-install-recommends musl-tools >/dev/null; }; \
		else \
			echo "make static: musl-gcc is missing; run: sudo apt-get install musl-tools" >&2; \
			exit 1; \
		fi; }
	$(CARGO) $(STATIC_BUILD) --release --target $(MUSL_TARGET) \
		--bin nethergaze -- $(STATIC_LINK_FLAGS)
	@echo "built $(MUSL_BIN): $$(stat -c %s $(MUSL_BIN)) bytes"

# `make static`, then what CI checks on it: the smoke test (statically linked,
# <= 5 MiB, `--once --json` right under `env -i` and, as root, in an empty
# chroot), then the headless integration tests run against the static binary.
test-static: static
	tests/static-smoke.sh $(MUSL_BIN)
	NETHERGAZE_TEST_BIN=$(abspath $(MUSL_BIN)) $(CARGO) test --test tests -- \
		it::fixtures it::hostile it::enrich it::whois it::demo it::ship it::import it::golden it::release

# The generated files of a release, from the static binary: man page,
# completions and the third-party licence bundle (target/dist/assets).
release-assets: static
	contrib/release/assets.sh $(MUSL_BIN) $(MUSL_TARGET) $(DIST_DIR)/assets

# target/dist/nethergaze-$(VERSION)-x86_64-linux-musl.tar.gz and its .sha256: the
# static binary, man page, completions, config.example.toml, contrib/ (systemd
# unit, fail2ban), LICENSE, README.md and THIRD-PARTY-LICENSES.
dist: release-assets
	contrib/release/dist.sh $(MUSL_BIN) $(VERSION) $(DIST_DIR)

# target/dist/nethergaze_$(VERSION)-1_amd64.deb from the same static binary
# (Cargo.toml's [package.metadata.deb] says what goes where). Needs cargo-deb
# (`cargo install --locked cargo-deb`).
deb: release-assets
	@command -v cargo-deb >/dev/null || { \
		echo "make deb: cargo-deb is missing; run: cargo install --locked cargo-deb" >&2; exit 1; }
	$(CARGO) deb --no-build --no-strip --target $(MUSL_TARGET) --output $(DIST_DIR)
