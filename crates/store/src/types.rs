//! Requests and pages the [`crate::Store`] trait takes and gives.

use model::filter::Filter;
use model::Instance;
use std::net::Ipv4Addr;

/// What the store needs to know about a launch before the model builds the instances.
#[derive(Debug, Clone)]
pub struct LaunchRequest {
    pub count: u32,
    pub client_token: Option<String>,
    /// The subnet to take addresses from (the caller resolves the default subnet).
    pub subnet_id: String,
    /// An explicit address (only with count 1).
    pub private_ip: Option<Ipv4Addr>,
}

/// Handed to the launch builder inside the write transaction.
#[derive(Debug, Clone)]
pub struct LaunchContext {
    /// One free address per instance, in the subnet asked for.
    pub addresses: Vec<Ipv4Addr>,
    pub defaults: model::AccountDefaults,
}

#[derive(Debug, Clone)]
pub struct LaunchOutcome {
    pub instances: Vec<Instance>,
    /// True when a previous launch with the same client token was returned.
    pub replayed: bool,
}

/// The context a mutation sees.
#[derive(Debug, Clone)]
pub struct MutationContext {
    pub defaults: model::AccountDefaults,
}

#[derive(Debug, Clone, Default)]
pub struct InstanceQuery {
    pub ids: Option<Vec<String>>,
    pub filters: Vec<Filter>,
    /// Resume after this position (from the previous page's `next`).
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone)]
pub struct InstancePage {
    pub instances: Vec<Instance>,
    /// Where the next page starts, when there is one.
    pub next: Option<i64>,
}

#[derive(Debug, Clone, Default)]
pub struct TagQuery {
    pub filters: Vec<Filter>,
    pub after: Option<i64>,
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TagRow {
    pub resource_id: String,
    pub resource_type: String,
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone)]
pub struct TagPage {
    pub tags: Vec<TagRow>,
    pub next: Option<i64>,
}
