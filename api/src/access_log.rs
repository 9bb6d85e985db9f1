//! The HTTP access log: one line per request (method, route, status, latency) under a request
//! id. The id is taken from the client's `X-Request-Id` or made (a UUID), returned in the
//! answer's `X-Request-Id`, and is a field of the request's span, so every line logged while the
//! request is served (a failed admin authentication, a ledger error) carries it. JSON when
//! `LOG_FORMAT=json`, like every other line. Headers are not logged: one of them is the admin key.

use std::time::Duration;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderName, Response};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::Span;

/// The header the request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// `router` with the request id and the access log around it.
pub fn layer(router: Router) -> Router {
    let trace = TraceLayer::new_for_http()
        .make_span_with(|request: &Request| {
            let id = request
                .headers()
                .get(&REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            // The route's pattern, not the raw path: ids in paths would make every line unique.
            let route = request
                .extensions()
                .get::<MatchedPath>()
                .map_or_else(|| request.uri().path(), MatchedPath::as_str);
            tracing::info_span!("http", request_id = %id, method = %request.method(), route)
        })
        .on_request(())
        .on_response(|response: &Response<_>, latency: Duration, _span: &Span| {
            tracing::info!(
                status = response.status().as_u16(),
                latency_ms = latency.as_secs_f64() * 1000.0,
                "served"
            );
        })
        .on_failure(());
    // Outermost first: set the id, then log under it, then copy it to the answer.
    router
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(trace)
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
}
