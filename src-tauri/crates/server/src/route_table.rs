//! A router that remembers the paths it was given, so that the OpenAPI test
//! can hold the document against the routes the server really has (it asks
//! each path which methods it answers).

use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::routing::MethodRouter;

/// Routes and their paths, in the order they were added.
#[derive(Default)]
pub struct Routes {
    router: Router<AppState>,
    paths: Vec<&'static str>,
}

impl Routes {
    /// No routes yet.
    pub fn new() -> Routes {
        Routes::default()
    }

    /// Answers `path` with `route` (one or more methods).
    pub fn add(mut self, path: &'static str, route: MethodRouter<AppState>) -> Routes {
        self.router = self.router.route(path, route);
        self.paths.push(path);
        self
    }

    /// Adds every route of `other`.
    pub fn merge(mut self, other: Routes) -> Routes {
        self.router = self.router.merge(other.router);
        self.paths.extend(other.paths);
        self
    }

    /// Caps the bodies of the routes added so far at `max` bytes (413 beyond),
    /// in place of the server-wide limit.
    pub fn limit_bodies(mut self, max: usize) -> Routes {
        self.router = self.router.layer(DefaultBodyLimit::max(max));
        self
    }

    /// Every path added, in order.
    pub fn paths(&self) -> &[&'static str] {
        &self.paths
    }

    /// The router, for serving.
    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}
