//! One request in, one reply out, as EC2's metadata service answers (spec imds.md §2–§9 and
//! §15). Pure apart from the counters: the server does the I/O, the host supplies the state.
//!
//! In two steps: [`answer`] enforces the options from what the served table keeps of the
//! instance (no store read can delay or change a refusal, a token or its hop limit); only a
//! request it lets through to the instance's own data waits for its rendering
//! ([`Pending::finish`]).

use crate::counters::Counters;
use crate::rendered::Rendered;
use crate::token::{TokenKey, MAX_TTL};
use crate::tree::Lookup;
use bytes::Bytes;
use model::{HttpTokens, MetadataOptions};

/// The versions `GET /` lists (spec imds.md §1).
pub(crate) const VERSIONS: &[&str] = &[
    "1.0",
    "2007-01-19",
    "2007-03-01",
    "2007-08-29",
    "2007-10-10",
    "2007-12-15",
    "2008-02-01",
    "2008-09-01",
    "2009-04-04",
    "2011-01-01",
    "2011-05-01",
    "2012-01-12",
    "2014-02-25",
    "2014-11-05",
    "2015-10-20",
    "2016-04-19",
    "2016-06-30",
    "2016-09-02",
    "2018-03-28",
    "2018-08-17",
    "2018-09-24",
    "2019-10-01",
    "2020-10-27",
    "2021-01-03",
    "2021-03-23",
    "2021-07-15",
    "2022-09-24",
    "2024-04-11",
    "latest",
];

pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
pub(crate) const TTL_HEADER: &str = "x-aws-ec2-metadata-token-ttl-seconds";
/// As EC2 spells it on responses.
pub(crate) const TTL_RESPONSE_HEADER: &str = "X-Aws-Ec2-Metadata-Token-Ttl-Seconds";

/// What a request carries that the service looks at.
pub struct Request<'a> {
    pub method: &'a str,
    pub path: &'a str,
    /// Lowercase header names.
    pub header: &'a dyn Fn(&str) -> Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u16,
    /// A reason phrase other than the standard one (`405 Not Allowed`).
    pub reason: Option<&'static str>,
    pub headers: Vec<(&'static str, String)>,
    pub body: Bytes,
    /// The IP TTL (IPv6 hop limit) of the packets carrying this reply, when it is limited.
    pub hop_limit: Option<u8>,
}

impl Reply {
    fn new(status: u16, content_type: &str, body: impl Into<Bytes>) -> Reply {
        Reply {
            status,
            reason: None,
            headers: vec![("Content-Type", content_type.to_string())],
            body: body.into(),
            hop_limit: None,
        }
    }

    fn empty(status: u16) -> Reply {
        Reply::new(status, "text/plain", Bytes::new())
    }

    fn text(body: impl Into<Bytes>) -> Reply {
        let mut r = Reply::new(200, "text/plain", body);
        r.headers.push(("Accept-Ranges", "none".into()));
        r
    }

    /// A metadata value, with the `Last-Modified` EC2 sends on them.
    fn metadata(body: impl Into<Bytes>, last_modified_ms: i64) -> Reply {
        let mut r = Reply::text(body);
        r.headers
            .push(("Last-Modified", http_date(last_modified_ms)));
        r
    }

    /// EC2's XHTML error page (401, 404, 400), byte for byte.
    pub fn page(status: u16) -> Reply {
        let text = match status {
            401 => "Unauthorized",
            404 => "Not Found",
            _ => "Bad Request",
        };
        let body = format!(
            "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n <head>\n  <title>{status} - {text}</title>\n </head>\n <body>\n  <h1>{status} - {text}</h1>\n </body>\n</html>\n"
        );
        Reply::new(status, "text/html", body)
    }

    fn redirect(path: &str) -> Reply {
        let mut r = Reply::empty(301);
        r.headers
            .push(("Location", format!("http://169.254.169.254{path}/")));
        r
    }
}

/// How the request proved itself.
enum Auth {
    V1,
    V2 { remaining: u64 },
}

pub use model::time::http_date;

/// Seconds since the epoch.
pub fn now_s(now_ms: i64) -> u64 {
    (now_ms.max(0) / 1000) as u64
}

/// What the role-credential categories ask the host for.
pub enum CredentialRequest<'a> {
    /// `iam/info`.
    Info,
    /// `identity-credentials/ec2/info`.
    IdentityInfo,
    /// `iam/security-credentials/ROLE`, fetched with a token (`v2`) or without.
    Role { name: &'a str, v2: bool },
}

pub type Credentials<'a> = &'a dyn Fn(CredentialRequest<'_>) -> Bytes;

/// The signatures of the identity document, from the host.
pub(crate) type Signatures<'a> = &'a dyn Fn(&Rendered) -> (Bytes, Bytes);

/// What the service enforces of an instance, all known before anything is rendered: its id
/// and boot (which its tokens are bound to) and the options in force.
#[derive(Debug, Clone, Copy)]
pub struct Enforced<'a> {
    pub instance_id: &'a str,
    pub launch_time_ms: i64,
    pub options: MetadataOptions,
}

impl<'a> Enforced<'a> {
    /// What `rendered` enforces.
    pub fn of(rendered: &'a Rendered) -> Enforced<'a> {
        Enforced {
            instance_id: &rendered.view.instance_id,
            launch_time_ms: rendered.view.launch_time_ms,
            options: rendered.view.options,
        }
    }
}

/// Where a request stands once enforced.
pub enum Step {
    /// Answered without the instance's rendering: refused, a token, a listing, a redirect.
    Reply(Reply),
    /// Allowed, and what it asks for is the instance's: finish it with the rendering.
    Render(Pending),
}

/// A request allowed, waiting for the instance's rendering.
pub struct Pending {
    auth: Auth,
    /// When the request came (its minute is the one its counters count in).
    now_ms: i64,
}

/// Enforce `req` on the instance: every refusal (endpoint off, token required, a bad token,
/// a bad token request) and every token is decided here, from the compact entry alone.
pub fn answer(
    req: &Request<'_>,
    instance: &Enforced<'_>,
    counters: &Counters,
    key: &TokenKey,
    now_ms: i64,
) -> Step {
    counters.request(now_ms);
    let options = instance.options;
    // Switched off: every request is refused (spec imds.md §6).
    if !options.http_endpoint.is_enabled() {
        return Step::Reply(Reply::empty(403));
    }
    let path = req.path;

    // The token endpoint.
    if path == "/latest/api/token" {
        if req.method != "PUT" {
            let mut r = Reply::empty(405);
            r.reason = Some("Not Allowed");
            r.headers.push(("Allow", "OPTIONS, PUT".into()));
            return Step::Reply(r);
        }
        if (req.header)("x-forwarded-for").is_some() {
            return Step::Reply(Reply::empty(403));
        }
        let ttl = match (req.header)(TTL_HEADER).and_then(|v| v.trim().parse::<u64>().ok()) {
            Some(t) if (1..=MAX_TTL).contains(&t) => t,
            _ => return Step::Reply(Reply::page(400)),
        };
        let token = key.issue(
            instance.instance_id,
            instance.launch_time_ms,
            now_s(now_ms),
            ttl,
        );
        Counters::bump(&counters.tokens_issued);
        let mut r = Reply::text(token);
        r.headers.push((TTL_RESPONSE_HEADER, ttl.to_string()));
        r.hop_limit = Some(options.hop_limit.get());
        return Step::Reply(r);
    }
    if req.method == "PUT" && is_token_path(path) {
        // `/latest/api/token/`, `/2021-03-23/api/token`: refused (spec imds.md §3).
        return Step::Reply(Reply::empty(403));
    }
    if req.method != "GET" && req.method != "HEAD" {
        let mut r = Reply::empty(405);
        r.reason = Some("Not Allowed");
        r.headers.push(("Allow", "GET, HEAD".into()));
        return Step::Reply(r);
    }

    // v1 or v2 is decided by the presence of the token header; a bad token is never
    // downgraded to v1.
    let auth = match (req.header)(TOKEN_HEADER) {
        Some(t) => match key.check(
            &t,
            instance.instance_id,
            instance.launch_time_ms,
            now_s(now_ms),
        ) {
            Ok(remaining) => Auth::V2 { remaining },
            Err(_) => return Step::Reply(Reply::page(401)),
        },
        None if options.http_tokens == HttpTokens::Required => {
            counters.no_token_rejected(now_ms);
            return Step::Reply(Reply::page(401));
        }
        None => Auth::V1,
    };

    match route(path) {
        Route::Reply(reply) => Step::Reply(counted(reply, &auth, counters, now_ms)),
        Route::Instance => Step::Render(Pending { auth, now_ms }),
    }
}

impl Pending {
    /// The reply, from the instance's rendering.
    pub fn finish(
        self,
        path: &str,
        rendered: &Rendered,
        counters: &Counters,
        creds: Credentials<'_>,
        signatures: Signatures<'_>,
    ) -> Reply {
        let reply = resolve(path, rendered, &self.auth, creds, signatures);
        counted(reply, &self.auth, counters, self.now_ms)
    }

    /// The reply when the instance's record cannot be read now: an internal error (500, the
    /// status SDKs retry), never a wrong answer.
    pub fn unavailable(self) -> Reply {
        Reply::empty(500)
    }

    /// The reply when the instance is gone from the store (purged while the request ran).
    pub fn gone(self) -> Reply {
        Reply::page(404)
    }
}

/// `answer` and, when the request needs it, `finish`, for an instance already rendered (the
/// fuzz target and tests).
pub fn answer_rendered(
    req: &Request<'_>,
    rendered: &Rendered,
    counters: &Counters,
    key: &TokenKey,
    now_ms: i64,
    creds: Credentials<'_>,
    signatures: Signatures<'_>,
) -> Reply {
    match answer(req, &Enforced::of(rendered), counters, key, now_ms) {
        Step::Reply(r) => r,
        Step::Render(p) => p.finish(req.path, rendered, counters, creds, signatures),
    }
}

/// A successful IMDSv1 request counts (`MetadataNoToken`, in the minute of `now_ms`); a v2 one
/// tells its token's life.
fn counted(mut reply: Reply, auth: &Auth, counters: &Counters, now_ms: i64) -> Reply {
    if reply.status == 200 {
        match auth {
            Auth::V1 => counters.no_token(now_ms),
            Auth::V2 { remaining } => reply
                .headers
                .push((TTL_RESPONSE_HEADER, remaining.to_string())),
        }
    }
    reply
}

fn is_token_path(path: &str) -> bool {
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let version = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    VERSIONS.contains(&version) && (rest == "api/token" || rest == "api/token/")
}

/// Whether a path is answered the same for every instance, or from the instance's rendering.
enum Route {
    Reply(Reply),
    Instance,
}

fn route(path: &str) -> Route {
    if path == "/" {
        return Route::Reply(Reply::text(VERSIONS.join("\n")));
    }
    let rest = path.trim_start_matches('/');
    let (version, sub) = match rest.split_once('/') {
        Some((v, s)) => (v, Some(s)),
        None => (rest, None),
    };
    if !VERSIONS.contains(&version) {
        return Route::Reply(Reply::page(404));
    }
    match sub {
        None => Route::Reply(Reply::redirect(path)),
        Some("") => Route::Reply(Reply::text("dynamic\nmeta-data\nuser-data")),
        Some("meta-data" | "dynamic") => Route::Reply(Reply::redirect(path)),
        Some(sub)
            if sub == "user-data"
                || sub == "user-data/"
                || sub.starts_with("meta-data/")
                || sub.starts_with("dynamic/") =>
        {
            Route::Instance
        }
        Some(_) => Route::Reply(Reply::page(404)),
    }
}

/// The reply to a path [`route`] gave to the instance.
fn resolve(
    path: &str,
    rendered: &Rendered,
    auth: &Auth,
    creds: Credentials<'_>,
    signatures: Signatures<'_>,
) -> Reply {
    let rest = path.trim_start_matches('/');
    let Some((version, sub)) = rest.split_once('/') else {
        return Reply::page(404);
    };
    let view = &rendered.view;
    if sub == "user-data" || sub == "user-data/" {
        return match &view.user_data {
            Some(data) => {
                let mut r = Reply::new(200, "application/octet-stream", Bytes::from(data.clone()));
                r.headers.push(("Accept-Ranges", "bytes".into()));
                r
            }
            None => Reply::page(404),
        };
    }
    if let Some(md) = sub.strip_prefix("meta-data/") {
        let changed = view.launch_time_ms;
        return match rendered.tree.lookup_as_of(md, version) {
            Lookup::Leaf(b) => Reply::metadata(b.clone(), changed),
            Lookup::Listing(l) => Reply::metadata(l, changed),
            Lookup::Redirect => Reply::redirect(path.trim_end_matches('/')),
            Lookup::Credentials(name) => Reply::metadata(
                creds(CredentialRequest::Role {
                    name,
                    v2: matches!(auth, Auth::V2 { .. }),
                }),
                changed,
            ),
            Lookup::CredentialsInfo => Reply::metadata(creds(CredentialRequest::Info), changed),
            Lookup::IdentityCredentialsInfo => {
                Reply::metadata(creds(CredentialRequest::IdentityInfo), changed)
            }
            Lookup::NotFound => Reply::page(404),
        };
    }
    if let Some(dy) = sub.strip_prefix("dynamic/") {
        // Dynamic data is metadata too: its 200s carry `Last-Modified` (spec imds.md §2).
        let metadata = |body: Bytes| Reply::metadata(body, view.launch_time_ms);
        return match dy.trim_end_matches('/') {
            "" => metadata("instance-identity/".into()),
            "instance-identity" if dy.ends_with('/') => {
                metadata("document\npkcs7\nrsa2048\nsignature".into())
            }
            "instance-identity" => Reply::redirect(path),
            "instance-identity/document" => metadata(rendered.identity_document.clone()),
            "instance-identity/signature" => metadata(signatures(rendered).0),
            "instance-identity/pkcs7" | "instance-identity/rsa2048" => {
                metadata(signatures(rendered).1)
            }
            _ => Reply::page(404),
        };
    }
    Reply::page(404)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_pages_have_ec2s_lengths() {
        // spec imds.md §2: 343 bytes for 401, 337 for 404.
        assert_eq!(Reply::page(401).body.len(), 343);
        assert_eq!(Reply::page(404).body.len(), 337);
        assert!(Reply::page(404)
            .body
            .starts_with(b"<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n<!DOCTYPE"));
    }

    #[test]
    fn token_paths() {
        assert!(is_token_path("/latest/api/token/"));
        assert!(is_token_path("/2021-03-23/api/token"));
        assert!(!is_token_path("/latest/meta-data/"));
    }
}
