//! The scenario suite against a live server, over its public HTTP surface
//! only: what `devauth-harness --server URL` runs, and what a test can call.
//!
//! [`run`] claims setup (or takes an admin token), then runs every scenario in
//! [`SCENARIOS`] in order and returns a [`Report`] whose [`Report::table`] is the
//! pass/fail table. A scenario that cannot be checked from outside (nothing
//! over HTTP moves a server's clock; the API adds only existing users) is
//! reported as skipped with the reason, never as passed.
//!
//! Every token the suite obtains is revoked before [`run`] returns. The
//! wrong-code scenario runs last: it leaves the caller's IP rate limited for
//! up to a minute.

mod access;
mod escalation;
mod flow;

use crate::remote::{Answer, Remote};
use std::fmt;
use std::time::{Duration, Instant};

/// The scenarios, in the order they run.
pub const SCENARIOS: &[&str] = &[
    "setup",
    "discovery",
    "device-flow",
    "long-poll",
    "slow-down",
    "deny",
    "expiry",
    "double-redemption",
    "revoke",
    "cascade",
    "escalation",
    "rate-limit",
];

/// How the suite gets an owner or admin of an org.
#[derive(Clone)]
pub enum Credential {
    /// Claim first-run setup (the server must be unclaimed), creating `owner`.
    SetupToken(String),
    /// A token of an existing owner or admin (a user's token, not a service token).
    AdminToken(String),
}

impl fmt::Debug for Credential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credential::SetupToken(_) => f.write_str("SetupToken(redacted)"),
            Credential::AdminToken(_) => f.write_str("AdminToken(redacted)"),
        }
    }
}

/// The account setup creates when the suite claims it.
#[derive(Clone)]
pub struct Owner {
    pub email: String,
    pub name: String,
    pub password: String,
    pub org_name: String,
}

impl fmt::Debug for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Owner")
            .field("email", &self.email)
            .field("org_name", &self.org_name)
            .finish_non_exhaustive()
    }
}

/// A second, existing user the cascade scenario may add to and remove from
/// the org, and sign in as on the pages.
#[derive(Clone)]
pub struct Member {
    pub email: String,
    pub password: String,
}

impl fmt::Debug for Member {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("email", &self.email)
            .finish_non_exhaustive()
    }
}

/// What to run against.
#[derive(Debug, Clone)]
pub struct Target {
    pub server: String,
    pub credential: Credential,
    pub owner: Owner,
    pub member: Option<Member>,
    /// The public client the suite starts device authorizations as.
    pub client_id: String,
    /// Wait out a real device code (its `expires_in`, 10 minutes on
    /// devauth-server) to check expiry; otherwise expiry is skipped.
    pub wait_for_expiry: bool,
}

impl Target {
    pub fn new(server: &str, credential: Credential) -> Target {
        Target {
            server: server.to_string(),
            credential,
            owner: Owner {
                email: "harness-owner@example.com".to_string(),
                name: "Harness Owner".to_string(),
                password: String::new(),
                org_name: "Harness".to_string(),
            },
            member: None,
            client_id: "devauth-cli".to_string(),
            wait_for_expiry: false,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Pass,
    Fail,
    Skip,
}

impl Outcome {
    pub fn label(&self) -> &'static str {
        match self {
            Outcome::Pass => "pass",
            Outcome::Fail => "FAIL",
            Outcome::Skip => "skip",
        }
    }
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct ScenarioResult {
    pub name: &'static str,
    pub outcome: Outcome,
    /// What was checked (pass), what went wrong (fail), or why not (skip).
    pub detail: String,
    pub elapsed: Duration,
}

#[derive(Debug, Clone)]
pub struct Report {
    pub server: String,
    pub results: Vec<ScenarioResult>,
    /// Problems cleaning up (tokens that could not be revoked); not failures
    /// of a scenario, but worth saying.
    pub notes: Vec<String>,
}

impl Report {
    pub fn passed(&self) -> bool {
        !self.results.iter().any(|r| r.outcome == Outcome::Fail)
    }

    pub fn count(&self, outcome: Outcome) -> usize {
        self.results.iter().filter(|r| r.outcome == outcome).count()
    }

    pub fn result(&self, name: &str) -> Option<&ScenarioResult> {
        self.results.iter().find(|r| r.name == name)
    }

    /// The pass/fail table, one scenario a line, then a summary line.
    pub fn table(&self) -> String {
        let width = self
            .results
            .iter()
            .map(|r| r.name.len())
            .max()
            .unwrap_or(8)
            .max("SCENARIO".len());
        let mut out = format!("{:<width$}  RESULT  TIME     DETAIL\n", "SCENARIO");
        for r in &self.results {
            out.push_str(&format!(
                "{:<width$}  {:<6}  {:>6.1}s  {}\n",
                r.name,
                r.outcome.label(),
                r.elapsed.as_secs_f64(),
                r.detail
            ));
        }
        out.push_str(&format!(
            "{} passed, {} failed, {} skipped against {}\n",
            self.count(Outcome::Pass),
            self.count(Outcome::Fail),
            self.count(Outcome::Skip),
            self.server
        ));
        for note in &self.notes {
            out.push_str(&format!("note: {note}\n"));
        }
        out
    }
}

/// Why a scenario stopped early.
#[derive(Debug)]
pub enum Stop {
    Fail(String),
    Skip(String),
}

impl From<String> for Stop {
    fn from(message: String) -> Stop {
        Stop::Fail(message)
    }
}

pub type Step<T> = Result<T, Stop>;

/// Fails with `message` unless `ok`.
pub(crate) fn check(ok: bool, message: impl FnOnce() -> String) -> Step<()> {
    if ok {
        Ok(())
    } else {
        Err(Stop::Fail(message()))
    }
}

/// Fails unless the answer has this status and (when not empty) error code.
pub(crate) fn expect(answer: &Answer, status: u16, error: &str, what: &str) -> Step<()> {
    check(
        answer.status == status && (error.is_empty() || answer.error() == error),
        || {
            let wanted = if error.is_empty() {
                status.to_string()
            } else {
                format!("{status} {error}")
            };
            format!("{what}: expected {wanted}, got {}", describe(answer))
        },
    )
}

/// Status, error code and description of an answer, for failure messages.
pub(crate) fn describe(answer: &Answer) -> String {
    let description = answer.body["error_description"].as_str().unwrap_or("");
    match (answer.error(), description) {
        ("", _) => answer.status.to_string(),
        (code, "") => format!("{} {code}", answer.status),
        (code, d) => format!("{} {code} ({d})", answer.status),
    }
}

/// The owner or admin the suite acts as.
#[derive(Debug, Clone)]
pub(crate) struct Admin {
    pub token: String,
    pub email: String,
    pub org: String,
}

/// State shared by the scenarios of one run.
pub(crate) struct Ctx<'t> {
    pub target: &'t Target,
    pub remote: Remote,
    pub admin: Option<Admin>,
    /// Distinguishes this run's device names from other runs'.
    pub run_id: String,
    /// Tokens to revoke when the run ends.
    pub issued: Vec<String>,
}

impl Ctx<'_> {
    pub fn admin(&self) -> Step<Admin> {
        self.admin.clone().ok_or_else(|| {
            Stop::Skip("no owner or admin token (the setup scenario failed)".to_string())
        })
    }

    pub fn device_name(&self, what: &str) -> String {
        format!("devauth-harness {} {what}", self.run_id)
    }
}

/// Runs every scenario against `target`. `progress` hears each result as it
/// comes (the binary prints them as they come).
pub async fn run(target: &Target, progress: impl Fn(&ScenarioResult)) -> Report {
    let mut results = Vec::new();
    let mut notes = Vec::new();
    let remote = match Remote::new(&target.server) {
        Ok(remote) => remote,
        Err(e) => {
            return Report {
                server: target.server.clone(),
                results: vec![ScenarioResult {
                    name: "setup",
                    outcome: Outcome::Fail,
                    detail: e,
                    elapsed: Duration::ZERO,
                }],
                notes,
            };
        }
    };
    let mut ctx = Ctx {
        target,
        remote,
        admin: None,
        run_id: uuid::Uuid::new_v4().simple().to_string()[..8].to_string(),
        issued: Vec::new(),
    };
    for name in SCENARIOS {
        let started = Instant::now();
        let step = run_one(name, &mut ctx).await;
        let (outcome, detail) = match step {
            Ok(detail) => (Outcome::Pass, detail),
            Err(Stop::Fail(detail)) => (Outcome::Fail, detail),
            Err(Stop::Skip(detail)) => (Outcome::Skip, detail),
        };
        let result = ScenarioResult {
            name,
            outcome,
            detail: one_line(&detail),
            elapsed: started.elapsed(),
        };
        progress(&result);
        results.push(result);
    }
    for token in std::mem::take(&mut ctx.issued) {
        match ctx.remote.revoke(&token).await {
            Ok(answer) if answer.status == 200 => {}
            Ok(answer) => notes.push(format!(
                "could not revoke a token the suite obtained: {}",
                describe(&answer)
            )),
            Err(e) => notes.push(format!("could not revoke a token the suite obtained: {e}")),
        }
    }
    Report {
        server: target.server.clone(),
        results,
        notes,
    }
}

async fn run_one(name: &str, ctx: &mut Ctx<'_>) -> Step<String> {
    match name {
        "setup" => access::setup(ctx).await,
        "discovery" => flow::discovery(ctx).await,
        "device-flow" => flow::device_flow(ctx).await,
        "long-poll" => flow::long_poll(ctx).await,
        "slow-down" => flow::slow_down(ctx).await,
        "deny" => flow::deny(ctx).await,
        "expiry" => flow::expiry(ctx).await,
        "double-redemption" => flow::double_redemption(ctx).await,
        "revoke" => access::revoke(ctx).await,
        "cascade" => access::cascade(ctx).await,
        "escalation" => escalation::escalation(ctx).await,
        "rate-limit" => access::rate_limit(ctx).await,
        other => Err(Stop::Fail(format!("no scenario named {other}"))),
    }
}

fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
