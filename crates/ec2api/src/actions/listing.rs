//! Listings made from the caller's instances (DescribeInstanceStatus, DescribeVolumes,
//! DescribeNetworkInterfaces, DescribeInstanceCreditSpecifications,
//! DescribeIamInstanceProfileAssociations), read from the store a page at a time rather
//! than built in memory from every instance.
//!
//! A listing gives the store what it can select by (ids, and filters on the instances'
//! own attributes, which the store answers from its indexes: [`InstanceListing::filters`]),
//! and makes each item from an instance, or none (what only the listing knows: an
//! association's state, a credit option). It reads the store's pages in launch order after
//! the request's `NextToken` (the store's position, with the listing's prefix), until it
//! holds `MaxResults` items; without `MaxResults` it reads on, a chunk at a time, to the end.
//! Each instance makes one item at most, so a page of `MaxResults` reads at most that many
//! instances per round trip, and the position of the last instance read is where the next
//! page starts.

use super::{encode_token, page_after};
use crate::context::Ctx;
use model::filter::Filter;
use model::instance::{Instance, InstanceState};
use model::Ec2Error;
use serde_json::Value;

/// Instances read per round trip when the request has no `MaxResults`.
const CHUNK: u32 = 1000;

/// What one listing asks the store for.
pub struct InstanceListing<'a> {
    /// The `NextToken` prefix naming the listing.
    pub kind: &'a str,
    /// The instances named, if any (each must exist, as DescribeInstances requires).
    pub ids: Option<Vec<String>>,
    /// Filters on the instances' own attributes (`filter::INSTANCE_FILTERS` and the store's
    /// other attributes), answered by the store.
    pub filters: Vec<Filter>,
    pub limit: Option<u32>,
}

/// The instance filter that keeps only the states `keep` accepts (e.g. not terminated).
pub fn states_where(keep: impl Fn(InstanceState) -> bool) -> Filter {
    Filter {
        name: "instance-state-name".into(),
        values: InstanceState::ALL
            .iter()
            .filter(|s| keep(**s))
            .map(|s| s.as_str().to_string())
            .collect(),
    }
}

impl InstanceListing<'_> {
    /// One page: the items `item` makes, under `member`, with `NextToken` while the store
    /// holds more after the last instance read.
    pub async fn page(
        self,
        ctx: &Ctx<'_>,
        member: &str,
        token: &Option<String>,
        mut item: impl FnMut(&Instance) -> Option<Value>,
    ) -> Result<Value, Ec2Error> {
        let mut after = page_after(self.kind, token)?;
        let mut items = Vec::new();
        let next = loop {
            let want = match self.limit {
                Some(l) => l.saturating_sub(items.len() as u32),
                None => CHUNK,
            };
            if want == 0 {
                break after;
            }
            let query = store::InstanceQuery {
                ids: self.ids.clone(),
                filters: self.filters.clone(),
                after,
                limit: Some(want),
            };
            let page = ctx.api.store.describe_instances(&ctx.scope, &query).await?;
            items.extend(page.instances.iter().filter_map(&mut item));
            match page.next {
                Some(n) => after = Some(n),
                None => break None,
            }
        };
        let mut out = serde_json::json!({ member: items });
        if let Some(next) = next {
            out["NextToken"] = Value::String(encode_token(self.kind, next));
        }
        Ok(out)
    }
}
