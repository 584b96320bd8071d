//! An answer ready for HTTP: status, content type and body, whichever dialect wrote it.

use axum::body::Body;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};

/// EC2's content type, for answers and errors alike.
pub const EC2_XML: &str = "text/xml;charset=UTF-8";

/// The plain Query protocol's (IAM, STS, CloudWatch's Query form).
pub const QUERY_XML: &str = "text/xml";

/// AWS JSON 1.0's (CloudWatch as current SDKs call it).
pub const AMZ_JSON_1_0: &str = "application/x-amz-json-1.0";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub body: String,
    /// Headers beyond the content type (AWS JSON's `x-amzn-RequestId`, `x-amzn-query-error`).
    pub headers: Vec<(&'static str, String)>,
}

impl Reply {
    pub fn new(status: u16, content_type: &'static str, body: String) -> Reply {
        Reply {
            status,
            content_type,
            body,
            headers: Vec::new(),
        }
    }

    pub fn with_header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }

    /// A successful answer (200).
    pub fn ok(content_type: &'static str, body: String) -> Reply {
        Reply::new(200, content_type, body)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> Response {
        let mut response = (
            StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST),
            [(header::CONTENT_TYPE, self.content_type)],
            Body::from(self.body),
        )
            .into_response();
        for (name, value) in self.headers {
            if let Ok(v) = header::HeaderValue::from_str(&value) {
                response
                    .headers_mut()
                    .insert(header::HeaderName::from_static(name), v);
            }
        }
        response
    }
}
