//! The store conformance suite: what every backend of [`Store`] must do, checked through the
//! traits alone. A backend's tests run each function on a fresh [`Backend`] (see
//! `tests/sqlite.rs`); a new backend (PostgreSQL) runs the same functions. The functions
//! panic on a failure, as tests do.
//!
//! - [`instances`]: addresses, refused writes, filters and pages, client tokens, profile
//!   associations.
//! - [`feed`]: durability across a reopen, the feed's order, contents and trim.
//! - [`network`]: the VPCs and subnets accounts create.
//! - [`records`]: launch templates and images.
//! - [`tags`]: DescribeTags' filters and pages.
//! - [`pages`]: what a DescribeInstances page reads (given the backend's count of rows read).
//! - [`events`]: instance events' steps taken when due.
//! - [`documents`]: other services' documents, by kind and scope, in the order written.

mod documents;
mod events;
mod feed;
mod instances;
mod network;
pub mod pages;
mod records;
mod tags;

pub use documents::*;
pub use events::*;
pub use feed::*;
pub use instances::*;
pub use network::*;
pub use records::*;
pub use tags::*;

use crate as store;
use crate::{LaunchRequest, Store};
use model::instance::Instance;
use model::{catalogue, Ec2Error, Scope};
use std::future::Future;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// Calls the macro `$m` with every case of the suite, so that each backend's tests
/// instantiate the same list (`tests/sqlite.rs`, `tests/postgres.rs`).
#[macro_export]
macro_rules! every_conformance_case {
    ($m:ident) => {
        $m!(
            addresses_are_unique_and_refusals_change_nothing,
            the_gate_sees_what_the_write_read_and_its_refusal_writes_nothing,
            acknowledged_writes_survive_reopen_and_feed_is_ordered,
            filters_and_pages,
            client_token_replays_the_launch,
            profile_associations_feed_lookup_and_settle,
            changes_are_read_with_the_instance_now_and_the_feed_says_where_it_starts,
            addresses_are_allocated_lowest_first_and_released_at_termination,
            the_feed_keeps_an_hour_and_always_the_latest,
            vpcs_and_subnets_are_kept_per_scope,
            templates_and_images_are_kept_per_scope,
            pages_skip_and_repeat_nothing_while_the_fleet_changes,
            tag_filters_and_pages,
            served_instances_are_what_the_records_say,
            writes_queued_together_see_each_other_and_refusals_stay_alone,
            lifecycle_steps_leave_instances_as_the_model_advances_them,
            instance_events_take_their_steps_when_due,
            documents_are_kept_by_kind_and_scope_in_the_order_written,
            a_document_is_replaced_only_over_what_was_read,
        );
    };
}

/// A place a backend keeps one store: `open` opens it (the first time empty; again after the
/// store was closed, with everything acknowledged before).
pub trait Backend: Sync {
    fn open(&self) -> impl Future<Output = Arc<dyn Store>>;
}

pub fn scope() -> Scope {
    Scope::new("123456789012", "us-west-2")
}

pub(crate) fn proto(n: u32, ip: Ipv4Addr, subnet: &str) -> Instance {
    let mut i = model::testing::instance("m5.large");
    i.instance_id = format!("i-{:017x}", 0x1000 + n as u64);
    i.scope = scope();
    i.private_ip = ip;
    i.subnet_id = subnet.into();
    i.availability_zone = "us-west-2a".into();
    i.ami_launch_index = n;
    i
}

/// A directory of its own for one test under the system's temp dir (named by `name` and the
/// process), empty at first and removed with its contents when dropped.
pub struct TempDir(pub std::path::PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        let d = std::env::temp_dir().join(format!("imds-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        TempDir(d)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// ModifyInstanceMetadataOptions with `HttpTokens=required` on these instances (a new
/// generation of options, pending until acknowledged): `(before, after)` of each.
pub async fn require_tokens(s: &dyn Store, ids: &[String]) -> Vec<(Instance, Instance)> {
    s.update_instances(
        &scope(),
        ids,
        crate::ungated(),
        Box::new(|i, mc| {
            let patch = model::OptionsPatch {
                http_tokens: Some(model::HttpTokens::Required),
                ..Default::default()
            };
            i.modify_metadata(&patch, &mc.defaults)
        }),
    )
    .await
    .unwrap()
}

/// Launch `count` instances into the first default subnet of us-west-2.
pub async fn launch(s: &dyn Store, count: u32) -> Vec<Instance> {
    launch_outcome(s, count, None).await.instances
}

/// The same, with a client token (each instance carries it, as RunInstances writes it).
pub(crate) async fn launch_outcome(
    s: &dyn Store,
    count: u32,
    token: Option<&str>,
) -> store::LaunchOutcome {
    let subnet = catalogue::default_vpc("us-west-2").subnets[0]
        .subnet_id
        .clone();
    let sub = subnet.clone();
    let token = token.map(str::to_string);
    let client_token = token.clone();
    s.launch(
        &scope(),
        LaunchRequest {
            count,
            client_token,
            subnet_id: subnet,
            private_ip: None,
        },
        Box::new(move |lc| {
            Ok(lc
                .addresses
                .iter()
                .enumerate()
                .map(|(n, ip)| {
                    let mut i = proto(n as u32 + rand_id(), *ip, &sub);
                    i.client_token = token.clone();
                    i
                })
                .collect())
        }),
    )
    .await
    .unwrap()
}

pub(crate) fn rand_id() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    N.fetch_add(1000, Ordering::SeqCst)
}

/// A launch with an explicit address (or none) into the first default subnet of us-west-2.
pub(crate) async fn launch_at(
    s: &dyn Store,
    subnet: &str,
    ip: Option<Ipv4Addr>,
) -> store::Result<Instance> {
    let sub = subnet.to_string();
    s.launch(
        &scope(),
        LaunchRequest {
            count: 1,
            client_token: None,
            subnet_id: subnet.into(),
            private_ip: ip,
        },
        Box::new(move |lc| Ok(vec![proto(rand_id(), lc.addresses[0], &sub)])),
    )
    .await
    .map(|mut o| o.instances.remove(0))
}

pub(crate) fn tag(key: &str, value: &str) -> model::tags::Tag {
    model::tags::Tag {
        key: key.into(),
        value: value.into(),
    }
}

/// The tags DescribeTags lists in the scope, as `id type key value` lines, sorted.
pub(crate) async fn listed_tags(s: &dyn Store) -> Vec<String> {
    let page = s
        .describe_tags(&scope(), &store::TagQuery::default())
        .await
        .unwrap();
    let mut out: Vec<String> = page
        .tags
        .into_iter()
        .map(|t| {
            format!(
                "{} {} {} {}",
                t.resource_id, t.resource_type, t.key, t.value
            )
        })
        .collect();
    out.sort();
    out
}

pub(crate) fn refused(r: store::Result<impl std::fmt::Debug>) -> Ec2Error {
    match r {
        Err(store::StoreError::Refused(e)) => e,
        other => panic!("expected a refusal, got {other:?}"),
    }
}
