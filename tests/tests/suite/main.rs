//! Every end-to-end suite, in one test binary (one link of the whole tree
//! instead of one per suite). Test names keep their suite as a prefix, so
//! `cargo nextest run -E 'test(/^server::/)'` still picks one suite.
//!
//! - [`server`]: the server over real HTTP on both backends, with the
//!   permission matrix, the no-amplification property and the wire shapes.
//! - [`pages`]: the pages' security over plain HTTP (CSRF, headers, sessions).
//! - [`realtime`]: long polls, event streams, replicas on one PostgreSQL.
//! - [`binary`]: the real `devauth-server` binary and its admin CLI.
//! - [`harness`]: the scenario suite, in-process and as a black box.
//! - [`browser`]: the pages in real headless Chromium.
//! - [`cli`]: the real `devauth` CLI on a real keychain.
//! - [`desktop`]: the desktop app under Xvfb.

// The suites are tests through and through: a failed step fails its test
// with `.expect("what failed")` (clippy.toml allows it in `#[test]`
// functions; this covers the helpers they call).
#![allow(clippy::expect_used)]

mod binary;
mod browser;
mod cli;
mod console;
mod desktop;
mod harness;
mod mail;
mod pages;
mod passkeys;
mod realtime;
mod server;
mod sso;
mod team;
