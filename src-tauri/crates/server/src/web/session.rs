//! Cookies, browser sessions and CSRF.
//!
//! The session cookie holds 256 random bits; the database keeps only their
//! SHA-256. Before sign-in a browser gets a random pre-session cookie instead.
//! The CSRF token of every form is an HMAC, under the key the servers share
//! (`server_keys`), of whichever cookie the browser has, so it is tied to
//! that browser's session, changes at sign-in, and cannot be computed from
//! a cookie someone planted. A browser that signed in successfully keeps a
//! known-browser cookie (an HMAC of the email), which gives it a sign-in
//! budget of its own: guessing someone's password elsewhere cannot lock
//! them out of the browser they use. Served over https, the cookies carry
//! the `__Host-` prefix (no `Domain`, `Secure`, `Path=/`), which a sibling
//! subdomain cannot set.

use super::flash::{FLASH_SECS, Flash, open, seal};
use crate::error::Error;
use crate::http::ApiError;
use crate::model::{RequestMeta, SignInMethod, User};
use crate::secret::{ServerKey, hex, sha256_hex};
use crate::state::AppState;
use crate::store::NewSession;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, header, request::Parts};
use axum::response::Response;
use std::sync::Arc;

/// The cookies' names: plain over http, `__Host-` over https.
#[derive(Debug, Clone, Copy)]
pub struct CookieNames {
    /// The signed-in session.
    pub session: &'static str,
    /// The pre-session (CSRF seed before sign-in).
    pub presession: &'static str,
    /// The known-browser mark.
    pub known: &'static str,
    /// The key of the note kept for the next view (see `flash`).
    pub flash: &'static str,
}

/// Over plain http (local use): browsers refuse `__Host-` cookies there.
pub const PLAIN_COOKIES: CookieNames = CookieNames {
    session: "devauth_session",
    presession: "devauth_presession",
    known: "devauth_known",
    flash: "devauth_flash",
};

/// Over https.
pub const HOST_COOKIES: CookieNames = CookieNames {
    session: "__Host-devauth_session",
    presession: "__Host-devauth_presession",
    known: "__Host-devauth_known",
    flash: "__Host-devauth_flash",
};

/// How long a browser session lasts, seconds.
pub const SESSION_SECS: i64 = 12 * 3600;
/// How long a browser stays known after a successful sign-in, seconds
/// (400 days, the most browsers keep a cookie).
pub const KNOWN_SECS: i64 = 400 * 86_400;

fn cookie<'a>(parts: &'a Parts, name: &str) -> Option<&'a str> {
    parts
        .headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

fn is_hex(text: &str, len: usize) -> bool {
    text.len() == len && text.bytes().all(|b| b.is_ascii_hexdigit())
}

fn random_hex() -> String {
    let mut bytes = [0u8; 32];
    #[allow(clippy::expect_used)]
    getrandom::fill(&mut bytes).expect("the operating system's random source failed");
    hex(&bytes)
}

/// Who is at the browser: maybe a signed-in user, always a CSRF seed.
pub struct Visitor {
    pub user: Option<Arc<User>>,
    /// When the signed-in user signed in (entered their password).
    pub signed_in_at: Option<i64>,
    /// How the signed-in user signed in.
    pub signed_in_with: Option<SignInMethod>,
    /// Whether the signed-in user owns or administers an org (the header's Admin link).
    pub administers: bool,
    pub meta: RequestMeta,
    session: Option<String>,
    /// The pre-session cookie, and whether it is new (to be set on the response).
    presession: String,
    new_presession: bool,
    /// The known-browser cookie as sent: `nonce.mac`.
    known: Option<String>,
    /// The flash cookie as sent, and whether this response clears it.
    flash_key: Option<String>,
    clear_flash: bool,
    key: ServerKey,
    names: CookieNames,
    secure: bool,
    /// The Content-Security-Policy of the pages (single sign-on adds the
    /// providers' origins to `form-action`).
    csp: std::borrow::Cow<'static, str>,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = crate::request::meta_of(parts, state);
        let secure = state.public_url.starts_with("https://");
        let names = if secure { HOST_COOKIES } else { PLAIN_COOKIES };
        let session = cookie(parts, names.session)
            .filter(|v| is_hex(v, 64))
            .map(str::to_string);
        let found = match &session {
            Some(id) => {
                state
                    .store
                    .session_user(&sha256_hex(id), state.now())
                    .await?
            }
            None => None,
        };
        let (user, signed_in_at, signed_in_with) = match found {
            Some((user, at, method)) => (Some(Arc::new(user)), Some(at), Some(method)),
            None => (None, None, None),
        };
        let administers = match &user {
            Some(user) => state
                .store
                .orgs_of_user(&user.id)
                .await?
                .iter()
                .any(|(_, role)| crate::model::RoleExt::administers(*role)),
            None => false,
        };
        let (presession, new_presession) = match cookie(parts, names.presession) {
            Some(value) if is_hex(value, 64) => (value.to_string(), false),
            _ => (random_hex(), true),
        };
        let known = cookie(parts, names.known)
            .filter(|v| v.len() <= 128)
            .map(str::to_string);
        let flash_key = cookie(parts, names.flash)
            .filter(|v| is_hex(v, 64))
            .map(str::to_string);
        Ok(Visitor {
            clear_flash: flash_key.is_some() && user.is_none(),
            flash_key,
            session: user.as_ref().and(session),
            user,
            signed_in_at,
            signed_in_with,
            administers,
            meta,
            presession,
            new_presession,
            known,
            key: state.server_key().await?.clone(),
            names,
            secure,
            csp: state.sso.csp(super::CSP),
        })
    }
}

impl Visitor {
    /// The token every form of this page must send back.
    pub fn csrf_token(&self) -> String {
        let seed = self.session.as_deref().unwrap_or(&self.presession);
        self.key.mac(&["csrf", seed])
    }

    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        let seed = self.session.as_deref().unwrap_or(&self.presession);
        given.is_some_and(|g| self.key.verify(&["csrf", seed], g))
    }

    /// The mark of a browser that signed in as `email` before: its nonce,
    /// when the cookie's MAC is right for that email.
    pub fn known_as(&self, email: &str) -> Option<&str> {
        let (nonce, mac) = self.known.as_deref()?.split_once('.')?;
        let email = email.trim().to_lowercase();
        (is_hex(nonce, 32) && self.key.verify(&["known", &email, nonce], mac)).then_some(nonce)
    }

    fn cookie_attrs(&self, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    fn set_cookie(&self, response: &mut Response, name: &str, value: &str, max_age: i64) {
        let cookie = format!("{name}={value}{}", self.cookie_attrs(max_age));
        if let Ok(cookie) = HeaderValue::from_str(&cookie) {
            response.headers_mut().append(header::SET_COOKIE, cookie);
        }
    }

    /// Sets the pre-session cookie when this browser has none yet.
    pub fn finish(&self, mut response: Response) -> Response {
        if self.new_presession {
            self.set_cookie(
                &mut response,
                self.names.presession,
                &self.presession,
                30 * 86_400,
            );
        }
        if self.clear_flash {
            self.set_cookie(&mut response, self.names.flash, "", 0);
        }
        super::page_headers(&mut response);
        if let std::borrow::Cow::Owned(csp) = &self.csp
            && let Ok(value) = HeaderValue::from_str(csp)
        {
            response
                .headers_mut()
                .insert(header::CONTENT_SECURITY_POLICY, value);
        }
        response
    }

    /// Starts a session for `user`, signed in with `method`; the cookie goes
    /// on `response`.
    pub async fn sign_in(
        &mut self,
        state: &AppState,
        user: User,
        method: SignInMethod,
        response: &mut Response,
    ) -> Result<(), Error> {
        let id = random_hex();
        let now = state.now();
        state
            .store
            .create_session(&NewSession {
                id_hash: sha256_hex(&id),
                user_id: user.id.clone(),
                created_at: now,
                expires_at: now + SESSION_SECS,
                ip: self.meta.ip.clone(),
                user_agent: self.meta.user_agent.clone(),
                method,
            })
            .await?;
        self.set_cookie(response, self.names.session, &id, SESSION_SECS);
        // This browser is now known for this account (a fresh nonce each time).
        let nonce = &random_hex()[..32];
        let email = user.email.trim().to_lowercase();
        let mark = format!("{nonce}.{}", self.key.mac(&["known", &email, nonce]));
        self.set_cookie(response, self.names.known, &mark, KNOWN_SECS);
        self.session = Some(id);
        self.user = Some(Arc::new(user));
        self.signed_in_at = Some(now);
        self.signed_in_with = Some(method);
        Ok(())
    }

    /// The SHA-256 of this browser's session cookie, as the store keeps it.
    pub fn session_hash(&self) -> Option<String> {
        self.session.as_deref().map(sha256_hex)
    }

    /// Keeps `flash` for this session's next view (after a redirect); the
    /// key goes on `response` as a cookie.
    pub async fn keep_flash(
        &self,
        state: &AppState,
        flash: &Flash,
        response: &mut Response,
    ) -> Result<(), Error> {
        let Some(session) = self.session.as_deref() else {
            return Ok(());
        };
        let id_hash = sha256_hex(session);
        let (key, sealed) = seal(flash, &id_hash)
            .ok_or_else(|| Error::internal("the page's note could not be sealed"))?;
        state.store.keep_flash(&id_hash, &sealed).await?;
        self.set_cookie(response, self.names.flash, &key, FLASH_SECS);
        Ok(())
    }

    /// The note kept for this view, once: it is taken from the session and
    /// its cookie cleared, so a reload shows nothing.
    pub async fn take_flash(&mut self, state: &AppState) -> Result<Option<Flash>, Error> {
        let (Some(key), Some(session)) = (self.flash_key.take(), self.session.as_deref()) else {
            return Ok(None);
        };
        self.clear_flash = true;
        let id_hash = sha256_hex(session);
        let sealed = state.store.take_flash(&id_hash).await?;
        Ok(sealed.and_then(|sealed| open(&key, &sealed, &id_hash)))
    }

    /// Whether the user signed in within `max_age` seconds of `now` (an
    /// approval needs a recent sign-in, as a sudo mode does).
    pub fn signed_in_within(&self, now: i64, max_age: i64) -> bool {
        self.signed_in_at.is_some_and(|at| now - at <= max_age)
    }

    /// After the person signed in again (with `method`): this session ends
    /// and a new one starts now (a new cookie, and so a new CSRF token).
    pub async fn renew(
        &mut self,
        state: &AppState,
        user: User,
        method: SignInMethod,
        response: &mut Response,
    ) -> Result<(), Error> {
        self.end_session(state).await?;
        self.sign_in(state, user, method, response).await
    }

    /// The SHA-256 of this browser's pre-session cookie: what a sign-in
    /// through a provider is bound to.
    pub fn browser_hash(&self) -> String {
        sha256_hex(&self.presession)
    }

    async fn end_session(&mut self, state: &AppState) -> Result<(), Error> {
        if let Some(id) = self.session.take() {
            state
                .store
                .end_session(&sha256_hex(&id), state.now())
                .await?;
        }
        Ok(())
    }

    pub async fn sign_out(
        &mut self,
        state: &AppState,
        response: &mut Response,
    ) -> Result<(), Error> {
        self.end_session(state).await?;
        self.user = None;
        self.signed_in_at = None;
        self.signed_in_with = None;
        self.set_cookie(response, self.names.session, "", 0);
        Ok(())
    }
}

/// A submitted HTML form: repeated fields allowed (checkbox lists).
pub struct WebForm(Vec<(String, String)>);

impl WebForm {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    pub fn text(&self, name: &str) -> String {
        self.get(name).unwrap_or_default().to_string()
    }

    /// Every field, in order.
    pub fn pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

/// Most fields a page's form may send (the token form's scope boxes are the most).
const WEB_FORM_MAX_FIELDS: usize = 64;

impl<S: Send + Sync> FromRequest<S> for WebForm {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let body = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|r| ApiError::invalid_request(r.body_text()).with_status(r.status()))?;
        let mut pairs = Vec::new();
        for (key, value) in form_urlencoded::parse(&body) {
            if pairs.len() == WEB_FORM_MAX_FIELDS {
                return Err(ApiError::invalid_request(format!(
                    "more than {WEB_FORM_MAX_FIELDS} form fields"
                )));
            }
            pairs.push((key.into_owned(), value.into_owned()));
        }
        Ok(WebForm(pairs))
    }
}
