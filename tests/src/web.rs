//! A cookie-keeping HTTP client for the pages, for the security tests that need
//! exact control over forms and headers (the browser tests cover the rest).

use std::collections::BTreeMap;

pub struct WebClient {
    base: String,
    http: reqwest::Client,
    pub cookies: BTreeMap<String, String>,
}

pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The `csrf_token` of the first form on the page.
    pub fn csrf(&self) -> String {
        let marker = "name=\"csrf_token\" value=\"";
        self.body
            .find(marker)
            .map(|i| &self.body[i + marker.len()..])
            .and_then(|rest| rest.split('"').next())
            .unwrap_or_default()
            .to_string()
    }

    pub fn set_cookies(&self) -> Vec<String> {
        self.headers
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok().map(str::to_string))
            .collect()
    }
}

impl WebClient {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            http: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_else(|e| panic!("{e}")),
            cookies: BTreeMap::new(),
        }
    }

    fn cookie_header(&self) -> String {
        crate::remote::cookie_header(&self.cookies)
    }

    async fn finish(&mut self, response: reqwest::Response) -> Page {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        crate::remote::keep_cookies(&mut self.cookies, &headers);
        let body = response.text().await.unwrap_or_default();
        Page {
            status,
            headers,
            body,
        }
    }

    pub async fn get(&mut self, path: &str) -> Page {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .send()
            .await
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        self.finish(response).await
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .header("cookie", self.cookie_header())
            .form(form)
            .send()
            .await
            .unwrap_or_else(|e| panic!("POST {path}: {e}"));
        self.finish(response).await
    }

    /// Signs in through the login form; panics if it does not work.
    pub async fn sign_in(&mut self, email: &str, password: &str) {
        let csrf = self.get("/login").await.csrf();
        let page = self
            .post(
                "/login",
                &[
                    ("csrf_token", &csrf),
                    ("email", email),
                    ("password", password),
                    ("next", "/account"),
                ],
            )
            .await;
        assert_eq!(page.status, 303, "sign-in failed: {}", page.body);
    }
}
