//! Where FIS keeps what it creates: templates, experiments and client-token claims, each a
//! JSON document of the store's [`store::DocumentStore`] in the caller's account and Region
//! (FIS resources are regional [S12]). The records are the domain's (`model::fis`).

use super::input::Page;
use super::FisError;
use model::fis::{Experiment, Template};
use model::Scope;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use serde_json::Value;
use store::{DocumentKey, Store};

const TEMPLATE: &str = "fis-template";
const EXPERIMENT: &str = "fis-experiment";
const TOKEN: &str = "fis-token";

fn read<T: DeserializeOwned>(kind: &str, id: &str, doc: &str) -> Result<T, FisError> {
    serde_json::from_str(doc).map_err(|e| {
        tracing::error!(error = %e, kind, id, "FIS document unreadable");
        FisError::Internal
    })
}

fn write<T: Serialize>(record: &T) -> Result<String, FisError> {
    serde_json::to_string(record).map_err(|e| {
        tracing::error!(error = %e, "FIS document not written");
        FisError::Internal
    })
}

async fn get<T: DeserializeOwned>(
    store: &dyn Store,
    kind: &str,
    scope: &Scope,
    id: &str,
) -> Result<Option<T>, FisError> {
    Ok(as_read(store, kind, scope, id)
        .await?
        .map(|(record, _)| record))
}

/// A record and the document it was read from (what a replace writes over).
async fn as_read<T: DeserializeOwned>(
    store: &dyn Store,
    kind: &str,
    scope: &Scope,
    id: &str,
) -> Result<Option<(T, String)>, FisError> {
    match store.document(&DocumentKey::new(kind, scope, id)).await? {
        Some(doc) => Ok(Some((read(kind, id, &doc)?, doc))),
        None => Ok(None),
    }
}

pub async fn template(
    store: &dyn Store,
    scope: &Scope,
    id: &str,
) -> Result<Option<Template>, FisError> {
    get(store, TEMPLATE, scope, id).await
}

pub async fn experiment(
    store: &dyn Store,
    scope: &Scope,
    id: &str,
) -> Result<Option<Experiment>, FisError> {
    get(store, EXPERIMENT, scope, id).await
}

/// A template and the document it was read from, which [`replace_template`] writes over.
pub async fn template_as_read(
    store: &dyn Store,
    scope: &Scope,
    id: &str,
) -> Result<Option<(Template, String)>, FisError> {
    as_read(store, TEMPLATE, scope, id).await
}

/// Write `t` over the template's document `was` (see [`template_as_read`]), unless another
/// write changed or removed it since; whether it did.
pub async fn replace_template(
    store: &dyn Store,
    scope: &Scope,
    was: &str,
    t: &Template,
) -> Result<bool, FisError> {
    let key = DocumentKey::new(TEMPLATE, scope, &t.id);
    Ok(store.replace_document(&key, was, &write(t)?).await?)
}

pub async fn put_template(store: &dyn Store, scope: &Scope, t: &Template) -> Result<(), FisError> {
    let key = DocumentKey::new(TEMPLATE, scope, &t.id);
    Ok(store.put_document(&key, &write(t)?).await?)
}

pub async fn put_experiment(
    store: &dyn Store,
    scope: &Scope,
    e: &Experiment,
) -> Result<(), FisError> {
    let key = DocumentKey::new(EXPERIMENT, scope, &e.id);
    Ok(store.put_document(&key, &write(e)?).await?)
}

/// Remove a template; whether there was one.
pub async fn delete_template(store: &dyn Store, scope: &Scope, id: &str) -> Result<bool, FisError> {
    Ok(store
        .delete_document(&DocumentKey::new(TEMPLATE, scope, id))
        .await?)
}

/// One page of `kind`'s records that `keep` keeps, in the order created: as many store pages
/// as it takes to fill `page.max_results` (or to reach the end), each asking for no more than
/// is still wanted, so that the position after the last record taken is the next page's.
async fn records<T: DeserializeOwned>(
    store: &dyn Store,
    kind: &str,
    scope: &Scope,
    page: Page,
    keep: impl Fn(&T) -> bool,
) -> Result<(Vec<T>, Option<i64>), FisError> {
    let mut out = Vec::new();
    let mut after = page.after;
    loop {
        let want = page.max_results.saturating_sub(out.len() as u32);
        let p = store.documents(kind, scope, after, want).await?;
        for (id, doc) in &p.documents {
            let r: T = read(kind, id, doc)?;
            if keep(&r) {
                out.push(r);
            }
        }
        after = p.next;
        if after.is_none() || out.len() as u32 >= page.max_results || p.documents.is_empty() {
            break;
        }
    }
    Ok((out, after))
}

pub async fn templates(
    store: &dyn Store,
    scope: &Scope,
    page: Page,
) -> Result<(Vec<Template>, Option<i64>), FisError> {
    records(store, TEMPLATE, scope, page, |_: &Template| true).await
}

/// A page of experiments, of one template's when `template_id` is given (case 44).
pub async fn experiments(
    store: &dyn Store,
    scope: &Scope,
    page: Page,
    template_id: Option<&str>,
) -> Result<(Vec<Experiment>, Option<i64>), FisError> {
    records(store, EXPERIMENT, scope, page, |e: &Experiment| {
        template_id.is_none_or(|t| e.experiment_template_id == t)
    })
    .await
}

/// What a client token was first used for: the id made, and the request it came with (the
/// same token with another request is a `ConflictException`, UNCONFIRMED, spec §7.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claim {
    pub id: String,
    pub request: Value,
}

fn token_key(scope: &Scope, operation: &str, token: &str) -> DocumentKey {
    DocumentKey::new(TOKEN, scope, &format!("{operation}:{token}"))
}

/// Claim `token` for `operation` with `claim`, unless it is claimed already: the claim the
/// token then has (ours, or the first one's; two racing requests both get the first).
pub async fn claim(
    store: &dyn Store,
    scope: &Scope,
    operation: &str,
    token: &str,
    claim: &Claim,
) -> Result<Claim, FisError> {
    let key = token_key(scope, operation, token);
    let doc = store.put_document_if_absent(&key, &write(claim)?).await?;
    read(TOKEN, token, &doc)
}

/// Give a claimed token back (the operation failed before it made anything).
pub async fn release(store: &dyn Store, scope: &Scope, operation: &str, token: &str) {
    let key = token_key(scope, operation, token);
    if let Err(e) = store.delete_document(&key).await {
        tracing::error!(error = %e, token, "FIS client token not released");
    }
}
