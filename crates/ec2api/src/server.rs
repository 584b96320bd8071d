//! HTTP: one handler for `GET /` and `POST /` that turns a request into an action and its
//! answer into XML, whatever goes wrong in between.

use crate::actions::{self, Action};
use crate::auth::{self, Caller};
use crate::context::{Api, Ctx};
use crate::error::code_and_status;
use crate::protocol::query::{self, Params};
use crate::protocol::xml;
use crate::service::Service;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use model::{Ec2Error, Scope};
use std::sync::Arc;
use std::time::Duration;

/// Largest request body accepted (EC2's own limit is not published; RunInstances user data,
/// the largest member, is at most 16 KiB before base64).
pub const MAX_BODY: usize = 1 << 20;

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", any(handle))
        .layer(DefaultBodyLimit::disable())
        .with_state(api)
}

fn now_utc() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

async fn handle(
    State(api): State<Arc<Api>>,
    extensions: axum::http::Extensions,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let request_id = uuid::Uuid::new_v4().to_string();
    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => return error_response(&Ec2Error::RequestEntityTooLarge(MAX_BODY), &request_id),
    };
    let source_ip = extensions
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|c| c.0.ip());
    let request = Request {
        method: &method,
        uri: &uri,
        headers: &headers,
        body: &body,
        request_id: &request_id,
        source_ip,
    };
    let result = answer(&api, &request).await;
    match result {
        Ok(Answered::Query((status, xml))) => (
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            [(header::CONTENT_TYPE, "text/xml")],
            Body::from(xml),
        )
            .into_response(),
        Ok(Answered::Ec2(xml)) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
            Body::from(xml),
        )
            .into_response(),
        Err(e) => {
            tracing::debug!(code = code_and_status(&e).1, message = %e, "error answer");
            error_response(&e, &request_id)
        }
    }
}

pub fn error_response(e: &Ec2Error, request_id: &str) -> Response {
    let (status, code) = code_and_status(e);
    let body = xml::error(code, &e.to_string(), request_id);
    (
        StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "text/xml;charset=UTF-8")],
        Body::from(body),
    )
        .into_response()
}

/// A successful EC2 answer, or an IAM or STS answer (which carry their own errors).
enum Answered {
    Ec2(String),
    Query(crate::query_api::Answer),
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

async fn answer(api: &Api, req: &Request<'_>) -> Result<Answered, Ec2Error> {
    let (method, uri, headers, body, request_id) =
        (req.method, req.uri, req.headers, req.body, req.request_id);
    if method != Method::GET && method != Method::POST {
        return Err(Ec2Error::InvalidAction(method.to_string()));
    }
    let query_params = Params::parse(uri.query().unwrap_or("").as_bytes())?;
    let header_pairs = auth::header_pairs(headers);
    // 1. signature, credentials, clock
    let signed = auth::SignedParts {
        method: method.as_str(),
        path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &header_pairs,
        query: query_params.pairs(),
        body,
    };
    let mut params = query_params.clone();
    if method == Method::POST {
        params.extend(Params::parse(body)?);
    }
    let service = Service::of(&params);
    let caller = match auth::authenticate_for(&api.principals, &signed, now_utc(), service) {
        Ok(c) => c,
        // IAM and STS answer a failed authentication in their own envelope.
        Err(e) => {
            let namespace = match service {
                Service::Ec2 => return Err(e),
                Service::Sts => crate::sts::NAMESPACE,
                Service::Iam => crate::iam_api::NAMESPACE,
            };
            let (status, code, message) = crate::error::query_code_and_status(&e);
            return Ok(Answered::Query(crate::query_api::error(
                namespace, status, code, &message, request_id,
            )));
        }
    };
    let query = crate::query_api::Call {
        api,
        params: &params,
        caller: &caller,
        request_id,
        source_ip: req.source_ip,
    };
    match service {
        Service::Sts => return Ok(Answered::Query(crate::sts::answer(&query).await)),
        Service::Iam => return Ok(Answered::Query(crate::iam_api::answer(&query).await)),
        Service::Ec2 => {}
    }
    // 2. action known, parameters known, required present
    let action_name = match params.get("Action") {
        Some(a) if !a.is_empty() => a.to_string(),
        _ => return Err(Ec2Error::MissingAction),
    };
    tracing::debug!(
        action = %action_name,
        params = ?params.pairs().iter().map(|(k, _)| k.as_str()).collect::<Vec<_>>(),
        "request"
    );
    tracing::trace!(params = ?params.pairs(), "request parameters");
    let action =
        Action::parse(&action_name).ok_or_else(|| Ec2Error::InvalidAction(action_name.clone()))?;
    let input = query::decode(action.name(), &params)?;
    let ctx = Ctx {
        api,
        scope: Scope::new(caller.account.clone(), caller.region.clone()),
        caller: &caller,
    };
    // With --iam-config: the caller's policies decide (see authz).
    if api.iam_enforced() {
        let seen = if action == Action::RunInstances {
            actions::run_instances_for_authorization(&ctx, &input).await
        } else {
            input.clone()
        };
        let instances = match (ids_named(&input), association_named(&input)) {
            _ if !crate::authz::checks_instances(action.name()) => Vec::new(),
            (_, Some(association)) => actions::instance_of_association(&ctx, &association)
                .await
                .map(|i| vec![i])
                .unwrap_or_default(),
            (ids, None) if ids.is_empty() => Vec::new(),
            (ids, None) => api
                .store
                .instances(&ctx.scope, &ids)
                .await
                .unwrap_or_default(),
        };
        let facts = crate::authz::Facts {
            source_ip: req.source_ip,
            instances: &instances,
            passed_role: passed_role(api, &caller, &seen),
        };
        crate::authz::authorize(&api.principals, action.name(), &seen, &caller, &facts)?;
    }
    // 3..8: validation, lookup, state checks, dry run, execution: the action's handler.
    let output = actions::dispatch(&ctx, action, input).await?;
    xml::encode(action.name(), request_id, &output)
        .map(Answered::Ec2)
        .map_err(|e| {
            tracing::error!(error = %e, action = action.name(), "response encoding");
            Ec2Error::InternalError
        })
}

/// The instance ids a request names (`InstanceId`, `InstanceIds`).
fn ids_named(input: &serde_json::Value) -> Vec<String> {
    let one = input
        .get("InstanceId")
        .and_then(serde_json::Value::as_str)
        .map(str::to_string);
    let many = input
        .get("InstanceIds")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str().map(str::to_string));
    one.into_iter().chain(many).collect()
}

/// The IAM instance profile association a request names (Replace, Disassociate), when it is
/// one: authorization checks the request on that association's instance.
fn association_named(input: &serde_json::Value) -> Option<String> {
    input
        .get("AssociationId")
        .and_then(serde_json::Value::as_str)
        .filter(|a| model::ids::is_well_formed(a, model::profile_association::ASSOCIATION))
        .map(str::to_string)
}

/// The ARN of the role a launch (or an association, or its replacement) passes to its
/// instance through an instance profile.
fn passed_role(api: &Api, caller: &Caller, input: &serde_json::Value) -> Option<String> {
    let p = input.get("IamInstanceProfile")?;
    let field = |k: &str| p.get(k).and_then(serde_json::Value::as_str);
    let registry = api.principals.registry();
    let account = registry.account(&caller.account)?;
    let role = account
        .profile_by_ref(field("Arn"), field("Name"))?
        .roles
        .first()?;
    account.roles.get(role).map(|r| account.role_arn(r))
}

/// Drive the lifecycle (state transitions, purge of terminated instances) until shutdown:
/// sleep until the next step is due, or until a write may have made an earlier one.
pub async fn drive_lifecycle(api: Arc<Api>, mut shutdown: tokio::sync::watch::Receiver<bool>) {
    let mut changes = api.store.watch();
    let retention = api.config.terminated_retention.as_millis() as i64;
    loop {
        let now = store::now_ms();
        let next = match api.store.next_due(retention).await {
            Ok(Some(due)) if due <= now => match api.store.advance(now, now - retention).await {
                Ok(_) => continue,
                Err(e) => {
                    tracing::error!(error = %e, "lifecycle step failed");
                    Some(now + 1000)
                }
            },
            Ok(next) => next,
            Err(e) => {
                tracing::error!(error = %e, "lifecycle read failed");
                Some(now + 1000)
            }
        };
        let wait = next
            .map(|due| Duration::from_millis((due - now).clamp(1, 60_000) as u64))
            .unwrap_or(Duration::from_secs(60));
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            _ = changes.changed() => {}
            _ = shutdown.changed() => return,
        }
    }
}
