//! The words of the contract: roles, scopes, token kinds and states, device
//! request states. Each is sent as its lowercase text; an unknown word is
//! refused with the list of the known ones.

use std::fmt;
use std::str::FromStr;

macro_rules! text_enum {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name { $($(#[$vmeta])* $variant),+ }

        impl $name {
            /// Every value, in order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The text sent on the wire.
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }

        impl FromStr for $name {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($text => Ok($name::$variant),)+
                    _ => Err(format!(
                        "unknown {} `{}`; expected one of: {}",
                        stringify!($name).to_lowercase(),
                        s,
                        [$($text),+].join(", ")
                    )),
                }
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let text = String::deserialize(d)?;
                text.parse().map_err(serde::de::Error::custom)
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::PartialSchema for $name {
            fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
                utoipa::openapi::ObjectBuilder::new()
                    .schema_type(utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($text),+]))
                    .into()
            }
        }

        #[cfg(feature = "openapi")]
        impl utoipa::ToSchema for $name {}
    };
}

text_enum!(
    /// A member's role in an organization, most powerful first.
    Role {
        /// Everything, including owner-level acts (the owner role, owners' tokens).
        Owner = "owner",
        /// Administers the org: members, every token, the audit log.
        Admin = "admin",
        /// Signs in and manages their own tokens.
        Member = "member",
        /// Like a member; kept apart for read-only use.
        Viewer = "viewer",
    }
);

text_enum!(
    /// How a person signed in to the pages (an org's `sign_in` policy names
    /// which may approve devices into it).
    SignInMethod {
        /// Email and password.
        Password = "password",
        /// Through one of the server's single sign-on providers.
        Sso = "sso",
        /// With a passkey (WebAuthn).
        Passkey = "passkey",
    }
);

text_enum!(
    /// What a token may be used for. A token without scopes has its member's full role.
    Scope {
        /// `GET /me` and the event stream.
        ProfileRead = "profile:read",
        /// Reading tokens.
        TokensRead = "tokens:read",
        /// Creating, rotating and revoking tokens, approving devices.
        TokensWrite = "tokens:write",
        /// Administering the org (owners and admins only).
        OrgAdmin = "org:admin",
    }
);

text_enum!(
    /// How a token came to be.
    TokenKind {
        /// Issued to a device through the device flow.
        Device = "device",
        /// Created by a person for themselves.
        Personal = "personal",
        /// Belongs to the org, not to a person.
        Service = "service",
    }
);

text_enum!(
    /// Where a token stands at the time of the answer.
    TokenState {
        /// Neither revoked nor expired.
        Active = "active",
        /// Past its expiry time.
        Expired = "expired",
        /// Revoked.
        Revoked = "revoked",
    }
);

text_enum!(
    /// Where a device authorization stands.
    DeviceStatus {
        /// Waiting for a person to decide.
        Pending = "pending",
        /// Approved; the next poll gets the token.
        Approved = "approved",
        /// Denied.
        Denied = "denied",
        /// Not decided in time.
        Expired = "expired",
        /// Approved and its token issued.
        Redeemed = "redeemed",
    }
);

/// Parses a space- or comma-separated scope list; empty means "no restriction".
pub fn parse_scopes(text: &str) -> Result<Vec<Scope>, String> {
    let mut scopes = Vec::new();
    for part in text.split([' ', ',']).filter(|p| !p.is_empty()) {
        let scope: Scope = part.parse()?;
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    scopes.sort();
    Ok(scopes)
}

/// Scopes as one space-separated string, or `None` when there are none.
pub fn scopes_to_text(scopes: &[Scope]) -> Option<String> {
    (!scopes.is_empty()).then(|| {
        scopes
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_round_trip_and_unknown_ones_are_named() {
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(*role));
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.contains("owner, admin, member, viewer"), "{err}");
    }

    #[test]
    fn scope_lists_parse_strictly() {
        assert_eq!(
            parse_scopes("tokens:read, profile:read tokens:read"),
            Ok(vec![Scope::ProfileRead, Scope::TokensRead])
        );
        assert!(parse_scopes("tokens:read admin").is_err());
        assert_eq!(parse_scopes(""), Ok(vec![]));
        assert_eq!(scopes_to_text(&[]), None);
    }
}
