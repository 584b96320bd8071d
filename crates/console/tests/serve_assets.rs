//! The console's files are served from the binary with their content types and cache headers.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use tower::ServiceExt;

async fn get(path: &str) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
    let resp = imds_console::router()
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

#[tokio::test]
async fn console_page_is_served_at_console_and_console_slash() {
    for path in ["/console", "/console/"] {
        let (status, headers, body) = get(path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(headers["content-type"], "text/html; charset=utf-8");
        assert_eq!(headers["cache-control"], "no-cache");
        assert_eq!(headers["x-content-type-options"], "nosniff");
        let html = String::from_utf8(body).unwrap();
        assert!(html.contains(r#"<script type="module" src="/console/app.js">"#));
        assert!(html.contains("Modify instance metadata options"));
    }
}

#[tokio::test]
async fn every_asset_is_served_with_its_type() {
    for a in imds_console::ASSETS {
        let (status, headers, body) = get(&format!("/console/{}", a.name)).await;
        assert_eq!(status, StatusCode::OK, "{}", a.name);
        assert_eq!(headers["content-type"], a.content_type, "{}", a.name);
        assert_eq!(body, a.body, "{}", a.name);
    }
    let (_, h, _) = get("/console/app.js").await;
    assert_eq!(h["content-type"], "text/javascript; charset=utf-8");
}

#[tokio::test]
async fn the_pages_modules_are_all_embedded() {
    // Every `./x.js` an embedded module imports is itself embedded: no 404 in the browser.
    for a in imds_console::ASSETS
        .iter()
        .filter(|a| a.name.ends_with(".js"))
    {
        let text = std::str::from_utf8(a.body).unwrap();
        for part in text.split("from \"./").skip(1) {
            let name = &part[..part.find('"').unwrap()];
            let (status, _, _) = get(&format!("/console/{name}")).await;
            assert_eq!(status, StatusCode::OK, "{} imports {name}", a.name);
        }
    }
}

#[tokio::test]
async fn unknown_files_are_404() {
    for path in ["/console/nope.js", "/console/..%2FCargo.toml"] {
        let (status, _, _) = get(path).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "{path}");
    }
}
