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

/// An address nothing answers: a page for a browser, JSON for the rest.
/// Only a browser's request is looked at for its session.
async fn not_found(
    axum::extract::State(state): axum::extract::State<AppState>,
    request: axum::extract::Request,
) -> axum::response::Response {
    use axum::extract::FromRequestParts;
    use axum::response::IntoResponse;
    let (mut parts, _) = request.into_parts();
    let wants_page = parts
        .headers
        .get(axum::http::header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    if wants_page
        && let Ok(visitor) = crate::web::Visitor::from_request_parts(&mut parts, &state).await
    {
        return crate::web::not_found_page(&visitor);
    }
    ApiError::from(Error::not_found("no such endpoint")).into_response()
}

/// The whole server; serve it with connect info (`SocketAddr`).
pub fn app(state: AppState) -> Router {
    routes()
        .into_router()
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            crate::request::context,
        ))
        .with_state(state)
}
