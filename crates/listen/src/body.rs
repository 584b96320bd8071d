//! The bodies hyper and the service exchange: a request body with a deadline, and a reply
//! body that marks the connection idle once hyper has written it.

use crate::gate::InFlight;
use crate::BoxError;
use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::time::Sleep;

/// A request body that fails once its deadline passes (the service's answer is then
/// replaced by `408 Request Timeout`).
#[derive(Debug)]
pub struct RequestBody {
    inner: Incoming,
    deadline: Option<Pin<Box<Sleep>>>,
    timed_out: Arc<AtomicBool>,
}

impl RequestBody {
    pub(crate) fn new(
        inner: Incoming,
        timeout: Option<std::time::Duration>,
        timed_out: Arc<AtomicBool>,
    ) -> Self {
        RequestBody {
            inner,
            deadline: timeout.map(|t| Box::pin(tokio::time::sleep(t))),
            timed_out,
        }
    }
}

/// The body did not arrive in time.
#[derive(Debug)]
pub(crate) struct BodyTimedOut;

impl std::fmt::Display for BodyTimedOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("request body timed out")
    }
}

impl std::error::Error for BodyTimedOut {}

impl Body for RequestBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        let this = &mut *self;
        if let Poll::Ready(r) = Pin::new(&mut this.inner).poll_frame(cx) {
            return Poll::Ready(r.map(|f| f.map_err(Into::into)));
        }
        if let Some(d) = &mut this.deadline {
            if d.as_mut().poll(cx).is_ready() {
                this.timed_out.store(true, Ordering::Release);
                return Poll::Ready(Some(Err(Box::new(BodyTimedOut))));
            }
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

/// The service's reply body (`None`: empty), holding its request's place in flight.
#[derive(Debug)]
pub(crate) struct ReplyBody<B> {
    inner: Option<B>,
    _in_flight: InFlight,
}

impl<B> ReplyBody<B> {
    pub(crate) fn new(inner: Option<B>, in_flight: InFlight) -> Self {
        ReplyBody {
            inner,
            _in_flight: in_flight,
        }
    }
}

impl<B> Body for ReplyBody<B>
where
    B: Body + Unpin,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<B::Data>, BoxError>>> {
        match &mut self.inner {
            Some(b) => Pin::new(b)
                .poll_frame(cx)
                .map(|r| r.map(|f| f.map_err(Into::into))),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.inner.as_ref().is_none_or(|b| b.is_end_stream())
    }

    fn size_hint(&self) -> SizeHint {
        match &self.inner {
            Some(b) => b.size_hint(),
            None => SizeHint::with_exact(0),
        }
    }
}
