//! HTTP to a devauth server somewhere else: what the scenario suite talks
//! through. Unlike the in-process helpers in the crate root, nothing here
//! panics: a request that never got an answer is an `Err` the suite reports.

use serde_json::Value;
use std::collections::BTreeMap;
use std::time::Duration;

pub const DEVICE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// One answer: status, headers and the body as JSON (a JSON string when it is
/// not JSON).
#[derive(Debug, Clone)]
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub(crate) async fn read(response: reqwest::Response) -> Result<Answer, String> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response
            .text()
            .await
            .map_err(|e| format!("reading the answer: {e}"))?;
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    /// The body as a type of the wire contract (`devauth-proto`): a renamed,
    /// missing or retyped field is an error naming it.
    pub fn parse<T: serde::de::DeserializeOwned>(&self) -> Result<T, String> {
        serde_json::from_value(self.body.clone())
            .map_err(|e| format!("the answer ({}) is not in the contract: {e}", self.status))
    }

    /// The OAuth/API error code, or "".
    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("")
    }

    pub fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }

    /// A string field of the JSON body, or "".
    pub fn text(&self, field: &str) -> String {
        self.body[field].as_str().unwrap_or_default().to_string()
    }

    /// "400 authorization_pending" / "200": for messages.
    pub fn summary(&self) -> String {
        match self.error() {
            "" => self.status.to_string(),
            code => format!("{} {code}", self.status),
        }
    }

    /// The text of an HTML page, for searching.
    pub fn page(&self) -> &str {
        self.body.as_str().unwrap_or("")
    }
}

/// A server's base URL and an HTTP client for it (no redirects followed, so
/// tests see the 303s of the pages).
#[derive(Clone)]
pub struct Remote {
    base: String,
    http: reqwest::Client,
}

impl Remote {
    pub fn new(base: &str) -> Result<Remote, String> {
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("devauth-harness/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            // The server closes a connection idle for its header timeout
            // (10 s); drop ours well before, so none is reused as it closes.
            .pool_idle_timeout(Duration::from_secs(5))
            // Long enough for a held token poll (Prefer: wait ≤ 30 s).
            .timeout(Duration::from_secs(45))
            .build()
            .map_err(|e| format!("cannot set up HTTP: {e}"))?;
        Ok(Remote {
            base: base.trim_end_matches('/').to_string(),
            http,
        })
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, what: &str, request: reqwest::RequestBuilder) -> Result<Answer, String> {
        let response = request
            .send()
            .await
            .map_err(|e| format!("{what}: no answer: {}", root_cause(&e)))?;
        Answer::read(response).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Result<Answer, String> {
        let mut request = self.http.get(self.at(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(&format!("GET {path}"), request).await
    }

    pub async fn json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, String> {
        let mut request = self.http.request(method.clone(), self.at(path)).json(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(&format!("{method} {path}"), request).await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: Option<&str>,
        body: &Value,
    ) -> Result<Answer, String> {
        self.json(reqwest::Method::POST, path, token, body).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Result<Answer, String> {
        self.delete_with(path, Some(token)).await
    }

    pub async fn delete_with(&self, path: &str, token: Option<&str>) -> Result<Answer, String> {
        let mut request = self.http.delete(self.at(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        self.send(&format!("DELETE {path}"), request).await
    }

    /// The underlying HTTP client (no redirects followed), for requests the
    /// helpers do not cover.
    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    pub async fn post_form(
        &self,
        path: &str,
        form: &[(&str, &str)],
        headers: &[(&str, &str)],
    ) -> Result<Answer, String> {
        let mut request = self.http.post(self.at(path)).form(form);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        self.send(&format!("POST {path}"), request).await
    }

    /// Starts a device authorization.
    pub async fn start_device(&self, client_id: &str, device_name: &str) -> Result<Answer, String> {
        self.post_form(
            "/oauth/device_authorization",
            &[("client_id", client_id), ("device_name", device_name)],
            &[],
        )
        .await
    }

    /// One token poll; `wait` sends `Prefer: wait=N`.
    pub async fn poll(
        &self,
        device_code: &str,
        client_id: &str,
        wait: Option<u64>,
    ) -> Result<Answer, String> {
        let prefer = wait.map(|n| format!("wait={n}"));
        let headers: Vec<(&str, &str)> = prefer.iter().map(|p| ("prefer", p.as_str())).collect();
        self.post_form(
            "/oauth/token",
            &[
                ("grant_type", DEVICE_GRANT),
                ("device_code", device_code),
                ("client_id", client_id),
            ],
            &headers,
        )
        .await
    }

    /// RFC 7009 revocation.
    pub async fn revoke(&self, token: &str) -> Result<Answer, String> {
        self.post_form("/oauth/revoke", &[("token", token)], &[])
            .await
    }
}

/// A `Cookie` header with every cookie a browser would send back.
pub(crate) fn cookie_header(cookies: &BTreeMap<String, String>) -> String {
    cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Takes in an answer's `Set-Cookie` headers, as a browser would (an empty
/// value or `Max-Age=0` removes the cookie).
pub(crate) fn keep_cookies(
    cookies: &mut BTreeMap<String, String>,
    headers: &reqwest::header::HeaderMap,
) {
    for set in headers
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
    {
        if let Some((name, rest)) = set.split_once('=') {
            let value = rest.split(';').next().unwrap_or_default().to_string();
            if value.is_empty() || set.contains("Max-Age=0") {
                cookies.remove(name);
            } else {
                cookies.insert(name.to_string(), value);
            }
        }
    }
}

/// A person in a browser, without the browser: cookies, CSRF tokens, forms.
pub struct Visitor {
    remote: Remote,
    /// The cookies a browser would send back.
    pub cookies: BTreeMap<String, String>,
    /// Headers sent with every request (a proxy's `X-Forwarded-For`).
    pub headers: Vec<(String, String)>,
}

impl Visitor {
    pub fn new(remote: &Remote) -> Visitor {
        Visitor {
            remote: remote.clone(),
            cookies: BTreeMap::new(),
            headers: Vec::new(),
        }
    }

    /// The same visitor, seen through a proxy that says it comes from `ip`.
    pub fn from_ip(mut self, ip: &str) -> Visitor {
        self.headers.push(("x-forwarded-for".into(), ip.into()));
        self
    }

    async fn finish(
        &mut self,
        what: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<Answer, String> {
        let mut request = request.header("cookie", cookie_header(&self.cookies));
        for (name, value) in &self.headers {
            request = request.header(name, value);
        }
        let answer = self.remote.send(what, request).await?;
        keep_cookies(&mut self.cookies, &answer.headers);
        Ok(answer)
    }

    pub async fn get(&mut self, path: &str) -> Result<Answer, String> {
        let request = self.remote.http.get(self.remote.at(path));
        self.finish(&format!("GET {path}"), request).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Result<Answer, String> {
        let request = self.remote.http.post(self.remote.at(path)).form(form);
        self.finish(&format!("POST {path}"), request).await
    }

    /// Signs in on `/login`.
    pub async fn sign_in(&mut self, email: &str, password: &str) -> Result<(), String> {
        let csrf = csrf(&self.get("/login").await?);
        let answer = self
            .post(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("email", email),
                    ("password", password),
                    ("next", "/account"),
                ],
            )
            .await?;
        if answer.status != 303 {
            return Err(format!(
                "signing in as {email} on /login answered {} instead of 303",
                answer.status
            ));
        }
        Ok(())
    }

    /// Enters a user code on `/device` and approves it into `org`, as a
    /// person would on the confirm page.
    pub async fn approve(&mut self, user_code: &str, org: &str) -> Result<(), String> {
        let csrf = csrf(&self.get("/device").await?);
        let confirm = self
            .post(
                "/device",
                &[("csrf_token", &csrf), ("user_code", user_code)],
            )
            .await?;
        if confirm.status != 200 || !confirm.page().contains("value=\"approve\"") {
            return Err(format!(
                "entering the code on /device answered {} without an Approve button",
                confirm.status
            ));
        }
        let done = self
            .post(
                "/device/decide",
                &[
                    ("csrf_token", &csrf),
                    ("user_code", user_code),
                    ("org", org),
                    ("action", "approve"),
                ],
            )
            .await?;
        if done.status != 200 || !done.page().contains("Device approved") {
            return Err(format!(
                "approving on the confirm page answered {}",
                done.status
            ));
        }
        Ok(())
    }
}

/// The `csrf_token` of the first form on a page.
pub fn csrf(page: &Answer) -> String {
    let marker = "name=\"csrf_token\" value=\"";
    let body = page.page();
    body.find(marker)
        .map(|i| &body[i + marker.len()..])
        .and_then(|rest| rest.split('"').next())
        .unwrap_or_default()
        .to_string()
}

fn root_cause(e: &(dyn std::error::Error + 'static)) -> String {
    let mut cur = e;
    while let Some(next) = cur.source() {
        cur = next;
    }
    cur.to_string()
}
