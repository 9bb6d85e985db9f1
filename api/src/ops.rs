//! Operational endpoints: health (with dependency checks), Prometheus metrics, service info, and
//! the request metrics middleware.

use std::collections::BTreeMap;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{BuildError, Matcher, PrometheusBuilder, PrometheusHandle};
use serde::Serialize;
use utoipa::ToSchema;

use crate::metric_catalog::{BUILD_INFO, Kind, METRICS};
use crate::state::AdminState;

/// The process-wide Prometheus recorder, installed once, on first use, configured from
/// [`METRICS`]: histograms with their buckets, every metric described, the build-info gauge set.
pub fn metrics_handle() -> Option<&'static PrometheusHandle> {
    static HANDLE: OnceLock<Option<PrometheusHandle>> = OnceLock::new();
    HANDLE
        .get_or_init(|| match install_recorder() {
            Ok(h) => Some(h),
            Err(e) => {
                tracing::warn!(error = %e, "metrics recorder not installed");
                None
            }
        })
        .as_ref()
}

/// How often recorded histogram samples are folded into their buckets between scrapes.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

fn install_recorder() -> Result<PrometheusHandle, BuildError> {
    let mut builder = PrometheusBuilder::new();
    for m in METRICS {
        if let Kind::Histogram(buckets) = m.kind {
            builder = builder.set_buckets_for_metric(Matcher::Full(m.name.to_string()), buckets)?;
        }
    }
    let handle = builder.install_recorder()?;
    for m in METRICS {
        match m.kind {
            Kind::Counter => metrics::describe_counter!(m.name, m.help),
            Kind::Gauge => metrics::describe_gauge!(m.name, m.help),
            Kind::Histogram(_) => metrics::describe_histogram!(m.name, m.help),
        }
    }
    metrics::gauge!(BUILD_INFO,
        "version" => env!("CARGO_PKG_VERSION"),
        "git_sha" => env!("TOKENBOT_GIT_SHA"),
        "rustc" => env!("TOKENBOT_RUSTC_VERSION"))
    .set(1.0);
    // `install_recorder` leaves upkeep to the caller: without it, samples of a histogram nobody
    // scrapes pile up in memory. A thread, not a task: the recorder outlives any one runtime.
    let upkeep = handle.clone();
    let spawned = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || {
            loop {
                std::thread::sleep(UPKEEP_EVERY);
                upkeep.run_upkeep();
            }
        });
    if let Err(e) = spawned {
        tracing::warn!(error = %e, "metrics upkeep thread not started; histograms drain on scrape only");
    }
    Ok(handle)
}

/// How long one dependency may take to answer `/health`.
const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

/// The `/health` answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`, `degraded` (answered 200: working, but something needs an operator) or `failing`
    /// (answered 503).
    pub status: &'static str,
    /// Each dependency's verdict: `ok`, `degraded: <why>` or `failing: <why>`.
    pub checks: BTreeMap<String, String>,
}

/// Asks every dependency, each within two seconds: 200 when all answer, else 503.
#[utoipa::path(get, path = "/health", tag = "ops", responses((status = 200, body = Health), (status = 503, body = Health)))]
pub async fn health(State(state): State<AdminState>) -> (StatusCode, Json<Health>) {
    let mut checks = BTreeMap::new();
    let (mut failing, mut degraded) = (false, false);
    for check in &state.inner.health_checks {
        let result = tokio::time::timeout(CHECK_TIMEOUT, check.check()).await;
        let problem = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(format!("no answer within {} s", CHECK_TIMEOUT.as_secs())),
        };
        let verdict = match problem {
            None => "ok".to_string(),
            Some(e) if check.only_degrades() => {
                degraded = true;
                format!("degraded: {e}")
            }
            Some(e) => {
                failing = true;
                format!("failing: {e}")
            }
        };
        checks.insert(check.name().to_string(), verdict);
    }
    let (code, status) = match (failing, degraded) {
        (true, _) => (StatusCode::SERVICE_UNAVAILABLE, "failing"),
        (false, true) => (StatusCode::OK, "degraded"),
        (false, false) => (StatusCode::OK, "ok"),
    };
    (code, Json(Health { status, checks }))
}

/// The process's metrics in Prometheus text format.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", content_type = "text/plain", body = String),
              (status = 503, description = "the recorder could not be installed")))]
pub async fn metrics() -> Response {
    match metrics_handle() {
        Some(h) => (
            [(header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            h.render(),
        )
            .into_response(),
        None => (StatusCode::SERVICE_UNAVAILABLE, "metrics are not available").into_response(),
    }
}

/// The `/` answer: which service this is.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceInfo {
    /// Always `tokenbot`.
    pub name: &'static str,
    /// The binary's version.
    pub version: &'static str,
    /// Always `running`.
    pub status: &'static str,
}

/// Which service answers on this address.
#[utoipa::path(get, path = "/", tag = "ops", responses((status = 200, body = ServiceInfo)))]
pub async fn root() -> Json<ServiceInfo> {
    Json(ServiceInfo {
        name: "tokenbot",
        version: env!("CARGO_PKG_VERSION"),
        status: "running",
    })
}

/// Counts requests and their latency per route template (never the raw path, which would
/// explode the label set with user ids).
pub async fn track(request: Request, next: Next) -> Response {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let method = request.method().to_string();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("tokenbot_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("tokenbot_http_request_duration_seconds", "method" => method, "route" => route)
        .record(started.elapsed().as_secs_f64());
    response
}
