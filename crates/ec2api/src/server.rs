//! The front door of the API: one handler for `GET /` and `POST /`, whatever the API. It
//! reads the body (1 MiB at most), gives the request its id, gathers the Query parameters
//! (the URL's, then a POST's form body), tells the API apart by `Version` ([`Service`]),
//! authenticates the caller for that service, and hands the call to the dialect's `handle`
//! (`ec2`, `iam_api`, `sts`, `cloudwatch`); a CloudWatch call in AWS JSON 1.0 (its
//! `X-Amz-Target`) is read from its JSON body instead of Query parameters, and a FIS call
//! (rest-json, on its own paths: `/experimentTemplates`, `/experiments`, `/actions`) from its
//! method, path, query and JSON body. Every answer, an error included, is a
//! [`Reply`] in the dialect's envelope; what fails before the service is known is EC2's.
//!
//! Every answer carries `Server-Timing: app;dur=<ms>` (W3C Server Timing): the time from the
//! request's head being received to its answer's body being ready (the body is built whole
//! before it is sent, so this is the server's whole part of the request, without the time on
//! the wire). Clients ignore headers they do not know (botocore and the aws CLI do); `imds
//! bench fleet` reads it to time pages on the server's side.

use crate::auth::{self, Caller};
use crate::context::{Api, Call};
use crate::error::AwsError;
use crate::iam_api::IamApiError;
use crate::protocol::query::Params;
use crate::reply::Reply;
use crate::service::Service;
use crate::sts::StsError;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use model::Ec2Error;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Largest request body accepted (EC2's own limit is not published; RunInstances user data,
/// the largest member, is at most 16 KiB before base64).
pub const MAX_BODY: usize = 1 << 20;

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", any(handle))
        // AWS Fault Injection Service's rest-json paths (`crate::fis`).
        .route("/experimentTemplates", any(handle))
        .route("/experimentTemplates/{id}", any(handle))
        .route("/experiments", any(handle))
        .route("/experiments/{id}", any(handle))
        .route("/actions", any(handle))
        .route("/actions/{id}", any(handle))
        .layer(DefaultBodyLimit::disable())
        .with_state(api)
}

async fn handle(
    State(api): State<Arc<Api>>,
    extensions: axum::http::Extensions,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The handler is called once the head has been read.
    let received = Instant::now();
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut response = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(body) => answer_body(
            &api,
            &extensions,
            &method,
            &uri,
            &headers,
            &body,
            &request_id,
        )
        .await
        .into_response(),
        Err(_) if crate::fis::serves(uri.path()) => {
            crate::fis::refused(Ec2Error::RequestEntityTooLarge(MAX_BODY), &request_id)
                .into_response()
        }
        Err(_) => error_response(&Ec2Error::RequestEntityTooLarge(MAX_BODY), &request_id),
    };
    response
        .headers_mut()
        .insert(SERVER_TIMING, server_timing(received.elapsed()));
    response
}

/// The `Server-Timing` header's name (W3C Server Timing; not among `http`'s constants).
const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");

/// `app;dur=<ms>`: the server's time on a request, in milliseconds with microseconds.
fn server_timing(spent: Duration) -> HeaderValue {
    let ms = spent.as_secs_f64() * 1e3;
    HeaderValue::from_str(&format!("app;dur={ms:.3}")).unwrap_or(HeaderValue::from_static("app"))
}

/// The answer to a request whose body has been read.
async fn answer_body(
    api: &Api,
    extensions: &axum::http::Extensions,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    request_id: &str,
) -> Reply {
    let source_ip = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let request = Request {
        method,
        uri,
        headers,
        body,
        request_id,
        source_ip,
    };
    answer(api, &request).await
}

/// An EC2 error as an HTTP answer (for routes outside the API that answer as EC2 does).
pub fn error_response(e: &Ec2Error, request_id: &str) -> Response {
    e.render(request_id).into_response()
}

/// One HTTP request, as the API reads it.
pub struct Request<'a> {
    pub method: &'a Method,
    pub uri: &'a Uri,
    pub headers: &'a HeaderMap,
    pub body: &'a Bytes,
    pub request_id: &'a str,
    pub source_ip: Option<std::net::IpAddr>,
}

/// A request's Query parameters.
struct Parameters {
    /// The URL's (which a presigned request's signature is among).
    url: Params,
    /// The URL's, then a POST's form body's: what the action reads.
    all: Params,
}

async fn answer(api: &Api, req: &Request<'_>) -> Reply {
    if crate::fis::serves(req.uri.path()) {
        return answer_fis(api, req).await;
    }
    if let Some(operation) = json_target(req) {
        return answer_json(api, req, operation).await;
    }
    let params = match parameters(req) {
        Ok(p) => p,
        Err(e) => return e.render(req.request_id),
    };
    let service = Service::of(&params.all);
    let caller = match authenticate(api, req, &params.url, service) {
        Ok(c) => c,
        Err(e) => return refused(service, e, req.request_id),
    };
    let call = Call {
        api,
        params: &params.all,
        caller: &caller,
        request_id: req.request_id,
        source_ip: req.source_ip,
    };
    match service {
        Service::Ec2 => crate::ec2::handle(&call).await,
        Service::Iam => crate::iam_api::handle(&call).await,
        Service::Sts => crate::sts::handle(&call).await,
        Service::CloudWatch => crate::cloudwatch::handle_query(&call).await,
        Service::Fis => fis(&call, req).await,
    }
}

/// A FIS call (rest-json, by path): authenticated for `fis` over its method, path, raw
/// query, headers and body, answered in JSON.
async fn answer_fis(api: &Api, req: &Request<'_>) -> Reply {
    let query = match Params::parse(req.uri.query().unwrap_or("").as_bytes()) {
        Ok(q) => q,
        Err(e) => return crate::fis::refused(e, req.request_id),
    };
    let caller = match authenticate(api, req, &query, Service::Fis) {
        Ok(c) => c,
        Err(e) => return crate::fis::refused(e, req.request_id),
    };
    let call = Call {
        api,
        params: &query,
        caller: &caller,
        request_id: req.request_id,
        source_ip: req.source_ip,
    };
    fis(&call, req).await
}

async fn fis(call: &Call<'_>, req: &Request<'_>) -> Reply {
    let (method, path) = (req.method.as_str(), req.uri.path());
    crate::fis::handle(call, method, path, req.uri.query().unwrap_or(""), req.body).await
}

/// The CloudWatch operation an AWS JSON 1.0 request names (`X-Amz-Target:
/// GraniteServiceVersion20100801.<Operation>`, a `POST`): how current SDKs call CloudWatch.
fn json_target<'r>(req: &'r Request<'_>) -> Option<&'r str> {
    if req.method != Method::POST {
        return None;
    }
    let target = req.headers.get("x-amz-target")?.to_str().ok()?;
    crate::cloudwatch::json_operation(target)
}

/// A CloudWatch call in AWS JSON 1.0: authenticated over its JSON body (no Query parameters),
/// answered in JSON.
async fn answer_json(api: &Api, req: &Request<'_>, operation: &str) -> Reply {
    let no_params = Params::default();
    let caller = match authenticate(api, req, &no_params, Service::CloudWatch) {
        Ok(c) => c,
        Err(e) => {
            return crate::cloudwatch::refused(e, crate::cloudwatch::Wire::Json, req.request_id)
        }
    };
    let call = Call {
        api,
        params: &no_params,
        caller: &caller,
        request_id: req.request_id,
        source_ip: req.source_ip,
    };
    crate::cloudwatch::handle_json(&call, operation, req.body).await
}

/// The Query parameters of a `GET` or `POST` (any other method is `InvalidAction`), decoded
/// strictly (see [`Params::parse`]).
fn parameters(req: &Request<'_>) -> Result<Parameters, Ec2Error> {
    if req.method != Method::GET && req.method != Method::POST {
        return Err(Ec2Error::InvalidAction(req.method.to_string()));
    }
    let url = Params::parse(req.uri.query().unwrap_or("").as_bytes())?;
    let mut all = url.clone();
    if req.method == Method::POST {
        all.extend(Params::parse(req.body)?);
    }
    Ok(Parameters { url, all })
}

/// The caller, by the request's signature as `service` takes it (see [`auth`]).
fn authenticate(
    api: &Api,
    req: &Request<'_>,
    url_params: &Params,
    service: Service,
) -> Result<Caller, Ec2Error> {
    let header_pairs = auth::header_pairs(req.headers);
    let signed = auth::SignedParts {
        method: req.method.as_str(),
        path: req.uri.path(),
        raw_query: req.uri.query().unwrap_or(""),
        headers: &header_pairs,
        query: url_params.pairs(),
        body: req.body,
    };
    auth::authenticate_for(
        &api.principals,
        &signed,
        time::OffsetDateTime::now_utc(),
        service,
    )
}

/// A failed authentication, in the envelope (and with the codes) of the service it was for.
fn refused(service: Service, e: Ec2Error, request_id: &str) -> Reply {
    match service {
        Service::Ec2 => e.render(request_id),
        Service::Iam => IamApiError::Refused(e).render(request_id),
        Service::Sts => StsError::Refused(e).render(request_id),
        Service::CloudWatch => {
            crate::cloudwatch::refused(e, crate::cloudwatch::Wire::Query, request_id)
        }
        Service::Fis => crate::fis::refused(e, request_id),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn server_timing_is_the_app_metric_with_its_duration_in_milliseconds() {
        let v = server_timing(Duration::from_micros(12_345));
        assert_eq!(v.to_str().unwrap(), "app;dur=12.345");
        let dur: f64 = v
            .to_str()
            .unwrap()
            .strip_prefix("app;dur=")
            .unwrap()
            .parse()
            .unwrap();
        assert!((dur - 12.345).abs() < 1e-9);
    }
}
