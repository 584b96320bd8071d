//! The accept loop both servers share (the EC2 API and the Instance Metadata Service, with
//! the listeners `imds exec` opens inside network namespaces), so that no caller on the host
//! can exhaust imds by holding connections open.
//!
//! - `gate`: [`Gate`], the connections of one service, capped; at the cap the oldest *idle*
//!   connection (no request in progress) is shed, and when every connection is busy the new
//!   one is refused at once; the caller never waits. [`Limits`] are the bounds below.
//! - `accept`: [`serve`] accepts, then hands each connection to hyper under the [`Limits`].
//!   Accept errors (fd exhaustion) are logged at most once every few seconds with a count,
//!   shed an idle connection, and back off; on shutdown, a bounded drain of requests in
//!   flight.
//! - `connection`: one connection's task: a header-read timeout (silent and slow-header
//!   connections), an idle timeout between keep-alive requests, the number and size of
//!   request headers (`431`), shedding and the drain.
//! - `body`: the request body under an optional whole-body timeout (`408`,
//!   [`RequestBody`]), and the reply body that marks the connection idle once written.
//! - `stream`: the accepted socket, shared with the service (see below).
//! - [`fd`]: raises `RLIMIT_NOFILE` to the hard limit and derives the caps from what results.
//! - `throttle`: [`Throttled`], a warning logged at most once per period, with how many were
//!   held back.
//!
//! Each connection costs one file descriptor: the accepted socket is shared (an `Arc`) between
//! hyper and the service, which can set socket options on it (the metadata service's hop
//! limit) without a `dup`.

mod accept;
mod body;
mod connection;
pub mod fd;
mod gate;
mod stream;
mod throttle;

pub use accept::{serve, Accepted};
pub use body::RequestBody;
pub use gate::{Gate, Limits};
pub use throttle::Throttled;

/// The error type of bodies and services here.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a service must be for the loop to hand it to hyper: it answers a request (its body
/// under the body deadline) with a response whose body hyper can write.
pub trait HttpService:
    hyper::service::Service<
        http::Request<RequestBody>,
        Response = http::Response<Self::Body>,
        Error: Into<BoxError>,
        Future: Send + 'static,
    > + Send
    + 'static
{
    type Body: hyper::body::Body<Data: Send, Error: Into<BoxError>> + Unpin + Send + 'static;
}

impl<S, B> HttpService for S
where
    S: hyper::service::Service<http::Request<RequestBody>, Response = http::Response<B>>
        + Send
        + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: hyper::body::Body<Data: Send, Error: Into<BoxError>> + Unpin + Send + 'static,
{
    type Body = B;
}
