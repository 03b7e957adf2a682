# devauth: `make run` starts a local server, `make test` runs every check.
# Both first install what is missing (.ci/install-deps.sh; quick when nothing is).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help
MAKEFLAGS += --no-print-directory

# Where rustup installs cargo (a fresh install is not on PATH yet); appended,
# so whatever is already on PATH wins.
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
ifeq ($(filter $(CARGO_BIN),$(subst :, ,$(PATH))),)
export PATH := $(PATH):$(CARGO_BIN)
endif

# Cargo reads CARGO_TARGET_DIR itself; this is only for paths to built binaries.
TARGET_DIR := $(or $(CARGO_TARGET_DIR),target)

# What `make package` builds: the AppImage bundler downloads AppRun from
# GitHub, so it is opt-in.
BUNDLES ?= deb

# `make server`: a SQLite file in the user's data directory, unless already
# set (a sqlite path/URL or a postgres:// URL).
DEVAUTH_DATABASE_URL ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/devauth/devauth.db

.PHONY: help deps run server test bench soak fuzz package fmt lint clean

help:
	@echo 'make run     build and start the desktop app (it runs its own server on SQLite)'
	@echo 'make server  build and start devauth-server alone (SQLite: $$DEVAUTH_DATABASE_URL)'
	@echo 'make test    fmt check, clippy -D warnings, every test (SQLite and PostgreSQL, Chromium, desktop E2E)'
	@echo 'make bench   the benchmark table (release build; results in tests/bench/results.md)'
	@echo 'make soak    ten minutes of mixed traffic: p99 and RSS at the start and the end'
	@echo 'make fuzz    a longer HTTP fuzzing campaign from /openapi.json (schemathesis), then the parsers with cargo-fuzz'
	@echo 'make package the desktop app as a .deb (BUNDLES="deb appimage" where github.com is reachable)'
	@echo 'make fmt     format the code'
	@echo 'make lint    clippy -D warnings'
	@echo 'make deps    install missing system packages and Rust tools'
	@echo 'make clean   cargo clean'

deps:
	@.ci/install-deps.sh server

# The desktop app; with no server configured it starts its bundled server
# (SQLite in the app's data directory) and stops it on quit.
run: deps
	@.ci/install-deps.sh desktop
	cargo build -p devauth-desktop
	exec "$(TARGET_DIR)/debug/devauth-desktop"

# Exported for `server` only: tests must never see the developer's database.
server: export DEVAUTH_DATABASE_URL := $(DEVAUTH_DATABASE_URL)
server: deps
	cargo build -p devauth-server
	@echo "database: $$DEVAUTH_DATABASE_URL"
	exec "$(TARGET_DIR)/debug/devauth-server" serve

# .ci/bench.sh installs what it needs itself (wrk, node and npm, PostgreSQL).
# Ten minutes of mixed traffic against the server binary: p99 and RSS at the
# start and the end (SOAK_SECS to change the length).
soak: deps
	.ci/bench.sh --only 7 --soak-secs $${SOAK_SECS:-600}

# A longer HTTP fuzzing campaign from /openapi.json (schemathesis, 200
# examples per operation, a fresh seed; `make test` runs a short one), then
# the cargo-fuzz targets of tests/fuzz, DEVAUTH_FUZZ_SECS (60) each.
fuzz: deps
	@.ci/install-deps.sh python
	cargo build -p devauth-server
	DEVAUTH_REQUIRE_TOOLS=1 DEVAUTH_FUZZ_EXAMPLES=$${DEVAUTH_FUZZ_EXAMPLES:-200} DEVAUTH_FUZZ_SEED=$${DEVAUTH_FUZZ_SEED:-random} \
	  cargo nextest run -p devauth-harness --no-capture -E 'test(a_fuzzing_campaign)'
	.ci/fuzz-parsers.sh

bench:
	.ci/bench.sh

package: deps
	@.ci/install-deps.sh desktop
	@command -v cargo-tauri >/dev/null 2>&1 || { echo 'installing tauri-cli 2 (cargo install, several minutes)'; cargo install tauri-cli --version '^2' --locked --quiet; }
	cd src-tauri && cargo tauri build --bundles $(BUNDLES)
	@ls -l "$(TARGET_DIR)"/release/bundle/*/*.deb "$(TARGET_DIR)"/release/bundle/*/*.AppImage 2>/dev/null || true

# Browser page tests need Chromium; under `make test` a missing browser is a
# failure, not a skip (see tests/src/browser.rs).
test: export DEVAUTH_REQUIRE_BROWSER := 1
test: export DEVAUTH_REQUIRE_KEYRING := 1
test: export DEVAUTH_REQUIRE_DESKTOP := 1
test: export DEVAUTH_REQUIRE_TOOLS := 1
test: deps
	@.ci/install-deps.sh browser keyring desktop python
	@command -v tauri-driver >/dev/null 2>&1 || [ -x "$${CARGO_HOME:-$$HOME/.cargo}/bin/tauri-driver" ] \
	  || { echo 'installing tauri-driver (cargo install, about a minute)'; cargo install tauri-driver --locked --quiet; }
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The black-box suites run the real binaries: build them first.
	cargo build --workspace --bins
	# Every suite: PostgreSQL cluster, then a desktop session (Xvfb, D-Bus,
	# unlocked gnome-keyring) with a keyring check inside.
	if command -v cargo-nextest >/dev/null 2>&1; then \
	  .ci/with-postgres.sh .ci/with-desktop-session.sh .ci/with-keyring.sh \
	    cargo nextest run --workspace --no-fail-fast; \
	else \
	  echo 'cargo-nextest not found: running the tests with cargo test' >&2; \
	  .ci/with-postgres.sh .ci/with-desktop-session.sh .ci/with-keyring.sh \
	    cargo test --workspace --no-fail-fast; \
	fi

fmt: deps
	cargo fmt --all

lint: deps
	@.ci/install-deps.sh desktop
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	cargo clean
