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

# `make run`: a SQLite file in the user's data directory, unless already set
# (a sqlite path/URL or a postgres:// URL).
DEVAUTH_DATABASE_URL ?= $(or $(XDG_DATA_HOME),$(HOME)/.local/share)/devauth/devauth.db

.PHONY: help deps run test fmt lint clean

help:
	@echo 'make run     build and start devauth-server (SQLite: $$DEVAUTH_DATABASE_URL)'
	@echo 'make test    fmt check, clippy -D warnings, all tests (SQLite, a throwaway PostgreSQL, headless Chromium)'
	@echo 'make fmt     format the code'
	@echo 'make lint    clippy -D warnings'
	@echo 'make deps    install missing system packages and Rust tools'
	@echo 'make clean   cargo clean'

deps:
	@.ci/install-deps.sh server

# Exported for `run` only: tests must never see the developer's database.
run: export DEVAUTH_DATABASE_URL := $(DEVAUTH_DATABASE_URL)
run: deps
	cargo build -p devauth-server
	@echo "database: $$DEVAUTH_DATABASE_URL"
	exec "$(TARGET_DIR)/debug/devauth-server" serve

# Browser page tests need Chromium; under `make test` a missing browser is a
# failure, not a skip (see tests/src/browser.rs).
test: export DEVAUTH_REQUIRE_BROWSER := 1
test: deps
	@.ci/install-deps.sh browser
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	# The black-box suites run the real binaries: build them first.
	cargo build --workspace --bins
	if command -v cargo-nextest >/dev/null 2>&1; then \
	  .ci/with-postgres.sh cargo nextest run --workspace --no-fail-fast; \
	  cargo test --workspace --doc; \
	else \
	  echo 'cargo-nextest not found: running the tests with cargo test' >&2; \
	  .ci/with-postgres.sh cargo test --workspace --no-fail-fast; \
	fi

fmt: deps
	cargo fmt --all

lint: deps
	cargo clippy --workspace --all-targets -- -D warnings

clean:
	cargo clean
