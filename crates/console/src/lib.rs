//! The web console at `/console` on the API port.
//!
//! Plain HTML, CSS and ES modules embedded in the binary (no build step). The console has no
//! server side of its own: the browser signs EC2 Query requests with SigV4 and POSTs them to
//! `/`, so it goes through the same action handlers, authentication and IAM checks as the aws
//! CLI. This module only serves the files:
//!
//! - `assets`: the embedded files, [`ASSETS`], each with its content type.
//! - this module: [`router`], which serves them with their headers (`no-cache`, a
//!   same-origin CSP).

mod assets;

pub use assets::{Asset, ASSETS};

use axum::extract::Path;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

/// `GET /console`, `/console/` (the page) and `/console/{file}` (its assets).
pub fn router() -> Router {
    Router::new()
        .route("/console", get(|| async { serve("index.html") }))
        .route("/console/", get(|| async { serve("index.html") }))
        .route(
            "/console/{file}",
            get(|Path(file): Path<String>| async move { serve(&file) }),
        )
}

fn serve(name: &str) -> Response {
    let Some(asset) = assets::find(name) else {
        return (StatusCode::NOT_FOUND, "no such console file\n").into_response();
    };
    let mut resp = asset.body.into_response();
    let h = resp.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    // Always revalidate: the assets change with the binary, and they are small.
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
        ),
    );
    resp
}
