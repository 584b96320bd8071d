//! imds's own routes on the API port, beside the EC2 Query API: `POST`/`DELETE
//! /_imds/netns/NAME` (`imds exec` asks the server to serve, or stop serving, inside a
//! metadata namespace it built), `GET /_imds/instances/{id}/endpoint` (the instance's own
//! metadata endpoint on loopback, opened on first request: `imds endpoint`, `imds exec
//! --rootless`), `GET /_imds/instances/{id}/address` and `…/callers` (the instance's address;
//! the processes that called it inside `imds exec`), the event controls under
//! `/_imds/instances/{id}/` (below) and `GET /metrics` (Prometheus text of the metadata
//! service's counters, read by the console and `imds stats`).
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
//!
//! An instance's endpoint is what DescribeInstances tells about that instance, so with
//! `--iam-config` it needs a signed caller of the instance's account allowed
//! `ec2:DescribeInstances` on `arn:aws:ec2:REGION:ACCOUNT:instance/ID` (with the instance's
//! condition keys); an instance of another account is `InvalidInstanceID.NotFound`, as EC2
//! answers for it.
//!
//! # Event controls
//!
//! EC2 schedules maintenance, interrupts Spot instances and sets Auto Scaling's target
//! lifecycle state itself; nothing in its API does. imds lets its user do so (module
//! `events`): `POST /_imds/instances/{id}/events` schedules a maintenance event, `DELETE
//! …/events/{event_id}` cancels one, `PUT …/target-lifecycle-state` sets or clears the
//! state, `POST …/interruption` starts a Spot interruption (`imds events` calls them). They
//! answer JSON, and EC2's error envelope when they refuse. With `--iam-config` each needs a
//! signed caller of the instance's account allowed [`AdminAction::ScheduleInstanceEvent`],
//! [`AdminAction::CancelInstanceEvent`], [`AdminAction::SetTargetLifecycleState`] or
//! [`AdminAction::SendSpotInstanceInterruption`] on `arn:aws:ec2:REGION:ACCOUNT:instance/ID`
//! (with the instance's condition keys), decided inside the write on the instance as it reads
//! it; another account's instance is `InvalidInstanceID.NotFound`.

use axum::body::Body;
use axum::extract::{Path, Query, Request, State};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ec2api::error::AwsError;
use ec2api::Api;
use model::Ec2Error;
use std::sync::Arc;
use tokio::sync::watch;

pub mod events;

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
    /// `imds:ScheduleInstanceEvent`: `POST /_imds/instances/{id}/events`, on the instance.
    ScheduleInstanceEvent,
    /// `imds:CancelInstanceEvent`: `DELETE /_imds/instances/{id}/events/{event_id}`, on the
    /// instance.
    CancelInstanceEvent,
    /// `imds:SetTargetLifecycleState`: `PUT /_imds/instances/{id}/target-lifecycle-state`, on
    /// the instance.
    SetTargetLifecycleState,
    /// `imds:SendSpotInstanceInterruption`: `POST /_imds/instances/{id}/interruption`, on the
    /// instance.
    SendSpotInstanceInterruption,
}

impl AdminAction {
    /// The action as a policy names it.
    pub fn name(self) -> &'static str {
        match self {
            AdminAction::AttachNetworkNamespace => "imds:AttachNetworkNamespace",
            AdminAction::DetachNetworkNamespace => "imds:DetachNetworkNamespace",
            AdminAction::GetMetrics => "imds:GetMetrics",
            AdminAction::ScheduleInstanceEvent => "imds:ScheduleInstanceEvent",
            AdminAction::CancelInstanceEvent => "imds:CancelInstanceEvent",
            AdminAction::SetTargetLifecycleState => "imds:SetTargetLifecycleState",
            AdminAction::SendSpotInstanceInterruption => "imds:SendSpotInstanceInterruption",
        }
    }

    /// The action a request to a route behind [`guard`] performs (on `*`). The event controls
    /// are not among them: they are decided on their instance (module `events`).
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
    pub endpoints: Arc<metadata::endpoints::Endpoints>,
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
        .merge(metrics_router(admin.host.clone()))
        .route_layer(axum::middleware::from_fn_with_state(gate, guard))
        .merge(events::router(admin.api.clone()))
        .merge(endpoint_router(EndpointRoute {
            api: admin.api,
            host: admin.host,
            endpoints: admin.endpoints,
        }))
}

/// What decides whether an admin request may go on.
struct Gate {
    api: Arc<Api>,
    /// `/metrics` needs no credentials (the API is on loopback).
    metrics_open: bool,
}

/// The largest body an admin request may carry (the event controls' JSON; the others carry
/// none): the signature covers it, so it is read whole before anything else.
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
    let request_id = uuid::Uuid::new_v4().to_string();
    let (parts, body) = match read(request).await {
        Ok(read) => read,
        Err(e) => return ec2api::server::error_response(&e, &request_id),
    };
    if let Err(e) = authorize(&gate.api, action, &parts, &body, source_ip(&parts)) {
        tracing::debug!(action = action.name(), error = %e, "admin request refused");
        return ec2api::server::error_response(&e, &request_id);
    }
    next.run(Request::from_parts(parts, Body::from(body))).await
}

/// The request's parts and its body (at most [`MAX_ADMIN_BODY`]; more is EC2's
/// `RequestEntityTooLarge`), for a signature to be verified over.
async fn read(request: Request) -> Result<(axum::http::request::Parts, bytes::Bytes), Ec2Error> {
    let (parts, body) = request.into_parts();
    match axum::body::to_bytes(body, MAX_ADMIN_BODY).await {
        Ok(b) => Ok((parts, b)),
        Err(_) => Err(Ec2Error::RequestEntityTooLarge(MAX_ADMIN_BODY)),
    }
}

/// The caller's address, as the API's own handlers see it (`aws:SourceIp`).
fn source_ip(parts: &axum::http::request::Parts) -> Option<std::net::IpAddr> {
    parts
        .extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip())
}

/// Authenticate the request as an EC2 call (SigV4 for `ec2`, verified as an EC2 call is).
fn authenticate(
    api: &Api,
    parts: &axum::http::request::Parts,
    body: &[u8],
) -> Result<ec2api::auth::Caller, Ec2Error> {
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
    ec2api::auth::authenticate_for(&api.principals, &signed, now, ec2api::Service::Ec2)
}

/// Authenticate the request and decide `action` on `*` with the caller's policies, as
/// `ec2api::authz` decides an EC2 action.
fn authorize(
    api: &Api,
    action: AdminAction,
    parts: &axum::http::request::Parts,
    body: &[u8],
    source_ip: Option<std::net::IpAddr>,
) -> Result<(), Ec2Error> {
    let caller = authenticate(api, parts, body)?;
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

/// What the endpoint route needs.
struct EndpointRoute {
    api: Arc<Api>,
    host: Arc<metadata::Host>,
    endpoints: Arc<metadata::endpoints::Endpoints>,
}

/// `?port=N` chooses the port of a new endpoint; `?ipv6=true` asks for its `[::1]` URL.
#[derive(Debug, serde::Deserialize)]
struct EndpointQuery {
    port: Option<u16>,
    #[serde(default)]
    ipv6: bool,
}

/// `GET /_imds/instances/{instance-id}/endpoint`: `200 text/plain` with the URL of the
/// instance's own metadata endpoint, opened now if it is not yet.
///
/// `GET /_imds/instances/{instance-id}/address`: `200 text/plain` with the instance's private
/// IPv4 address, as this node serves it: what `imds exec --instance` needs, from any node
/// (a metadata host has no DescribeInstances).
fn endpoint_router(route: EndpointRoute) -> axum::Router {
    let route = Arc::new(route);
    let for_address = route.clone();
    let for_callers = route.clone();
    axum::Router::new()
        .route(
            "/_imds/instances/{id}/endpoint",
            get(
                move |Path(id): Path<String>, Query(q): Query<EndpointQuery>, request: Request| {
                    let route = route.clone();
                    async move { instance_endpoint(&route, &id, q, request).await }
                },
            ),
        )
        .route(
            "/_imds/instances/{id}/address",
            get(move |Path(id): Path<String>, request: Request| {
                let route = for_address.clone();
                async move { instance_address(&route, &id, request).await }
            }),
        )
        .route(
            "/_imds/instances/{id}/callers",
            get(move |Path(id): Path<String>, request: Request| {
                let route = for_callers.clone();
                async move { instance_callers(&route, &id, request).await }
            }),
        )
}

/// `GET /_imds/instances/{id}/callers`: the instance's calls made inside `imds exec`, each
/// with the process that made it (`metadata::callers`), and their counts by command and kind,
/// as JSON (what `imds report v1-callers` reads). Authorized as the endpoint route.
async fn instance_callers(route: &EndpointRoute, id: &str, request: Request) -> Response {
    if let Err(answer) = may_describe(route, id, request).await {
        return answer;
    }
    let Some(served) = route.host.served(id) else {
        return not_found(id);
    };
    let counters = route.host.counters_of(&served);
    let counts: Vec<serde_json::Value> = counters
        .calls
        .counts()
        .into_iter()
        .map(|(command, kind, count)| {
            serde_json::json!({"Command": command, "Kind": kind, "Count": count})
        })
        .collect();
    let body = serde_json::json!({
        "InstanceId": id,
        "Calls": counters.calls.calls(),
        "Counts": counts,
    });
    (
        StatusCode::OK,
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// A plain-text answer of the instance routes.
fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            axum::http::header::CONTENT_TYPE,
            "text/plain; charset=utf-8",
        )],
        body,
    )
        .into_response()
}

/// EC2's code and wording in plain text.
fn plain(status: StatusCode, e: Ec2Error) -> Response {
    text(status, format!("{}: {e}", e.code()))
}

fn refused(e: Ec2Error) -> Response {
    let status = StatusCode::from_u16(e.status()).unwrap_or(StatusCode::BAD_REQUEST);
    plain(status, e)
}

/// An unknown instance is a 404 on these routes.
fn not_found(id: &str) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        Ec2Error::InvalidInstanceIdNotFound(vec![id.to_string()]),
    )
}

/// Whether the caller may learn about instance `id` (what DescribeInstances would tell
/// it): a well-formed id and, under `--iam-config`, a signed request of the instance's
/// account allowed `ec2:DescribeInstances` on it. `Err`: the answer to give instead.
async fn may_describe(route: &EndpointRoute, id: &str, request: Request) -> Result<(), Response> {
    let request_id = uuid::Uuid::new_v4().to_string();
    if !model::ids::is_well_formed(id, "i") {
        return Err(refused(Ec2Error::InvalidInstanceIdMalformed(
            id.to_string(),
        )));
    }
    if route.api.iam_enforced() {
        let (parts, body) = read(request)
            .await
            .map_err(|e| ec2api::server::error_response(&e, &request_id))?;
        let caller = authenticate(&route.api, &parts, &body)
            .map_err(|e| ec2api::server::error_response(&e, &request_id))?;
        let instance = match route.api.store.instance_by_id(id).await {
            Ok(Some(i)) if i.scope.account == caller.account => i,
            Ok(_) => return Err(not_found(id)),
            Err(e) => {
                return Err(ec2api::server::error_response(
                    &Ec2Error::from(e),
                    &request_id,
                ))
            }
        };
        ec2api::authz::authorize_on_instance(
            &route.api.principals,
            "ec2:DescribeInstances",
            &caller,
            source_ip(&parts),
            &instance,
        )
        .map_err(|e| ec2api::server::error_response(&e, &request_id))?;
    }
    Ok(())
}

async fn instance_address(route: &EndpointRoute, id: &str, request: Request) -> Response {
    if let Err(answer) = may_describe(route, id, request).await {
        return answer;
    }
    match route.host.served(id) {
        Some(s) => text(StatusCode::OK, s.private_ip.to_string()),
        None => not_found(id),
    }
}

async fn instance_endpoint(
    route: &EndpointRoute,
    id: &str,
    q: EndpointQuery,
    request: Request,
) -> Response {
    use metadata::endpoints::EndpointError;
    if let Err(answer) = may_describe(route, id, request).await {
        return answer;
    }
    let not_found = || not_found(id);
    match route.endpoints.open(id, q.port) {
        Ok(endpoint) => match endpoint.url(q.ipv6) {
            Some(url) => text(StatusCode::OK, url),
            None => text(
                StatusCode::CONFLICT,
                EndpointError::NoIpv6(id.to_string()).to_string(),
            ),
        },
        Err(EndpointError::UnknownInstance(_)) => not_found(),
        Err(EndpointError::Terminated(_)) => refused(Ec2Error::IncorrectInstanceState(format!(
            "The instance '{id}' is not in a valid state for this operation."
        ))),
        Err(e) => text(StatusCode::CONFLICT, e.to_string()),
    }
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
