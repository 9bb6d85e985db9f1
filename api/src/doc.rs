//! The OpenAPI document of every route (`GET /openapi.json`). The router's table of routes is
//! checked against it by a test, so a route cannot be served undocumented.

use axum::Json;
use utoipa::OpenApi;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, SecurityScheme};

use crate::admin::{checkpoints, grant, overview, payments, users};
use crate::ops;

/// The document, derived from the handlers' `#[utoipa::path]` attributes.
#[derive(OpenApi)]
#[openapi(
    info(title = "tokenbot admin API", description = "Read models and admin grants of the tokenbot ledger."),
    paths(overview::stats, overview::queue, users::user, grant::grant, users::ledger,
          checkpoints::checkpoints, payments::payments, payments::refund, ops::health, ops::metrics, openapi, ops::root),
    modifiers(&AdminKeyScheme)
)]
pub struct ApiDoc;

struct AdminKeyScheme;

impl utoipa::Modify for AdminKeyScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "admin_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-Admin-API-Key"))),
        );
    }
}

/// This document.
#[utoipa::path(get, path = "/openapi.json", tag = "ops",
    responses((status = 200, description = "the OpenAPI document", body = Object)))]
pub async fn openapi() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
