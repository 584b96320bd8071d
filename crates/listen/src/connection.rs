//! One connection: hyper serves it while its task watches the timeouts, shedding and drain.

use crate::body::{ReplyBody, RequestBody};
use crate::gate::{Activity, Admitted, Limits};
use crate::stream::Shared;
use crate::{BoxError, HttpService};
use http::{Request, Response, StatusCode};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::Service;
use hyper_util::rt::TokioIo;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use tokio::net::TcpStream;
use tokio::sync::watch;

/// Serve one admitted connection until it ends, times out, is shed or (after a drain) done.
pub(crate) async fn run<S>(
    admitted: Admitted,
    stream: Arc<TcpStream>,
    http: http1::Builder,
    limits: Limits,
    service: S,
    mut drain: watch::Receiver<bool>,
) where
    S: HttpService,
{
    let activity = admitted.activity.clone();
    let io = TokioIo::new(Shared::new(stream, activity.clone()));
    let service = Tracked {
        inner: service,
        activity: activity.clone(),
        body_timeout: limits.body_timeout,
    };
    let mut http = http;
    http.max_headers(limits.max_headers)
        .max_header_size(limits.max_header_bytes)
        // The deadlines are watched here (hyper's would also end idle keep-alive
        // connections after the header-read timeout).
        .header_read_timeout(None);
    let conn = http.serve_connection(io, service);
    tokio::pin!(conn);
    let mut draining = false;
    loop {
        let deadline = activity.deadline(&limits);
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended with an error");
                }
                break;
            }
            _ = activity.nudge.notified() => {
                if activity.shed.load(Ordering::Acquire) {
                    if activity.is_idle() {
                        break;
                    }
                    conn.as_mut().graceful_shutdown();
                }
            }
            _ = drain.changed(), if !draining => {
                draining = true;
                if activity.is_idle() {
                    break;
                }
                conn.as_mut().graceful_shutdown();
            }
            _ = sleep_until(deadline), if deadline.is_some() => {
                // Still idle and past its deadline (a request may have begun meanwhile).
                if activity.deadline(&limits).is_some_and(|d| d <= tokio::time::Instant::now()) {
                    break;
                }
            }
        }
    }
    drop(admitted);
}

async fn sleep_until(deadline: Option<tokio::time::Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

/// The service, with each request counted in flight until its reply is written and its
/// body under the body deadline.
struct Tracked<S> {
    inner: S,
    activity: Arc<Activity>,
    body_timeout: Option<std::time::Duration>,
}

type Reply<B> = Response<ReplyBody<B>>;

impl<S, B> Service<Request<Incoming>> for Tracked<S>
where
    S: Service<Request<RequestBody>, Response = Response<B>>,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
{
    type Response = Reply<B>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Reply<B>, BoxError>> + Send>>;

    fn call(&self, req: Request<Incoming>) -> Self::Future {
        let in_flight = self.activity.begin();
        let timed_out = Arc::new(AtomicBool::new(false));
        let req = req.map(|b| RequestBody::new(b, self.body_timeout, timed_out.clone()));
        let answer = self.inner.call(req);
        Box::pin(async move {
            let resp = answer.await.map_err(Into::into)?;
            if timed_out.load(Ordering::Acquire) {
                // The body did not arrive in time: whatever the service made of the
                // truncated body, the caller is told so, and the connection closes.
                // (ELB answers 408 when a client sends no data within its timeout.)
                let mut r = Response::new(ReplyBody::new(None, in_flight));
                *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
                r.headers_mut().insert(
                    http::header::CONNECTION,
                    http::HeaderValue::from_static("close"),
                );
                return Ok(r);
            }
            Ok(resp.map(|b| ReplyBody::new(Some(b), in_flight)))
        })
    }
}
