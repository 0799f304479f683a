//! Every error the API returns, as `application/problem+json` (RFC 9457) with a stable `code`, mapped to HTTP in
//! this one place. A 500 never carries internals: the client gets the request id, the log gets the cause.

use axum::extract::rejection::{JsonRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cobro_workflow::CaseError;
use serde::Serialize;

/// An error response.
#[derive(Debug, Clone)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable code (`forbidden`, `not_found`, `invalid_json`, `sql_forbidden`, ...).
    pub code: &'static str,
    /// What went wrong and what to do.
    pub detail: String,
}

/// The problem document.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Problem {
    /// `https://cobro.invalid/problems/<code>`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The status's reason phrase.
    pub title: String,
    /// HTTP status.
    pub status: u16,
    /// Stable code.
    pub code: String,
    /// What went wrong and what to do.
    pub detail: String,
}

impl ApiError {
    /// An error with a status, a code and a detail.
    pub fn new(status: StatusCode, code: &'static str, detail: impl Into<String>) -> Self {
        Self { status, code, detail: detail.into() }
    }

    /// The same error under a more precise code.
    #[must_use]
    pub fn with_code(mut self, code: &'static str) -> Self {
        self.code = code;
        self
    }

    /// 401: no token or an unknown one.
    pub fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthorized", detail)
    }

    /// 403: the role may not do this.
    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    /// 404.
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", detail)
    }

    /// 422: the request is well-formed but its values are not acceptable.
    pub fn invalid(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
    }

    /// 500, with the cause logged and not sent.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "internal error");
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "an internal error; the server log has the cause")
    }
}

impl ApiError {
    /// The problem document this error answers with.
    pub fn document(&self) -> Problem {
        Problem {
            kind: format!("https://cobro.invalid/problems/{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.to_owned(),
            detail: self.detail.clone(),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (self.status, axum::Json(self.document())).into_response();
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        r
    }
}

impl From<CaseError> for ApiError {
    fn from(e: CaseError) -> Self {
        let detail = e.to_string();
        match e {
            CaseError::Store { .. } => {
                tracing::error!(error = %detail, "operational store");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "store_unavailable",
                    "the operational store is unavailable; try again",
                )
            }
            CaseError::NotFound { .. } | CaseError::UnknownDocument { .. } | CaseError::UnknownCustomer { .. } => {
                Self::new(StatusCode::NOT_FOUND, "not_found", detail)
            }
            CaseError::Conflict { .. } => Self::new(StatusCode::CONFLICT, "conflict", detail),
            CaseError::Illegal { .. } | CaseError::Settled { .. } => {
                Self::new(StatusCode::CONFLICT, "illegal_transition", detail)
            }
            CaseError::WrongCustomer { .. } | CaseError::NotReceivable { .. } | CaseError::Invalid { .. } => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid", detail)
            }
        }
    }
}

impl From<JsonRejection> for ApiError {
    fn from(r: JsonRejection) -> Self {
        let code = match r {
            JsonRejection::JsonDataError(_) => "invalid_body",
            JsonRejection::JsonSyntaxError(_) => "invalid_json",
            JsonRejection::MissingJsonContentType(_) => "unsupported_media_type",
            _ => "invalid_json",
        };
        let status = match code {
            "unsupported_media_type" => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => r.status(),
        };
        Self::new(status, code, r.body_text())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(r: QueryRejection) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query", r.body_text())
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        if let Some(c) = e.downcast_ref::<CaseError>() {
            return c.clone().into();
        }
        let text = format!("{e:#}");
        // A missing snapshot is the caller's to fix: name it.
        if text.contains("no snapshot") || text.contains("no staged ledger") {
            return Self::not_found(text);
        }
        Self::internal(&text)
    }
}
