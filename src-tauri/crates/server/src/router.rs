//! The whole server as one router: the JSON and OAuth routes of `crate::http`
//! and the pages of `crate::web`, composed here and nowhere else, inside the
//! request layer of `crate::request`.

use crate::error::Error;
use crate::http::{ApiError, MAX_BODY_BYTES};
use crate::route_table::Routes;
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;

/// Every route of the server, and the paths it answers.
pub fn routes() -> Routes {
    crate::http::routes()
        .merge(crate::web::routes())
        .merge(crate::openapi::routes())
}

/// The whole server; serve it with connect info (`SocketAddr`).
pub fn app(state: AppState) -> Router {
    routes()
        .into_router()
        .fallback(|| async { ApiError::from(Error::not_found("no such endpoint")) })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::request::context,
        ))
        .with_state(state)
}
