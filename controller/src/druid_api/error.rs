//! Errors of Druid's API as one type: every handler and the auth layer return [`ApiError`],
//! which becomes Druid's error body `{"error", "errorMessage", "errorClass", "host"}`.

use axum::extract::rejection::JsonRejection;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use msq_engine::MsqError;
use serde_json::json;
use std::sync::Arc;

/// Druid's exception class for errors that are not a statement's.
const DRUID_EXCEPTION: &str = "org.apache.druid.error.DruidException";
/// Druid's exception class for request bodies that are not the JSON asked for.
const JSON_MAPPING_EXCEPTION: &str = "com.fasterxml.jackson.databind.JsonMappingException";

/// An error answer of the public API: its status, Druid's `error` title, message and
/// exception class. The server's host is added when it is rendered (by [`render`], a layer
/// over every route), so handlers can use `?` on anything that converts, e.g. [`MsqError`].
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    error: &'static str,
    message: String,
    class: &'static str,
    /// `WWW-Authenticate` challenge of a 401.
    challenge: Option<&'static str>,
}

impl ApiError {
    /// An error with Druid's `error` title `error` and exception class `class`.
    pub fn new(status: StatusCode, error: &'static str, message: impl Into<String>, class: &'static str) -> Self {
        ApiError {
            status,
            error,
            message: message.into(),
            class,
            challenge: None,
        }
    }

    /// 404: no such task (or report, or active task).
    pub fn not_found(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::NOT_FOUND, "Not found", message, DRUID_EXCEPTION)
    }

    /// 400: a request parameter Druid would refuse.
    pub fn invalid_input(message: impl Into<String>) -> Self {
        ApiError::new(StatusCode::BAD_REQUEST, "Invalid input", message, DRUID_EXCEPTION)
    }

    /// 400: something msq-rs does not do.
    pub fn unsupported(message: impl Into<String>) -> Self {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Unsupported operation",
            message,
            DRUID_EXCEPTION,
        )
    }

    /// 401 with a basic-auth challenge.
    pub fn unauthorized() -> Self {
        ApiError {
            challenge: Some("Basic realm=\"msq\""),
            ..ApiError::new(
                StatusCode::UNAUTHORIZED,
                "Unauthorized",
                "Authentication required: send HTTP basic credentials",
                "org.apache.druid.server.security.ForbiddenException",
            )
        }
    }

    /// A JSON body that could not be read, with the rejection's own status.
    pub fn malformed(rej: &JsonRejection) -> Self {
        ApiError::new(
            rej.status(),
            "Malformed request",
            rej.body_text(),
            JSON_MAPPING_EXCEPTION,
        )
    }

    /// A request body that is not the JSON asked for (`status` 400), or is too large (413),
    /// or of a content type the endpoint does not take (415).
    pub fn unreadable_body(status: StatusCode, message: impl Into<String>) -> Self {
        let error = match status {
            StatusCode::PAYLOAD_TOO_LARGE => "Request too large",
            _ => "Malformed request",
        };
        ApiError::new(status, error, message, JSON_MAPPING_EXCEPTION)
    }

    /// The body of a SQL task that could not be read: 415 without a JSON content type, 413
    /// past the body limit, 400 otherwise.
    pub fn sql_body(rej: &JsonRejection) -> Self {
        let status = match rej {
            JsonRejection::MissingJsonContentType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            JsonRejection::BytesRejection(_) if rej.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            _ => StatusCode::BAD_REQUEST,
        };
        let error = if status == StatusCode::PAYLOAD_TOO_LARGE {
            "Request too large"
        } else {
            "Malformed request"
        };
        ApiError::new(status, error, rej.body_text(), JSON_MAPPING_EXCEPTION)
    }

    /// The response with Druid's error body naming `host`.
    fn render(&self, host: &str) -> Response {
        let body = json!({"error": self.error, "errorMessage": self.message, "errorClass": self.class, "host": host});
        let mut r = (self.status, Json(body)).into_response();
        if let Some(c) = self.challenge {
            r.headers_mut().insert("WWW-Authenticate", HeaderValue::from_static(c));
        }
        r
    }
}

/// A statement's or the server's error: 400 for the user's mistakes (with Druid's titles for
/// parse, validation and unsupported statements), 500 for the rest.
impl From<MsqError> for ApiError {
    fn from(e: MsqError) -> Self {
        let (status, error) = match &e {
            MsqError::SqlParse(_) => (StatusCode::BAD_REQUEST, "SQL parse failed"),
            MsqError::Validation(_) => (StatusCode::BAD_REQUEST, "Plan validation failed"),
            MsqError::QueryNotSupported(_) => (StatusCode::BAD_REQUEST, "Unsupported operation"),
            e if e.is_user_error() => (StatusCode::BAD_REQUEST, "Invalid input"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "Unknown exception"),
        };
        ApiError::new(status, error, e.to_string(), e.error_class())
    }
}

/// Carries the error to [`render`] in the response's extensions (the body is written there,
/// where the host is known).
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = self.status.into_response();
        r.extensions_mut().insert(self);
        r
    }
}

/// Middleware (outermost) writing each [`ApiError`] as Druid's error body naming `host`.
pub async fn render(State(host): State<Arc<str>>, req: Request, next: Next) -> Response {
    let mut resp = next.run(req).await;
    match resp.extensions_mut().remove::<ApiError>() {
        Some(e) => e.render(&host),
        None => resp,
    }
}
