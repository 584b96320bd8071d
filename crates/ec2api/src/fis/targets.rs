//! FIS's side of the instances: a target resolved to instances once, at experiment start
//! [S11] (its ARNs, tags and filters as DescribeInstances filters in the caller's account and
//! Region, then its selection mode); the action's interruptions scheduled on them in one
//! write (all or none: a target that is not a running Spot instance fails the experiment and
//! nothing is scheduled); and StopExperiment's cancellation of those not yet noticed.

use super::FisError;
use crate::error::AwsError;
use model::events::Interruption;
use model::filter::Filter;
use model::fis::{self, SelectionMode, Target};
use model::{Arn, Scope};
use std::collections::HashMap;
use store::{InstanceQuery, Store};

/// A DescribeInstances filter value matching `text` exactly (EC2's wildcards escaped).
fn exact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '*' | '?' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// How many instances a page of the resolution reads.
const PAGE: u32 = 1000;

/// The instances `target` names in `scope`, as instance ARNs in launch order: every instance
/// that has each of its tags (AND across keys: UNCONFIRMED, spec §7.5) or is among its ARNs
/// (ARNs of another account or Region name none), and passes its filters; then the selection
/// mode's pick, random ones from `seed`.
pub async fn resolve(
    store: &dyn Store,
    scope: &Scope,
    target: &Target,
    seed: u64,
) -> Result<Vec<String>, FisError> {
    let mut filters = Vec::new();
    if let Some(arns) = &target.resource_arns {
        let ids: Vec<String> = arns
            .iter()
            .filter_map(|a| fis::instance_of_arn(a, &scope.region, &scope.account))
            .map(|id| exact(&id))
            .collect();
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        filters.push(Filter {
            name: "instance-id".into(),
            values: ids,
        });
    }
    for (k, v) in target.resource_tags.iter().flatten() {
        filters.push(Filter {
            name: format!("tag:{k}"),
            values: vec![exact(v)],
        });
    }
    // `InstanceLifecycle` is not among the store's filters: checked on each instance found.
    let mut lifecycle: Vec<&[String]> = Vec::new();
    for f in target.filters.iter().flatten() {
        match fis::filter_name(&f.path) {
            Some(fis::INSTANCE_LIFECYCLE) => lifecycle.push(&f.values),
            Some(name) => filters.push(Filter {
                name: name.into(),
                values: f.values.clone(),
            }),
            // Refused at Create (`TemplateSpec::validate`).
            None => return Ok(Vec::new()),
        }
    }
    let mut found = Vec::new();
    let mut after = None;
    loop {
        let q = InstanceQuery {
            ids: None,
            filters: filters.clone(),
            after,
            limit: Some(PAGE),
        };
        let page = store.describe_instances(scope, &q).await?;
        found.extend(
            page.instances
                .iter()
                .filter(|i| lifecycle.iter().all(|v| fis::lifecycle_matches(i, v)))
                .map(|i| Arn::instance(&scope.region, &scope.account, &i.instance_id).to_string()),
        );
        match page.next {
            Some(n) if !page.instances.is_empty() => after = Some(n),
            _ => break,
        }
    }
    // Checked at Create; a template kept before a rule changed selects nothing.
    let Ok(mode) = SelectionMode::parse(&target.selection_mode) else {
        return Ok(Vec::new());
    };
    let picked = mode.pick(found.len(), seed);
    Ok(picked.into_iter().map(|k| found[k].clone()).collect())
}

/// Schedule `planned` (instance id → its interruptions) in one write. `Ok(Err(reason))`: the
/// domain refused one (not a Spot instance, not running, already interrupted, gone), in its
/// words, and nothing was scheduled (the action fails with it: UNCONFIRMED text, spec §7.6).
pub async fn schedule(
    store: &dyn Store,
    scope: &Scope,
    planned: HashMap<String, Vec<Interruption>>,
) -> Result<Result<(), String>, FisError> {
    let mut ids: Vec<String> = planned.keys().cloned().collect();
    ids.sort();
    let write = store
        .update_instances(
            scope,
            &ids,
            store::ungated(),
            Box::new(move |i, _| {
                for x in planned.get(&i.instance_id).into_iter().flatten() {
                    i.schedule_interruption(x.clone())?;
                }
                Ok(())
            }),
        )
        .await;
    match write {
        Ok(_) => Ok(Ok(())),
        Err(store::StoreError::Refused(e)) => Ok(Err(e.message())),
        Err(e) => Err(e.into()),
    }
}

/// Cancel the interruptions experiment `source` scheduled on `ids` whose notice has not been
/// given (StopExperiment, case 43); instances gone since are passed over.
pub async fn cancel(
    store: &dyn Store,
    scope: &Scope,
    source: &str,
    ids: &[String],
) -> Result<(), FisError> {
    if ids.is_empty() {
        return Ok(());
    }
    let q = InstanceQuery {
        ids: None,
        filters: vec![Filter {
            name: "instance-id".into(),
            values: ids.iter().map(|i| exact(i)).collect(),
        }],
        after: None,
        limit: Some(ids.len().min(u32::MAX as usize) as u32),
    };
    let present: Vec<String> = store
        .describe_instances(scope, &q)
        .await?
        .instances
        .into_iter()
        .filter(|i| {
            i.events
                .interruption
                .as_ref()
                .is_some_and(|x| x.source == source)
        })
        .map(|i| i.instance_id)
        .collect();
    if present.is_empty() {
        return Ok(());
    }
    let source = source.to_string();
    let write = store
        .update_instances(
            scope,
            &present,
            store::ungated(),
            Box::new(move |i, _| {
                i.cancel_interruption(&source);
                Ok(())
            }),
        )
        .await;
    match write {
        Ok(_) => Ok(()),
        // Gone between the read and the write: nothing left to cancel there.
        Err(store::StoreError::Refused(e)) => {
            tracing::warn!(error = %e, "FIS stop: an instance went away");
            Ok(())
        }
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_match_exactly() {
        assert_eq!(exact("a*b?c\\d"), "a\\*b\\?c\\\\d");
        assert!(model::filter::matches(&exact("a*b"), "a*b"));
        assert!(!model::filter::matches(&exact("a*b"), "aXb"));
    }
}
