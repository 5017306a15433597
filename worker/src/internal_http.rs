//! The guard in front of every internal endpoint (between the controller and its workers):
//! the cluster secret is checked first (401), then the declared body size against the
//! route's limit (413), then the body bytes all internal requests may hold at once — all
//! before a byte of the body is read, so unauthenticated or oversized bodies cost nothing.

use axum::extract::{DefaultBodyLimit, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::MethodRouter;
use axum::Json;
use msq_rows::rpc::{BodyLimits, ClusterSecret};
use serde_json::json;
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Granularity of the buffered-bytes budget.
const BUDGET_UNIT: usize = 1024;

/// Checks the cluster secret and body sizes of internal requests. Cheap to clone; the clones
/// share one buffered-bytes budget.
#[derive(Clone)]
pub struct ClusterGuard {
    secret: ClusterSecret,
    budget: Arc<Semaphore>,
    budget_units: u32,
    /// What the error bodies name as the answering side.
    error: &'static str,
}

#[derive(Clone)]
struct RouteGuard {
    guard: ClusterGuard,
    max_bytes: usize,
}

impl ClusterGuard {
    /// A guard accepting only `secret`, with `limits.buffered_bytes` of bodies at once;
    /// `error` names the side in error bodies (`"msq worker error"`).
    pub fn new(secret: ClusterSecret, limits: &BodyLimits, error: &'static str) -> Self {
        let units =
            (limits.buffered_bytes.div_ceil(BUDGET_UNIT)).clamp(1, Semaphore::MAX_PERMITS.min(u32::MAX as usize));
        ClusterGuard {
            secret,
            budget: Arc::new(Semaphore::new(units)),
            budget_units: units as u32,
            error,
        }
    }

    /// `route` behind the guard, with bodies of at most `max_bytes`.
    pub fn guard<S>(&self, route: MethodRouter<S>, max_bytes: usize) -> MethodRouter<S>
    where
        S: Clone + Send + Sync + 'static,
    {
        let state = RouteGuard {
            guard: self.clone(),
            max_bytes,
        };
        route
            .layer(DefaultBodyLimit::max(max_bytes))
            .layer(axum::middleware::from_fn_with_state(state, check))
    }

    /// An internal error response: `{"error","errorMessage","errorClass","host"}`.
    pub fn error(&self, status: StatusCode, message: impl Into<String>) -> Response {
        internal_error(self.error, status, message)
    }
}

/// An internal endpoint's error body, in Druid's shape.
pub fn internal_error(error: &str, status: StatusCode, message: impl Into<String>) -> Response {
    let class = match status {
        StatusCode::UNAUTHORIZED => "org.apache.druid.server.security.ForbiddenException",
        _ => "org.apache.druid.rpc.ServiceClosedException",
    };
    (
        status,
        Json(json!({"error": error, "errorMessage": message.into(), "errorClass": class, "host": null})),
    )
        .into_response()
}

async fn check(State(route): State<RouteGuard>, req: Request, next: Next) -> Response {
    let guard = &route.guard;
    let authorization = req.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    if !guard.secret.accepts(authorization) {
        let mut r = guard.error(
            StatusCode::UNAUTHORIZED,
            "this endpoint is internal to the cluster: send Authorization: Bearer <cluster secret>",
        );
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"msq-cluster\""),
        );
        return r;
    }
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if let Some(n) = declared.filter(|&n| n > route.max_bytes as u64) {
        return guard.error(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body of {n} bytes is over this endpoint's limit of {} bytes",
                route.max_bytes
            ),
        );
    }
    tracing::debug!(path = req.uri().path(), bytes = declared, "internal request");
    // Hold budget for what the body may grow to until the handler is done with it.
    let bytes = declared.map_or(route.max_bytes, |n| n as usize);
    let units = (bytes.div_ceil(BUDGET_UNIT) as u64).clamp(1, guard.budget_units as u64) as u32;
    let Ok(_permit) = guard.budget.acquire_many(units).await else {
        return guard.error(StatusCode::SERVICE_UNAVAILABLE, "shutting down");
    };
    next.run(req).await
}
