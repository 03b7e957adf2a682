//! A cookie-keeping client for the pages, for the security tests that need
//! exact control over forms and headers (the browser tests cover the rest): a
//! [`remote::Visitor`](crate::remote::Visitor) whose failures fail the test.

use crate::remote::{Answer, Remote, Visitor};
use std::collections::BTreeMap;

pub struct WebClient(Visitor);

/// A page as the tests read it.
pub struct Page {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: String,
}

impl Page {
    fn of(answer: Answer) -> Page {
        let body = match answer.body {
            serde_json::Value::String(text) => text,
            other => other.to_string(),
        };
        Page {
            status: answer.status,
            headers: answer.headers,
            body,
        }
    }

    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string()
    }

    /// The `csrf_token` of the first form on the page.
    pub fn csrf(&self) -> String {
        crate::remote::csrf(&Answer {
            status: self.status,
            headers: Default::default(),
            body: serde_json::Value::String(self.body.clone()),
        })
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
        let remote = Remote::new(base).expect("an HTTP client for the pages");
        WebClient(Visitor::new(&remote))
    }

    pub fn cookies(&mut self) -> &mut BTreeMap<String, String> {
        &mut self.0.cookies
    }

    pub async fn get(&mut self, path: &str) -> Page {
        Page::of(self.0.get(path).await.expect("a page"))
    }

    pub async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        Page::of(self.0.post(path, form).await.expect("a form answered"))
    }

    /// Signs in through the login form; panics if it does not work.
    pub async fn sign_in(&mut self, email: &str, password: &str) {
        self.0.sign_in(email, password).await.expect("sign-in");
    }
}
