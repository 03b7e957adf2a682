//! Per-org device policy: whether devices may be approved into an org at
//! all, from which networks, for how long at most, and whether the policy
//! refuses or only reports what it would refuse. Owners set it through
//! [`crate::org_policy`]; the approval service asks it.

use crate::client_ip::Cidr;
use crate::events::Event;
use crate::model::{OrgId, SignInMethod, sign_in_words};
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;

/// Whether a policy refuses or only reports.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum PolicyMode {
    /// Approvals it refuses are refused (`device.policy_denied`).
    #[default]
    Enforce,
    /// Approvals it would refuse are allowed and audited
    /// (`device.policy_would_deny`), to measure before enforcing.
    Report,
}

impl PolicyMode {
    /// `enforce` or `report`.
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyMode::Enforce => "enforce",
            PolicyMode::Report => "report",
        }
    }

    /// Reads `enforce` or `report`.
    pub fn parse(text: &str) -> Result<PolicyMode, String> {
        match text {
            "enforce" => Ok(PolicyMode::Enforce),
            "report" => Ok(PolicyMode::Report),
            other => Err(format!("`mode` is `enforce` or `report`, not `{other}`")),
        }
    }
}

/// An org's device policy. The default (no row stored) allows every
/// approval, from anywhere, for the server's token lifetime.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePolicy {
    /// Whether devices may be approved into the org at all.
    pub device_flow: bool,
    /// The networks a device may ask from; empty: any.
    pub device_networks: Vec<Cidr>,
    /// The longest a device token issued for the org lasts, days.
    pub device_token_days: Option<i64>,
    /// Refuse, or only report.
    pub mode: PolicyMode,
    /// How an approver must have signed in to the pages; empty: any way
    /// (and approving with a token, from the CLI or the app, too).
    pub sign_in: Vec<SignInMethod>,
}

impl Default for DevicePolicy {
    fn default() -> Self {
        DevicePolicy {
            device_flow: true,
            device_networks: Vec::new(),
            device_token_days: None,
            mode: PolicyMode::Enforce,
            sign_in: Vec::new(),
        }
    }
}

/// The most networks a policy lists.
pub const MAX_NETWORKS: usize = 64;

impl DevicePolicy {
    /// Why this policy refuses a device that asked from `requester_ip`,
    /// approved by someone who signed in to the pages with `signed_in_with`
    /// (`None`: with a token), or `None` when it does not; naming the
    /// policy and `org`.
    pub fn refusal(
        &self,
        org: &str,
        requester_ip: Option<&str>,
        signed_in_with: Option<SignInMethod>,
    ) -> Option<String> {
        if !self.device_flow {
            return Some(format!(
                "the device policy of {org} does not allow signing in devices"
            ));
        }
        if !self.sign_in.is_empty() {
            let allowed = self.sign_in_text();
            match signed_in_with {
                Some(method) if self.sign_in.contains(&method) => {}
                Some(method) => {
                    return Some(format!(
                        "the device policy of {org} approves devices only for people signed in \
                         with {allowed}; you signed in with {}",
                        sign_in_words(method)
                    ));
                }
                None => {
                    return Some(format!(
                        "the device policy of {org} approves devices only in the browser, signed \
                         in with {allowed}"
                    ));
                }
            }
        }
        if self.device_networks.is_empty() {
            return None;
        }
        let ip = requester_ip.and_then(|ip| ip.parse::<IpAddr>().ok());
        let inside = ip.is_some_and(|ip| self.device_networks.iter().any(|n| n.contains(ip)));
        (!inside).then(|| {
            format!(
                "the device policy of {org} allows devices only from {}; this one asked from {}",
                self.networks_text(),
                requester_ip.unwrap_or("an unknown address")
            )
        })
    }

    /// The sign-in methods, in words ("single sign-on or a password").
    pub fn sign_in_text(&self) -> String {
        let words: Vec<&str> = self.sign_in.iter().map(|m| sign_in_words(*m)).collect();
        words.join(" or ")
    }

    /// Reads the methods a policy names (`password`, `sso`), each once.
    pub fn parse_sign_in<'a>(
        list: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<SignInMethod>, String> {
        let mut methods = Vec::new();
        for text in list.into_iter().map(str::trim).filter(|t| !t.is_empty()) {
            let method: SignInMethod = text.parse().map_err(|e| format!("`sign_in`: {e}"))?;
            if !methods.contains(&method) {
                methods.push(method);
            }
        }
        methods.sort();
        Ok(methods)
    }

    /// The lifetime a device token gets: `days`, at most the policy's cap.
    pub fn cap_days(&self, days: i64) -> i64 {
        self.device_token_days.map_or(days, |cap| days.min(cap))
    }

    /// The networks, comma-separated.
    pub fn networks_text(&self) -> String {
        let list: Vec<String> = self
            .device_networks
            .iter()
            .map(ToString::to_string)
            .collect();
        list.join(", ")
    }

    /// Reads a list of networks (addresses or CIDR ranges), at most
    /// [`MAX_NETWORKS`].
    pub fn parse_networks<'a>(
        list: impl IntoIterator<Item = &'a str>,
    ) -> Result<Vec<Cidr>, String> {
        let networks: Vec<Cidr> = list
            .into_iter()
            .map(str::trim)
            .filter(|n| !n.is_empty())
            .map(|n| {
                n.parse::<Cidr>()
                    .map_err(|e| format!("`device_networks`: {e}"))
            })
            .collect::<Result<_, _>>()?;
        if networks.len() > MAX_NETWORKS {
            return Err(format!(
                "`device_networks` lists at most {MAX_NETWORKS} networks"
            ));
        }
        Ok(networks)
    }

    /// Checks a lifetime cap against the server's most.
    pub fn check_days(days: Option<i64>, most: i64) -> Result<(), String> {
        match days {
            Some(days) if !(1..=most).contains(&days) => {
                Err(format!("`device_token_days` is 1 to {most}, not {days}"))
            }
            _ => Ok(()),
        }
    }
}

impl DevicePolicy {
    /// The policy in words, for the audit log and the admin page.
    pub fn describe(&self) -> String {
        let flow = if self.device_flow { "on" } else { "off" };
        let from = if self.device_networks.is_empty() {
            "any network".to_string()
        } else {
            self.networks_text()
        };
        let days = self.device_token_days.map_or_else(
            || "the server's lifetime".to_string(),
            |d| format!("at most {d} days"),
        );
        let approvers = if self.sign_in.is_empty() {
            String::new()
        } else {
            format!(
                ", approved only after signing in with {}",
                self.sign_in_text()
            )
        };
        format!(
            "device sign-in {flow}, from {from}, tokens for {days}{approvers}, {}",
            match self.mode {
                PolicyMode::Enforce => "enforced",
                PolicyMode::Report => "reported only",
            }
        )
    }
}

/// The device policies approvals read lately, per org, with when.
#[derive(Debug, Default)]
pub struct PolicyCache {
    entries: Mutex<HashMap<OrgId, (DevicePolicy, i64)>>,
}

/// The most orgs kept; beyond, the cache starts over.
const MAX_ORGS: usize = 10_000;

impl PolicyCache {
    pub(crate) fn get(&self, org_id: &OrgId, now: i64, max_age: i64) -> Option<DevicePolicy> {
        let entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        entries
            .get(org_id)
            .filter(|(_, read_at)| now - read_at < max_age)
            .map(|(policy, _)| policy.clone())
    }

    pub(crate) fn put(&self, org_id: &OrgId, policy: &DevicePolicy, now: i64) {
        let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
        if entries.len() >= MAX_ORGS {
            entries.clear();
        }
        entries.insert(org_id.clone(), (policy.clone(), now));
    }

    /// Forgets every policy (changes may have been missed).
    pub fn clear(&self) {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Drops what `event` changed.
    pub fn invalidate(&self, event: &Event) {
        if let Event::OrgPolicyChanged { org_id } = event {
            let mut entries = self.entries.lock().unwrap_or_else(|e| e.into_inner());
            entries.remove(org_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(networks: &str) -> DevicePolicy {
        DevicePolicy {
            device_networks: DevicePolicy::parse_networks(networks.split(',')).expect("networks"),
            ..DevicePolicy::default()
        }
    }

    #[test]
    fn the_default_allows_everything() {
        let p = DevicePolicy::default();
        assert_eq!(
            p.refusal("acme", Some("203.0.113.7"), Some(SignInMethod::Password)),
            None
        );
        assert_eq!(p.refusal("acme", None, Some(SignInMethod::Password)), None);
        assert_eq!(p.cap_days(90), 90);
    }

    #[test]
    fn networks_limit_where_devices_ask_from() {
        let p = policy("10.0.0.0/8, 2001:db8::/32");
        assert_eq!(
            p.refusal("acme", Some("10.1.2.3"), Some(SignInMethod::Password)),
            None
        );
        assert_eq!(
            p.refusal("acme", Some("2001:db8::5"), Some(SignInMethod::Password)),
            None
        );
        let outside = p
            .refusal("acme", Some("203.0.113.7"), Some(SignInMethod::Password))
            .expect("refused");
        assert!(outside.contains("device policy of acme"), "{outside}");
        assert!(outside.contains("10.0.0.0/8, 2001:db8::/32"), "{outside}");
        assert!(outside.contains("203.0.113.7"), "{outside}");
        assert!(
            p.refusal("acme", None, Some(SignInMethod::Password))
                .is_some(),
            "unknown is outside"
        );
        assert!(
            p.refusal("acme", Some("garbage"), Some(SignInMethod::Password))
                .is_some()
        );
    }

    #[test]
    fn off_refuses_and_caps_shorten() {
        let p = DevicePolicy {
            device_flow: false,
            device_token_days: Some(7),
            ..DevicePolicy::default()
        };
        assert!(
            p.refusal("acme", Some("10.0.0.1"), Some(SignInMethod::Password))
                .is_some_and(|r| r.contains("does not allow"))
        );
        assert_eq!(p.cap_days(90), 7);
        assert_eq!(p.cap_days(3), 3);
    }

    #[test]
    fn a_sign_in_policy_names_who_may_approve() {
        let p = DevicePolicy {
            sign_in: DevicePolicy::parse_sign_in(["sso", " sso", ""]).expect("methods"),
            ..DevicePolicy::default()
        };
        assert_eq!(p.sign_in, vec![SignInMethod::Sso], "each once");
        assert_eq!(p.refusal("acme", None, Some(SignInMethod::Sso)), None);
        let password = p
            .refusal("acme", None, Some(SignInMethod::Password))
            .expect("a password sign-in is refused");
        assert!(
            password.contains("signed in with single sign-on"),
            "{password}"
        );
        assert!(
            password.contains("you signed in with a password"),
            "{password}"
        );
        let token = p.refusal("acme", None, None).expect("a token is refused");
        assert!(token.contains("only in the browser"), "{token}");
        assert!(
            p.describe()
                .contains("approved only after signing in with single sign-on")
        );
        assert!(
            DevicePolicy::parse_sign_in(["passkeys"]).is_err_and(|e| e.contains("sign_in")),
            "an unknown method is refused with the field's name"
        );
        // The default: any way, tokens too.
        assert_eq!(DevicePolicy::default().refusal("acme", None, None), None);
    }

    #[test]
    fn bad_settings_are_refused_with_their_name() {
        assert!(
            DevicePolicy::parse_networks(["10.0.0.0/33"])
                .is_err_and(|e| e.contains("device_networks"))
        );
        let many: Vec<String> = (0..65).map(|i| format!("10.0.{i}.0/24")).collect();
        assert!(DevicePolicy::parse_networks(many.iter().map(String::as_str)).is_err());
        assert!(DevicePolicy::check_days(Some(0), 90).is_err());
        assert!(DevicePolicy::check_days(Some(91), 90).is_err());
        assert!(DevicePolicy::check_days(Some(30), 90).is_ok());
        assert!(PolicyMode::parse("audit").is_err_and(|e| e.contains("`mode`")));
    }

    #[test]
    fn cached_policies_last_their_age_and_go_when_changed() {
        let cache = PolicyCache::default();
        let org = OrgId::from("o".to_string());
        let off = DevicePolicy {
            device_flow: false,
            ..DevicePolicy::default()
        };
        cache.put(&org, &off, 100);
        assert_eq!(cache.get(&org, 159, 60), Some(off.clone()));
        assert_eq!(cache.get(&org, 160, 60), None, "read again at the max age");
        cache.invalidate(&Event::OrgPolicyChanged {
            org_id: org.clone(),
        });
        assert_eq!(cache.get(&org, 100, 60), None, "dropped when changed");
    }
}
