//! HTTP: one handler for `GET /` and `POST /` that turns a request into an action and its
//! answer into XML, whatever goes wrong in between.

use crate::actions::{self, Action};
use crate::auth::{self, Caller};
use crate::error::code_and_status;
use crate::protocol::query::{self, Params};
use crate::protocol::xml;
use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::any;
use axum::Router;
use model::{Ec2Error, Scope};
use std::sync::Arc;
use std::time::Duration;
use store::Store;

/// Timing of the simulated fleet.
#[derive(Debug, Clone)]
pub struct ApiConfig {
    /// How long `pending` → `running`, `stopping` → `stopped`, `shutting-down` → `terminated` take.
    pub transition_delay: Duration,
    /// How long terminated instances stay visible (EC2: about an hour).
    pub terminated_retention: Duration,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            transition_delay: Duration::from_millis(500),
            terminated_retention: Duration::from_secs(3600),
        }
    }
}

/// What every handler shares.
pub struct Api {
    pub store: Arc<dyn Store>,
    pub config: ApiConfig,
    /// With `--iam-config`: the accounts and keys that sign requests.
    pub iam: Option<Arc<iam::Directory>>,
    /// Role credentials handed out by the metadata service, valid for signing.
    pub instance_credentials: Option<Arc<dyn crate::auth::CredentialSource>>,
}

/// Largest request body accepted (EC2's own limit is not published; RunInstances user data,
/// the largest member, is at most 16 KiB before base64).
pub const MAX_BODY: usize = 1 << 20;

pub fn router(api: Arc<Api>) -> Router {
    Router::new()
        .route("/", any(handle))
        .layer(DefaultBodyLimit::disable())
        .with_state(api)
}

/// The context of one request that handlers see.
pub struct Ctx<'a> {
    pub api: &'a Api,
    pub caller: &'a Caller,
    pub scope: Scope,
}

fn now_utc() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

async fn handle(
    State(api): State<Arc<Api>>,
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
    let result = answer(&api, &method, &uri, &headers, &body, &request_id).await;
    match result {
        Ok(Answered::Sts((status, xml))) => (
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

/// A successful EC2 answer, or an STS answer (which carries its own errors).
enum Answered {
    Ec2(String),
    Sts(crate::sts::Answer),
}

async fn answer(
    api: &Api,
    method: &Method,
    uri: &Uri,
    headers: &HeaderMap,
    body: &Bytes,
    request_id: &str,
) -> Result<Answered, Ec2Error> {
    if method != Method::GET && method != Method::POST {
        return Err(Ec2Error::InvalidAction(method.to_string()));
    }
    let query_params = Params::parse(uri.query().unwrap_or("").as_bytes())?;
    let header_pairs: Vec<(String, String)> = headers
        .iter()
        .map(|(k, v)| {
            (
                k.as_str().to_string(),
                String::from_utf8_lossy(v.as_bytes()).into_owned(),
            )
        })
        .collect();
    // 1. signature, credentials, clock
    let signed = auth::SignedParts {
        method: method.as_str(),
        path: uri.path(),
        raw_query: uri.query().unwrap_or(""),
        headers: &header_pairs,
        query: query_params.pairs(),
        body,
    };
    let caller = auth::authenticate(
        &signed,
        now_utc(),
        api.iam.as_deref(),
        api.instance_credentials.as_deref(),
    )?;
    let mut params = query_params;
    if method == Method::POST {
        params.extend(Params::parse(body)?);
    }
    if params.get("Version") == Some(crate::sts::VERSION) {
        return Ok(Answered::Sts(crate::sts::answer(
            &params, &caller, request_id,
        )));
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
    // With --iam-config: the account's SCPs decide (before the handler; see authz).
    if let Some(dir) = &api.iam {
        let seen = if action == Action::RunInstances {
            actions::run_instances_for_authorization(&ctx, &input).await
        } else {
            input.clone()
        };
        crate::authz::authorize_root(action.name(), &seen, &caller, dir.scps(&caller.account))?;
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
