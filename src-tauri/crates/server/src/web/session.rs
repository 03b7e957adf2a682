//! Cookies, browser sessions and CSRF.
//!
//! The session cookie holds 256 random bits; the database keeps only their
//! SHA-256. Before sign-in a browser gets a random pre-session cookie instead.
//! The CSRF token of every form is derived from whichever cookie the browser
//! has, so it is tied to that browser's session and changes at sign-in.

use crate::error::Error;
use crate::http::ApiError;
use crate::model::{RequestMeta, User};
use crate::secret::{hex, sha256_hex};
use crate::state::AppState;
use crate::store::NewSession;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::{HeaderValue, header, request::Parts};
use axum::response::Response;
use std::sync::Arc;
use subtle::ConstantTimeEq;

pub const SESSION_COOKIE: &str = "devauth_session";
pub const PRESESSION_COOKIE: &str = "devauth_presession";
/// How long a browser session lasts, seconds.
pub const SESSION_SECS: i64 = 12 * 3600;

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
        .filter(|v| v.len() == 64 && v.bytes().all(|b| b.is_ascii_hexdigit()))
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
    pub meta: RequestMeta,
    session: Option<String>,
    /// The pre-session cookie, and whether it is new (to be set on the response).
    presession: String,
    new_presession: bool,
    secure: bool,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let meta = crate::request::meta_of(parts, state);
        let session = cookie(parts, SESSION_COOKIE).map(str::to_string);
        let user = match &session {
            Some(id) => state
                .store
                .session_user(&sha256_hex(id), state.now())
                .await?
                .map(Arc::new),
            None => None,
        };
        let (presession, new_presession) = match cookie(parts, PRESESSION_COOKIE) {
            Some(value) => (value.to_string(), false),
            None => (random_hex(), true),
        };
        Ok(Visitor {
            session: user.as_ref().and(session),
            user,
            meta,
            presession,
            new_presession,
            secure: state.public_url.starts_with("https://"),
        })
    }
}

impl Visitor {
    /// The token every form of this page must send back.
    pub fn csrf_token(&self) -> String {
        let seed = self.session.as_deref().unwrap_or(&self.presession);
        sha256_hex(&format!("devauth-csrf\0{seed}"))
    }

    pub fn csrf_ok(&self, given: Option<&str>) -> bool {
        let expected = self.csrf_token();
        given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(expected.as_bytes())))
    }

    fn cookie_attrs(&self, max_age: i64) -> String {
        let secure = if self.secure { "; Secure" } else { "" };
        format!("; Path=/; HttpOnly; SameSite=Lax; Max-Age={max_age}{secure}")
    }

    /// Sets the pre-session cookie when this browser has none yet.
    pub fn finish(&self, mut response: Response) -> Response {
        if self.new_presession {
            let value = format!(
                "{PRESESSION_COOKIE}={}{}",
                self.presession,
                self.cookie_attrs(30 * 86_400)
            );
            if let Ok(value) = HeaderValue::from_str(&value) {
                response.headers_mut().append(header::SET_COOKIE, value);
            }
        }
        super::page_headers(&mut response);
        response
    }

    /// Starts a session for `user`; the cookie goes on `response`.
    pub async fn sign_in(
        &mut self,
        state: &AppState,
        user: User,
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
            })
            .await?;
        let value = format!("{SESSION_COOKIE}={id}{}", self.cookie_attrs(SESSION_SECS));
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
        self.session = Some(id);
        self.user = Some(Arc::new(user));
        Ok(())
    }

    pub async fn sign_out(
        &mut self,
        state: &AppState,
        response: &mut Response,
    ) -> Result<(), Error> {
        if let Some(id) = self.session.take() {
            state
                .store
                .end_session(&sha256_hex(&id), state.now())
                .await?;
        }
        self.user = None;
        let value = format!("{SESSION_COOKIE}={}", self.cookie_attrs(0));
        if let Ok(value) = HeaderValue::from_str(&value) {
            response.headers_mut().append(header::SET_COOKIE, value);
        }
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
