//! imds's own routes on the API port, beside the EC2 Query API: `POST`/`DELETE
//! /_imds/netns/NAME` (`imds exec` asks the server to serve, or stop serving, inside a
//! metadata namespace it built) and `GET /metrics` (Prometheus text of the metadata service's
//! counters, read by the console and `imds stats`).
//!
//! # Admin routes and IAM
//!
//! Without `--iam-config` they are open, like the rest of the API. With it, attaching and
//! detaching a namespace need a SigV4-signed request (service `ec2`, verified exactly as an EC2
//! call is) from a principal whose policies allow [`AdminAction::AttachNetworkNamespace`] or
//! [`AdminAction::DetachNetworkNamespace`] on resource `*`. `/metrics` stays open when the API
//! listens on a loopback address (only local callers can reach it); on any other address it
//! needs a signed caller allowed [`AdminAction::GetMetrics`]. Refusals come in EC2's error
//! envelope with EC2's codes: `MissingParameter` 400 when unsigned, `AuthFailure` 401,
//! `SignatureDoesNotMatch` 403, `UnauthorizedOperation` 403.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ec2api::Api;
use model::Ec2Error;
use std::sync::Arc;
use tokio::sync::watch;

/// The actions a policy allows for the admin routes. These are imds's own, not AWS's: no AWS
/// service defines them, so only a policy written for imds (or a wildcard such as `*` or
/// `imds:*`) allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    /// `imds:AttachNetworkNamespace`: `POST /_imds/netns/NAME`.
    AttachNetworkNamespace,
    /// `imds:DetachNetworkNamespace`: `DELETE /_imds/netns/NAME`.
    DetachNetworkNamespace,
    /// `imds:GetMetrics`: `GET /metrics` when the API is not on loopback.
    GetMetrics,
}

impl AdminAction {
    /// The action as a policy names it.
    pub fn name(self) -> &'static str {
        match self {
            AdminAction::AttachNetworkNamespace => "imds:AttachNetworkNamespace",
            AdminAction::DetachNetworkNamespace => "imds:DetachNetworkNamespace",
            AdminAction::GetMetrics => "imds:GetMetrics",
        }
    }

    /// The action a request to an admin route performs.
    fn of(method: &Method, path: &str) -> Option<AdminAction> {
        match (method, path) {
            (&Method::GET, "/metrics") => Some(AdminAction::GetMetrics),
            (&Method::POST, p) if p.starts_with("/_imds/netns/") => {
                Some(AdminAction::AttachNetworkNamespace)
            }
            (&Method::DELETE, p) if p.starts_with("/_imds/netns/") => {
                Some(AdminAction::DetachNetworkNamespace)
            }
            _ => None,
        }
    }
}

/// What the admin routes need from `imds serve`.
pub struct Admin {
    pub api: Arc<Api>,
    pub host: Arc<metadata::Host>,
    pub attachments: Arc<metadata::netns::Attachments>,
    pub stop: watch::Receiver<bool>,
    /// Whether the API listens on a loopback address: `/metrics` then stays open.
    pub api_on_loopback: bool,
}

/// The admin routes, each behind [`guard`].
pub fn router(admin: Admin) -> axum::Router {
    let gate = Arc::new(Gate {
        api: admin.api.clone(),
        metrics_open: admin.api_on_loopback,
    });
    netns_router(admin.host.clone(), admin.attachments, admin.stop)
        .merge(metrics_router(admin.host))
        .route_layer(axum::middleware::from_fn_with_state(gate, guard))
}

/// What decides whether an admin request may go on.
struct Gate {
    api: Arc<Api>,
    /// `/metrics` needs no credentials (the API is on loopback).
    metrics_open: bool,
}

/// The largest body an admin request may carry (they carry none; the signature covers it).
const MAX_ADMIN_BODY: usize = 64 * 1024;

/// With `--iam-config`, let a request through only from a caller allowed its action.
async fn guard(State(gate): State<Arc<Gate>>, request: Request, next: Next) -> Response {
    let Some(action) = AdminAction::of(request.method(), request.uri().path()) else {
        return next.run(request).await;
    };
    let open = action == AdminAction::GetMetrics && gate.metrics_open;
    if !gate.api.iam_enforced() || open {
        return next.run(request).await;
    }
    let (parts, body) = request.into_parts();
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = match axum::body::to_bytes(body, MAX_ADMIN_BODY).await {
        Ok(b) => b,
        Err(_) => {
            let e = Ec2Error::RequestEntityTooLarge(MAX_ADMIN_BODY);
            return ec2api::server::error_response(&e, &request_id);
        }
    };
    let source_ip = parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    if let Err(e) = authorize(&gate.api, action, &parts, &body, source_ip) {
        tracing::debug!(action = action.name(), error = %e, "admin request refused");
        return ec2api::server::error_response(&e, &request_id);
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// Authenticate the request as an EC2 call and decide `action` on `*` with the caller's
/// policies, as `ec2api::authz` decides an EC2 action.
fn authorize(
    api: &Api,
    action: AdminAction,
    parts: &axum::http::request::Parts,
    body: &[u8],
    source_ip: Option<std::net::IpAddr>,
) -> Result<(), Ec2Error> {
    let raw_query = parts.uri.query().unwrap_or("");
    let query = ec2api::protocol::query::Params::parse(raw_query.as_bytes())?;
    let headers = ec2api::auth::header_pairs(&parts.headers);
    let signed = ec2api::auth::SignedParts {
        method: parts.method.as_str(),
        path: parts.uri.path(),
        raw_query,
        headers: &headers,
        query: query.pairs(),
        body,
    };
    let now = time::OffsetDateTime::now_utc();
    let caller = ec2api::auth::authenticate_for(&api.principals, &signed, now, "ec2")?;
    let context = ec2api::authz::global_context(&caller, source_ip);
    let checks = [("*".to_string(), context)];
    let decision = ec2api::authz::decide_for(&api.principals, &caller, action.name(), &checks);
    if decision.allowed() {
        return Ok(());
    }
    Err(Ec2Error::UnauthorizedOperation(format!(
        "You are not authorized to perform this operation. User: {} is not authorized to \
         perform: {} on resource: * {}.",
        caller.arn,
        action.name(),
        decision.reason()
    )))
}

/// `POST`/`DELETE /_imds/netns/NAME`. Only namespaces under /var/run/netns can be named.
fn netns_router(
    host: Arc<metadata::Host>,
    attachments: Arc<metadata::netns::Attachments>,
    stop: watch::Receiver<bool>,
) -> axum::Router {
    let valid = |name: &str| {
        !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    let (h, a1, a2) = (host, attachments.clone(), attachments);
    axum::Router::new().route(
        "/_imds/netns/{name}",
        post(
            move |Path(name): Path<String>, Query(q): Query<AttachQuery>| {
                let (h, a, stop) = (h.clone(), a1.clone(), stop.clone());
                async move {
                    if !valid(&name) || !q.instance_ns.as_deref().is_none_or(valid) {
                        return (StatusCode::BAD_REQUEST, "bad namespace name".to_string());
                    }
                    let side = match (q.instance, q.instance_ns, q.via, q.src) {
                        (Some(instance_id), Some(netns), Some(via), Some(src)) => {
                            Some(metadata::netns::InstanceSide {
                                instance_id,
                                netns,
                                via,
                                src,
                            })
                        }
                        _ => None,
                    };
                    match a.attach(h, &name, side, stop).await {
                        Ok(()) => (StatusCode::OK, format!("serving in {name}\n")),
                        Err(e) => (StatusCode::BAD_REQUEST, e.to_string()),
                    }
                }
            },
        )
        .delete(move |Path(name): Path<String>| {
            let a = a2.clone();
            async move {
                if a.detach(&name) {
                    (StatusCode::OK, format!("stopped serving in {name}\n"))
                } else {
                    (StatusCode::NOT_FOUND, format!("not serving in {name}\n"))
                }
            }
        }),
    )
}

/// What `imds exec` tells the server about the instance side of an attachment.
#[derive(Debug, serde::Deserialize)]
struct AttachQuery {
    instance: Option<String>,
    instance_ns: Option<String>,
    via: Option<std::net::Ipv6Addr>,
    src: Option<std::net::Ipv6Addr>,
}

/// `GET /metrics`: Prometheus text of the metadata service's counters.
fn metrics_router(host: Arc<metadata::Host>) -> axum::Router {
    axum::Router::new().route(
        "/metrics",
        get(move || {
            let host = host.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    crate::metrics::render(&host),
                )
                    .into_response()
            }
        }),
    )
}
