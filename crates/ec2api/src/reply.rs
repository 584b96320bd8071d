//! An answer ready for HTTP: status, content type and body, whichever dialect wrote it.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// EC2's content type, for answers and errors alike.
pub const EC2_XML: &str = "text/xml;charset=UTF-8";

/// The plain Query protocol's (IAM, STS).
pub const QUERY_XML: &str = "text/xml";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            content_type,
            body,
        }
    }

    /// A successful answer (200).
    pub fn ok(content_type: &'static str, body: String) -> Reply {
        Reply::new(200, content_type, body)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            [(header::CONTENT_TYPE, self.content_type)],
            Body::from(self.body),
        )
            .into_response()
    }
}
