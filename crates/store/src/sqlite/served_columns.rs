//! The compact columns a metadata host loads (schema 6): what [`ServedRecord`] holds beyond
//! the columns every instance row already had (id, scope, state, address), kept beside the
//! JSON document by every write of the row, so that a host starting on a million instances
//! reads a few integers per row instead of having SQLite parse each document.
//!
//! The options are one integer each ([`pack`]): a host reads them with no parsing at all.

use crate::instances::ServedRecord;
use crate::{Result, StoreError};
use model::options::{HopLimit, HttpEndpoint, HttpProtocolIpv6, HttpTokens, InstanceMetadataTags};
use model::{Instance, InstanceState, MetadataOptions, Scope};
use std::net::Ipv4Addr;

/// How many columns there are (for the multi-row statements' parameter count): in order,
/// `launch_time_ms, options, options_generation, applied_generation, applied_options,
/// unsettled_association`.
pub(super) const COUNT: usize = 6;

/// The values of the compact columns of one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Columns {
    pub launch_time_ms: i64,
    pub options: i64,
    pub options_generation: i64,
    pub applied_generation: i64,
    pub applied_options: Option<i64>,
    pub unsettled_association: Option<String>,
}

impl Columns {
    pub fn of(i: &Instance) -> Columns {
        Columns {
            launch_time_ms: i.launch_time_ms,
            options: pack(i.metadata),
            options_generation: i.options_generation as i64,
            applied_generation: i.applied_generation as i64,
            applied_options: i.applied_metadata.map(pack),
            unsettled_association: i.unsettled_association().map(str::to_string),
        }
    }

    /// Bind the columns' values, in their order, to a row of a multi-row statement.
    pub fn bind(&self, b: &mut sqlx::query_builder::Separated<'_, '_, sqlx::Sqlite, &'static str>) {
        b.push_bind(self.launch_time_ms)
            .push_bind(self.options)
            .push_bind(self.options_generation)
            .push_bind(self.applied_generation)
            .push_bind(self.applied_options)
            .push_bind(self.unsettled_association.clone());
    }
}

/// The columns' names, in the order [`Columns::bind`] binds them.
const NAMES: [&str; COUNT] = [
    "launch_time_ms",
    "options",
    "options_generation",
    "applied_generation",
    "applied_options",
    "unsettled_association",
];

/// `, launch_time_ms = v.columnN, …` for an `UPDATE … FROM (VALUES …) AS v` whose rows bind
/// the columns ([`Columns::bind`]) from `v`'s column `first` on. `options` is set only
/// `with_options`: an index holds it (`instances_options_scope`, schema 9), and SQLite moves an index
/// entry whenever an UPDATE sets a column it reads, to the same value or not.
pub(super) fn set_from_values(first: usize, with_options: bool) -> String {
    NAMES
        .iter()
        .enumerate()
        .filter(|(_, name)| with_options || **name != "options")
        .map(|(n, name)| format!(", {name} = v.column{}", first + n))
        .collect()
}

/// The select list of one served instance as `reads::served_instances` reads it: the row's
/// own columns `instance_id, account, region, state, private_ip`, then the compact columns, joined
/// by spaces into one text (none of them holds a space; a NULL is empty). One value per row
/// rather than eleven: sqlx copies each value of each row on its own (an allocation, and for
/// a text a copy), which at a million instances was half of the load.
pub(super) const JOINED: &str = "instance_id || ' ' || account || ' ' || region || ' ' || state || ' ' || private_ip \
     || ' ' || launch_time_ms || ' ' || options || ' ' || options_generation || ' ' || applied_generation \
     || ' ' || coalesce(applied_options, '') || ' ' || coalesce(unsettled_association, '')";

/// The [`ServedRecord`] of a row's [`JOINED`] text; a value no write makes is
/// [`StoreError::Corrupt`].
pub(super) fn record(joined: &str) -> Result<ServedRecord> {
    let mut fields = joined.split(' ');
    let mut next = |column: &str| fields.next().ok_or_else(|| corrupt(joined, column));
    let id = next("instance_id")?;
    let account = next("account")?;
    let region = next("region")?;
    let state = next("state")?;
    let ip = next("private_ip")?;
    let launch = next("launch_time_ms")?;
    let options = next("options")?;
    let generation = next("options_generation")?;
    let applied = next("applied_generation")?;
    let applied_options = next("applied_options")?;
    let association = next("unsettled_association")?;
    let int = |v: &str, column: &str| v.parse::<i64>().map_err(|_| corrupt(id, column));
    let packed = |v: &str, column: &str| unpack(int(v, column)?).ok_or_else(|| corrupt(id, column));
    Ok(ServedRecord {
        instance_id: id.to_string(),
        scope: Scope::new(account, region),
        state: state_of(id, state)?,
        private_ip: ip
            .parse::<Ipv4Addr>()
            .map_err(|_| corrupt(id, "private_ip"))?,
        launch_time_ms: int(launch, "launch_time_ms")?,
        metadata: packed(options, "options")?,
        options_generation: int(generation, "options_generation")? as u64,
        applied_generation: int(applied, "applied_generation")? as u64,
        applied_metadata: match applied_options {
            "" => None,
            v => Some(packed(v, "applied_options")?),
        },
        unsettled_association: match association {
            "" => None,
            a => Some(a.to_string()),
        },
    })
}

/// The state the `state` column of instance `id` names.
pub(super) fn state_of(id: &str, state: &str) -> Result<InstanceState> {
    InstanceState::ALL
        .into_iter()
        .find(|s| s.as_str() == state)
        .ok_or_else(|| corrupt(id, "state"))
}

pub(super) fn corrupt(row: &str, column: &str) -> StoreError {
    use serde::de::Error;
    StoreError::Corrupt(serde_json::Error::custom(format!(
        "instance {row}: {column} holds a value no write makes"
    )))
}

/// The fields of the packed options, as masks (`pages::column_filters` reads them; it tests that
/// they hold what the model names).
pub(crate) const HOP_LIMIT: i64 = 0xff;
pub(crate) const TOKENS_REQUIRED: i64 = 1 << 8;
pub(crate) const ENDPOINT_ENABLED: i64 = 1 << 9;
pub(crate) const IPV6_ENABLED: i64 = 1 << 10;
pub(crate) const TAGS_ENABLED: i64 = 1 << 11;

/// The options as one integer: the hop limit in the low byte, then a bit per two-valued
/// option. Stored, so the layout never changes.
pub(crate) fn pack(o: MetadataOptions) -> i64 {
    let bit = |on: bool, b: i64| if on { b } else { 0 };
    i64::from(o.hop_limit.get())
        | bit(o.http_tokens == HttpTokens::Required, TOKENS_REQUIRED)
        | bit(o.http_endpoint.is_enabled(), ENDPOINT_ENABLED)
        | bit(o.http_protocol_ipv6.is_enabled(), IPV6_ENABLED)
        | bit(o.instance_metadata_tags.is_enabled(), TAGS_ENABLED)
}

/// The options [`pack`] made `v` of; `None` for an integer it never makes.
pub(super) fn unpack(v: i64) -> Option<MetadataOptions> {
    if v & !0xfff != 0 {
        return None;
    }
    let on = |b: i64| v & b != 0;
    Some(MetadataOptions {
        http_tokens: if on(TOKENS_REQUIRED) {
            HttpTokens::Required
        } else {
            HttpTokens::Optional
        },
        hop_limit: HopLimit::new(v & HOP_LIMIT).ok()?,
        http_endpoint: if on(ENDPOINT_ENABLED) {
            HttpEndpoint::Enabled
        } else {
            HttpEndpoint::Disabled
        },
        http_protocol_ipv6: if on(IPV6_ENABLED) {
            HttpProtocolIpv6::Enabled
        } else {
            HttpProtocolIpv6::Disabled
        },
        instance_metadata_tags: if on(TAGS_ENABLED) {
            InstanceMetadataTags::Enabled
        } else {
            InstanceMetadataTags::Disabled
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_option_set_packs_and_unpacks_to_itself() {
        for tokens in [HttpTokens::Optional, HttpTokens::Required] {
            for hop in [1, 2, 17, 64] {
                for e in [HttpEndpoint::Enabled, HttpEndpoint::Disabled] {
                    for v6 in [HttpProtocolIpv6::Enabled, HttpProtocolIpv6::Disabled] {
                        for t in [
                            InstanceMetadataTags::Enabled,
                            InstanceMetadataTags::Disabled,
                        ] {
                            let o = MetadataOptions {
                                http_tokens: tokens,
                                hop_limit: HopLimit::new(hop).unwrap(),
                                http_endpoint: e,
                                http_protocol_ipv6: v6,
                                instance_metadata_tags: t,
                            };
                            assert_eq!(unpack(pack(o)), Some(o), "{o:?}");
                        }
                    }
                }
            }
        }
        assert_eq!(unpack(0), None, "a hop limit of 0 is never written");
        assert_eq!(unpack(1 << 12 | 1), None);
    }
}
