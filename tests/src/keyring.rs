//! The real OS keychain in tests: a Secret Service (gnome-keyring) in a
//! private D-Bus session, set up by `.ci/with-keyring.sh`, which exports
//! `DEVAUTH_KEYRING_SESSION=1`. Entries are read back with `secret-tool`,
//! independently of the code under test.

use std::process::Command;

/// The keychain service every devauth entry is stored under.
pub const SERVICE: &str = "devauth";

/// A D-Bus address nothing listens on: a process given it has no keychain.
pub const NO_BUS: &str = "unix:path=/nonexistent/devauth-test/bus";

/// Whether tests that need a real keychain can run. Outside a keyring session
/// they are skipped in a developer's `cargo test`, and fail when
/// `DEVAUTH_REQUIRE_KEYRING=1` (make test, CI).
pub fn keyring_available() -> bool {
    if std::env::var("DEVAUTH_KEYRING_SESSION").as_deref() == Ok("1") {
        return true;
    }
    assert!(
        std::env::var("DEVAUTH_REQUIRE_KEYRING").as_deref() != Ok("1"),
        "DEVAUTH_REQUIRE_KEYRING=1 but this is not a keyring session: run the tests under .ci/with-keyring.sh"
    );
    eprintln!("skipped: no keyring session (run under .ci/with-keyring.sh, or run `make test`)");
    false
}

/// The secret stored for `account` under service `devauth`, read with
/// `secret-tool lookup`; `None` when there is no such entry.
pub fn lookup(account: &str) -> Option<String> {
    let out = Command::new("secret-tool")
        .args(["lookup", "service", SERVICE, "username", account])
        .output()
        .unwrap_or_else(|e| {
            panic!("cannot run secret-tool (apt-get install libsecret-tools): {e}")
        });
    let secret = String::from_utf8_lossy(&out.stdout).into_owned();
    (out.status.success() && !secret.is_empty()).then_some(secret)
}
