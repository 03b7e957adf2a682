//! The passkeys' relying party: the public URL's host, which must be a
//! name. Nothing here reads the server's state (it holds the result).

use webauthn_rs::prelude::{Url, Webauthn, WebauthnBuilder};

/// The relying party for `public_url`, or why there is none.
pub fn relying_party(public_url: &str) -> std::result::Result<Webauthn, String> {
    let origin = Url::parse(public_url).map_err(|e| format!("the public URL: {e}"))?;
    let Some(url::Host::Domain(host)) = origin.host() else {
        return Err(format!(
            "passkeys need the server reached by a name, not an address: set DEVAUTH_PUBLIC_URL \
             (e.g. http://localhost:{})",
            origin.port_or_known_default().unwrap_or(8750)
        ));
    };
    let host = host.to_string();
    WebauthnBuilder::new(&host, &origin)
        .and_then(|b| b.rp_name("devauth").build())
        .map_err(|e| format!("passkeys are off: {e}"))
}
