//! AWS Fault Injection Service on the API port (spec events.md §7): the experiment templates
//! and experiments that trigger Spot interruptions, as FIS's rest-json API (version
//! 2020-12-01, SigV4 signing name `fis` [S9]) serves them:
//!
//! | Method and path | Operation |
//! |---|---|
//! | `POST /experimentTemplates` | CreateExperimentTemplate |
//! | `GET /experimentTemplates` | ListExperimentTemplates |
//! | `GET`, `PATCH`, `DELETE /experimentTemplates/{id}` | Get-, Update-, DeleteExperimentTemplate |
//! | `POST /experiments` | StartExperiment |
//! | `GET /experiments` | ListExperiments |
//! | `GET`, `DELETE /experiments/{id}` | GetExperiment, StopExperiment |
//! | `GET /actions`, `GET /actions/{id}` | ListActions, GetAction |
//!
//! The front door (`server`) sends these paths here once it has read the body and
//! authenticated the caller for `fis` (a credential scoped to another service is refused,
//! case 32). A request is read once into its typed form (`input`), answered by the
//! operations (`ops`) in the caller's account and Region, with records kept as documents
//! of the store (`documents`), instances resolved and interrupted through the store's
//! instance writes (`targets`), answers written by `render`, errors by `error` (status,
//! `x-amzn-ErrorType`, `{"message"}`). The rules themselves (validation, ids, selection,
//! durations, experiment states) are the domain's (`model::fis`).
//!
//! imds runs one action, `aws:ec2:send-spot-instance-interruptions`: a template naming any
//! other is refused at Create, saying so.

mod documents;
mod error;
mod input;
mod ops;
mod render;
mod targets;

pub use error::FisError;
pub use input::{parse, serves, CreateTemplate, Page, Request, StartExperiment, UpdateTemplate};

use crate::context::Call;
use crate::error::AwsError;
use crate::reply::Reply;

/// The API version of the FIS model imds serves.
pub const VERSION: &str = "2020-12-01";

/// One FIS call from an authenticated caller: `method`, `path` (as sent), the raw query
/// string and the body, answered in rest-json with `x-amzn-RequestId`.
pub async fn handle(
    call: &Call<'_>,
    method: &str,
    path: &str,
    raw_query: &str,
    body: &[u8],
) -> Reply {
    let answer = match parse(method, path, raw_query, body) {
        Ok(request) => ops::answer(call, request).await,
        Err(e) => Err(e),
    };
    match answer {
        Ok(v) => Reply::ok(error::JSON, v.to_string())
            .with_header("x-amzn-requestid", call.request_id.to_string()),
        Err(e) => e.render(call.request_id),
    }
}

/// A refusal before the operation (authentication, or a query string that cannot be
/// decoded), in FIS's error form.
pub fn refused(e: model::Ec2Error, request_id: &str) -> Reply {
    FisError::Refused(e).render(request_id)
}

/// The extracted model (tests hold the typed inputs and the answers to it).
#[cfg(test)]
pub(crate) fn model() -> &'static serde_json::Value {
    static MODEL: std::sync::OnceLock<serde_json::Value> = std::sync::OnceLock::new();
    MODEL.get_or_init(|| {
        serde_json::from_str(include_str!("../../model/fis-subset.json"))
            .expect("fis-subset.json is JSON")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The routes of the module's table are the model's `requestUri`s.
    #[test]
    fn routes_are_the_models() {
        let ops = model()["operations"].as_object().unwrap();
        for (name, op) in ops {
            let method = op["http"]["method"].as_str().unwrap();
            let uri = op["http"]["requestUri"].as_str().unwrap();
            let path = uri.replace("{id}", "EXT123");
            let body = if method == "POST" {
                b"{}".as_slice()
            } else {
                b"".as_slice()
            };
            match parse(method, &path, "", body) {
                Ok(r) => assert_eq!(r.operation(), name),
                // A body without required members: the route was found.
                Err(FisError::Validation(_)) => {}
                Err(e) => panic!("{method} {path}: {e:?}"),
            }
        }
        assert_eq!(model()["metadata"]["signingName"], "fis");
        assert_eq!(model()["metadata"]["apiVersion"], VERSION);
    }
}
