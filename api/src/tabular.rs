//! Tabular responses: the same rows as JSON (array of objects), CSV, Arrow IPC or Parquet, chosen by `Accept`.

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use cobro_analytics::arrow::datatypes::SchemaRef;
use cobro_analytics::arrow::record_batch::RecordBatch;
use cobro_app::output::{self, Format};

use crate::problem::ApiError;

/// The format `Accept` asks for: JSON when it says nothing or accepts anything.
pub fn negotiate(headers: &HeaderMap) -> Result<Format, ApiError> {
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok()).unwrap_or("*/*");
    for part in accept.split(',') {
        let media = part.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
        let f = match media.as_str() {
            "application/json" | "*/*" | "application/*" => Format::Json,
            "text/csv" | "text/*" => Format::Csv,
            "application/vnd.apache.arrow.stream" => Format::Arrow,
            "application/vnd.apache.parquet" | "application/x-parquet" => Format::Parquet,
            _ => continue,
        };
        return Ok(f);
    }
    Err(ApiError::new(
        StatusCode::NOT_ACCEPTABLE,
        "not_acceptable",
        format!(
            "cannot answer `{accept}`; ask for application/json, text/csv, application/vnd.apache.arrow.stream or application/vnd.apache.parquet"
        ),
    ))
}

/// Rows in a format, as bytes.
pub fn encode(batches: &[RecordBatch], schema: SchemaRef, format: Format) -> Result<Vec<u8>, ApiError> {
    output::encode(batches, schema, format).map_err(|e| ApiError::internal(&e))
}

/// An encoded body with its media type.
pub fn body_response(body: impl Into<axum::body::Body>, format: Format) -> Response {
    let mut r = (StatusCode::OK, body.into()).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(format.media_type()));
    r
}

/// Encodes rows in the negotiated format.
pub fn respond(batches: &[RecordBatch], schema: SchemaRef, format: Format) -> Result<Response, ApiError> {
    Ok(body_response(encode(batches, schema, format)?, format))
}
