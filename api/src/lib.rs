//! The HTTP API (axum): the original's `/admin/*` endpoints over the read models and the ledger,
//! plus `/health`, `/metrics` and an OpenAPI document, served by every role of the binary (the
//! admin routes only where the api role runs).
//!
//! Handlers are thin, in the shape of axum's examples: extractors ([`extract`]) turn the path,
//! query and body into domain types or a problem+json answer ([`error`], [`rejection`]); the
//! handler calls a query of `tokenbot-projections` or a command of the ledger and maps the result.
//! This file only composes the router from one table of routes, which the OpenAPI document
//! ([`doc`]) is checked against.

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::handler::Handler;
use axum::routing::{MethodFilter, MethodRouter};

pub mod access_log;
pub mod admin;
pub mod auth;
pub mod doc;
pub mod error;
pub mod extract;
pub mod health;
pub mod idempotency;
pub mod metric_catalog;
pub mod ops;
pub mod params;
pub mod rejection;
pub mod snapshot;
pub mod state;

pub use doc::ApiDoc;
pub use error::ApiError;
pub use health::{
    CheckFuture, HealthCheck, NatsCheck, OpenTaskAgeCheck, PostgresCheck, ReadPostgresCheck,
};
pub use state::{AdminState, ReturnStars};

/// Largest request body accepted.
const MAX_BODY_BYTES: usize = 64 * 1024;

/// The HTTP methods the API serves, named as the OpenAPI document names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verb {
    Get,
    Post,
}

impl Verb {
    fn filter(self) -> MethodFilter {
        match self {
            Verb::Get => MethodFilter::GET,
            Verb::Post => MethodFilter::POST,
        }
    }
}

/// One route: the method and path it answers, and its handler.
struct Route {
    #[cfg_attr(
        not(test),
        expect(dead_code, reason = "the test of the OpenAPI document reads it")
    )]
    verb: Verb,
    path: &'static str,
    handler: MethodRouter<AdminState>,
}

fn route<H, T>(verb: Verb, path: &'static str, handler: H) -> Route
where
    H: Handler<T, AdminState>,
    T: 'static,
{
    Route {
        verb,
        path,
        handler: axum::routing::on(verb.filter(), handler),
    }
}

/// The routes behind the admin key.
fn admin_routes() -> Vec<Route> {
    use Verb::{Get, Post};
    vec![
        route(Get, "/admin/stats", admin::overview::stats),
        route(Get, "/admin/queue", admin::overview::queue),
        route(Get, "/admin/users/{telegram_id}", admin::users::user),
        route(
            Post,
            "/admin/users/{telegram_id}/tokens",
            admin::grant::grant,
        ),
        route(
            Get,
            "/admin/users/{telegram_id}/ledger",
            admin::users::ledger,
        ),
        route(
            Get,
            "/admin/ledger/checkpoints",
            admin::checkpoints::checkpoints,
        ),
        route(Get, "/admin/payments", admin::payments::payments),
        route(
            Post,
            "/admin/payments/{charge_id}/refund",
            admin::payments::refund,
        ),
    ]
}

/// The routes anyone may call.
fn public_routes() -> Vec<Route> {
    vec![
        route(Verb::Get, "/health", ops::health),
        route(Verb::Get, "/metrics", ops::metrics),
        route(Verb::Get, "/openapi.json", doc::openapi),
        route(Verb::Get, "/", ops::root),
    ]
}

fn add(router: Router<AdminState>, routes: Vec<Route>) -> Router<AdminState> {
    routes
        .into_iter()
        .fold(router, |r, route| r.route(route.path, route.handler))
}

/// The admin API, health, metrics and OpenAPI routes, as one router (merge others into it, as
/// `up` does with the bot's webhook).
pub fn router(state: AdminState) -> Router {
    // Installing the recorder here means metrics exist as soon as the API is served.
    let _ = ops::metrics_handle();
    let admin = add(Router::new(), admin_routes()).route_layer(
        axum::middleware::from_fn_with_state(state.admin_auth(), auth::require_admin),
    );
    let routes = add(Router::new().merge(admin), public_routes())
        .layer(axum::middleware::from_fn(ops::track))
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state);
    access_log::layer(routes)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use utoipa::OpenApi;

    use super::*;

    fn verb_name(verb: Verb) -> &'static str {
        match verb {
            Verb::Get => "get",
            Verb::Post => "post",
        }
    }

    #[test]
    fn every_route_is_in_the_openapi_document_and_nothing_else() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        let paths = doc["paths"].as_object().expect("paths");
        let mut served = BTreeSet::new();
        for r in admin_routes().into_iter().chain(public_routes()) {
            let operation = &paths
                .get(r.path)
                .unwrap_or_else(|| panic!("{} is served but not documented", r.path))
                [verb_name(r.verb)];
            assert!(
                operation.is_object(),
                "{} {} is served but not documented",
                verb_name(r.verb),
                r.path
            );
            served.insert(format!("{} {}", verb_name(r.verb), r.path));
        }
        let mut documented = BTreeSet::new();
        for (path, item) in paths {
            for verb in ["get", "post", "put", "patch", "delete", "head", "options"] {
                if item.get(verb).is_some() {
                    documented.insert(format!("{verb} {path}"));
                }
            }
        }
        assert_eq!(served, documented, "documented routes that are not served");
    }

    #[test]
    fn path_and_query_parameters_are_documented_with_their_bounds() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        let parameter = |route: &Route, name: &str| {
            doc["paths"][route.path][verb_name(route.verb)]["parameters"]
                .as_array()
                .and_then(|ps| ps.iter().find(|p| p["name"] == name).cloned())
                .unwrap_or_else(|| panic!("{} documents no parameter {name}", route.path))
        };
        for r in admin_routes().into_iter().chain(public_routes()) {
            for segment in r.path.split('/') {
                if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    assert_eq!(parameter(&r, name)["in"], "path", "{} {name}", r.path);
                }
            }
        }
        let paged = admin_routes()
            .into_iter()
            .filter(|r| r.path.ends_with("/ledger") || r.path.ends_with("/checkpoints"));
        for r in paged {
            let limit = parameter(&r, "limit");
            assert_eq!(limit["in"], "query");
            assert_eq!(limit["schema"]["minimum"], params::PageLimit::MIN);
            assert_eq!(limit["schema"]["maximum"], params::PageLimit::MAX);
        }
    }

    #[test]
    fn admin_routes_say_they_need_the_key_and_public_ones_do_not() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("the document serializes");
        let security = |route: &Route| {
            doc["paths"][route.path][verb_name(route.verb)]["security"]
                .as_array()
                .is_some_and(|s| s.iter().any(|s| s.get("admin_key").is_some()))
        };
        for r in admin_routes() {
            assert!(security(&r), "{} needs the admin key", r.path);
        }
        for r in public_routes() {
            assert!(!security(&r), "{} is public", r.path);
        }
    }
}
