//! HTTP basic auth of the public API: the users ([`Credentials`]) and the layer that checks
//! them ([`require_user`]) before any body is read.

use super::error::ApiError;
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use msq_engine::MsqError;
use std::collections::HashMap;
use std::sync::Arc;

/// HTTP basic-auth users (`user:password` per line). When set, every endpoint of the public
/// API but `/status/health` needs valid credentials (`Authorization: Basic ...`, the scheme
/// in any case). The cluster secret is no substitute: it only opens the internal endpoints,
/// and user credentials never open those.
#[derive(Default)]
pub struct Credentials {
    users: HashMap<String, String>,
}

impl Credentials {
    /// Parses `user:password` lines (blank lines and `#` comments skipped).
    pub fn parse(text: &str) -> Result<Self, MsqError> {
        let mut users = HashMap::new();
        for (n, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (u, p) = line
                .split_once(':')
                .ok_or_else(|| MsqError::Validation(format!("auth line {} is not user:password", n + 1)))?;
            users.insert(u.to_string(), p.to_string());
        }
        if users.is_empty() {
            return Err(MsqError::Validation("the auth file names no users".into()));
        }
        Ok(Credentials { users })
    }

    /// Whether an `Authorization` header value names a user with the right password.
    pub fn allows(&self, header: Option<&str>) -> bool {
        use base64::Engine as _;
        let Some((scheme, b64)) = header.and_then(msq_rows::rpc::split_credentials) else {
            return false;
        };
        if !scheme.eq_ignore_ascii_case("basic") {
            return false;
        }
        let Ok(raw) = base64::engine::general_purpose::STANDARD.decode(b64) else {
            return false;
        };
        let Ok(text) = String::from_utf8(raw) else {
            return false;
        };
        match text.split_once(':') {
            Some((u, p)) => self
                .users
                .get(u)
                .is_some_and(|want| msq_rows::rpc::constant_time_eq(want.as_bytes(), p.as_bytes())),
            None => false,
        }
    }
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({} users)", self.users.len())
    }
}

/// Paths of the internal endpoints (controller ↔ worker), which authenticate with the cluster
/// secret instead of user credentials. The layer covers the public routes and the fallback;
/// an unknown path under this prefix gets its 404 without user credentials, as the internal
/// routes do.
const INTERNAL_PREFIX: &str = "/druid/msq/v1/";

/// Middleware: a request without the credentials of a known user gets 401 with a basic-auth
/// challenge.
pub async fn require_user(
    State(auth): State<Arc<Credentials>>,
    req: Request,
    next: Next,
) -> Result<Response, ApiError> {
    if !req.uri().path().starts_with(INTERNAL_PREFIX) {
        let header = req.headers().get("Authorization").and_then(|v| v.to_str().ok());
        if !auth.allows(header) {
            return Err(ApiError::unauthorized());
        }
    }
    Ok(next.run(req).await)
}
