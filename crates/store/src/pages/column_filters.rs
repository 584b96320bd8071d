//! DescribeInstances filters answered from a column of `instances`, not from filter rows.
//!
//! `metadata-options.state` changes with every ModifyInstanceMetadataOptions (to `pending`)
//! and again with the metadata host's acknowledgement (to `applied`). As rows of
//! `instance_attrs` each change moved the instance's row out of one value's range of the
//! scope index and into the other's: two random index pages written per modification and
//! two per acknowledgement, beside the instance's own row (the acknowledgement wrote filter
//! rows for nothing else). The column `pending_apply`, which every write keeps and the
//! metadata hosts read, says the same; its pending rows have an index of their own by scope
//! (`instances_pending_scope`, schema 8), so a page of pending instances still reads what
//! it returns.
//!
//! The other `metadata-options.*` filters are fields of the packed `options`
//! (`served_columns::pack`), which every write keeps and an index by scope holds
//! (`instances_options_scope`, schema 9): a scope holds few distinct packed values, so a
//! page looks them up (one index seek each), keeps those whose field the filter matches, and
//! reads their ranges merged in launch order. As rows of `instance_attrs` they were six of
//! an instance's ~19 (twelve b-tree entries a launch), and requiring IMDSv2 rewrote the
//! instance's leaf of their primary key and moved an entry of `instance_attrs_scope`: three
//! random pages and two statements per modification, where the options' index moves one
//! entry, written by the row's own UPDATE.
//!
//! `instance-id` is the row's own `instance_id`, whose unique index finds exact values
//! (`pages::Driver::Ids`): its filter rows were one more entry per instance launched.

use crate::sqlite::served_columns;
use model::filter::{self, Filter};
use std::borrow::Cow;

/// The values a column filter's column holds, as the filter names them.
#[derive(Debug, PartialEq, Eq)]
enum Values {
    /// Each text stands for one value.
    Named(&'static [(&'static str, i64)]),
    /// The integers `low..=high`, named in decimal.
    Decimal { low: i64, high: i64 },
}

/// A filter answered from a column: each of its values stands for one value of the column.
#[derive(Debug, PartialEq, Eq)]
pub struct ColumnFilter {
    pub name: &'static str,
    /// The column of `instances` it reads; for a field of the packed options, `options`.
    column: &'static str,
    values: Values,
    /// For a field of the packed options: its mask (`served_columns`). Such a filter drives
    /// through the packed values the scope holds, not through [`ColumnFilter::column`].
    packed: Option<i64>,
    /// Whether the column is a boolean (`1` true, `0` false): an integer on SQLite, a
    /// `BOOLEAN` on PostgreSQL.
    boolean: bool,
}

/// `metadata-options.state` (`pending` | `applied`): `instances.pending_apply`.
pub const OPTIONS_STATE: ColumnFilter = ColumnFilter {
    name: "metadata-options.state",
    column: "pending_apply",
    values: Values::Named(&[("pending", 1), ("applied", 0)]),
    packed: None,
    boolean: true,
};

/// A filter of a field of the packed options.
const fn packed(name: &'static str, mask: i64, values: Values) -> ColumnFilter {
    ColumnFilter {
        name,
        column: "options",
        values,
        packed: Some(mask),
        boolean: false,
    }
}

/// `enabled` | `disabled`, as a bit.
const SWITCH: Values = Values::Named(&[("disabled", 0), ("enabled", 1)]);

/// `metadata-options.http-tokens` (`optional` | `required`).
pub const HTTP_TOKENS: ColumnFilter = packed(
    "metadata-options.http-tokens",
    served_columns::TOKENS_REQUIRED,
    Values::Named(&[("optional", 0), ("required", 1)]),
);

/// `metadata-options.http-endpoint`.
pub const HTTP_ENDPOINT: ColumnFilter = packed(
    "metadata-options.http-endpoint",
    served_columns::ENDPOINT_ENABLED,
    SWITCH,
);

/// `metadata-options.http-protocol-ipv4`: the endpoint's bit (IPv4 is on whenever the
/// endpoint is; there is no option of its own, `MetadataOptions::filter_attributes`).
pub const HTTP_PROTOCOL_IPV4: ColumnFilter = ColumnFilter {
    name: "metadata-options.http-protocol-ipv4",
    ..HTTP_ENDPOINT
};

/// `metadata-options.http-protocol-ipv6`.
pub const HTTP_PROTOCOL_IPV6: ColumnFilter = packed(
    "metadata-options.http-protocol-ipv6",
    served_columns::IPV6_ENABLED,
    SWITCH,
);

/// `metadata-options.instance-metadata-tags`.
pub const INSTANCE_METADATA_TAGS: ColumnFilter = packed(
    "metadata-options.instance-metadata-tags",
    served_columns::TAGS_ENABLED,
    SWITCH,
);

/// `metadata-options.http-put-response-hop-limit` (1 to 64).
pub const HOP_LIMIT: ColumnFilter = packed(
    "metadata-options.http-put-response-hop-limit",
    served_columns::HOP_LIMIT,
    Values::Decimal { low: 1, high: 64 },
);

const ALL: [&ColumnFilter; 7] = [
    &OPTIONS_STATE,
    &HTTP_TOKENS,
    &HTTP_ENDPOINT,
    &HTTP_PROTOCOL_IPV4,
    &HTTP_PROTOCOL_IPV6,
    &INSTANCE_METADATA_TAGS,
    &HOP_LIMIT,
];

/// The column filter of this name, if it is one.
pub fn of(name: &str) -> Option<&'static ColumnFilter> {
    ALL.into_iter().find(|c| c.name == name)
}

/// `instance-id`: answered from `instances.instance_id`.
pub const INSTANCE_ID: &str = "instance-id";

/// Whether the store keeps rows of this filter attribute in `instance_attrs` (the others
/// are columns).
pub fn kept_as_rows(name: &str) -> bool {
    of(name).is_none() && name != INSTANCE_ID
}

impl ColumnFilter {
    /// The column's values that `f`'s values match (exact, or with EC2's wildcards), in
    /// order and once each.
    pub fn matching(&self, f: &Filter) -> Vec<i64> {
        let named = |text: &str| f.values.iter().any(|v| filter::matches(v, text));
        match self.values {
            Values::Named(values) => values
                .iter()
                .filter(|(text, _)| named(text))
                .map(|(_, column)| *column)
                .collect(),
            Values::Decimal { low, high } => {
                (low..=high).filter(|n| named(&n.to_string())).collect()
            }
        }
    }

    /// Whether `values` (from [`ColumnFilter::matching`]) are every value the column holds:
    /// the filter matches every instance.
    pub fn matches_all(&self, values: &[i64]) -> bool {
        let all = match self.values {
            Values::Named(values) => values.len(),
            Values::Decimal { low, high } => (high - low + 1) as usize,
        };
        values.len() == all
    }

    /// Whether the column is a boolean (see [`ColumnFilter::matching`]'s `1` and `0`).
    pub fn is_boolean(&self) -> bool {
        self.boolean
    }

    /// Whether the filter reads a field of the packed options (and drives by them).
    pub fn is_packed(&self) -> bool {
        self.packed.is_some()
    }

    /// The SQL expression of an `instances` row that holds the filter's column values,
    /// unqualified (a page's statements read one `instances`, and `instance_attrs` has no
    /// such column): the column, or the packed options' field shifted down.
    pub fn column(&self) -> Cow<'static, str> {
        match self.packed {
            Some(mask) => {
                format!("(({} & {mask}) >> {})", self.column, mask.trailing_zeros()).into()
            }
            None => self.column.into(),
        }
    }

    /// Of these packed options values, those whose field is one of `values` (from
    /// [`ColumnFilter::matching`]); none for a filter of another column.
    pub fn packed_matching(&self, packed: &[i64], values: &[i64]) -> Vec<i64> {
        let Some(mask) = self.packed else {
            return Vec::new();
        };
        packed
            .iter()
            .copied()
            .filter(|p| values.contains(&((p & mask) >> mask.trailing_zeros())))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn f(values: &[&str]) -> Filter {
        Filter {
            name: OPTIONS_STATE.name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        }
    }

    #[test]
    fn values_stand_for_the_column_as_the_model_names_them() {
        assert_eq!(
            (
                model::OptionsState::Pending.as_str(),
                model::OptionsState::Applied.as_str()
            ),
            ("pending", "applied")
        );
        assert_eq!(OPTIONS_STATE.matching(&f(&["pending"])), vec![1]);
        assert_eq!(OPTIONS_STATE.matching(&f(&["applied"])), vec![0]);
        assert_eq!(OPTIONS_STATE.matching(&f(&["p*"])), vec![1]);
        assert_eq!(OPTIONS_STATE.matching(&f(&["*", "applied"])), vec![1, 0]);
        assert!(OPTIONS_STATE.matching(&f(&["Pending", "none"])).is_empty());
        assert!(!kept_as_rows("metadata-options.state"));
        assert!(OPTIONS_STATE.matches_all(&OPTIONS_STATE.matching(&f(&["*"]))));
        assert!(!OPTIONS_STATE.matches_all(&OPTIONS_STATE.matching(&f(&["p*"]))));
    }

    /// Every option set, packed: each packed filter matches the text the model gives its
    /// attribute and no other value, from the packed integer as a page looks it up and from
    /// the column's SQL expression as a page probes it.
    #[tokio::test]
    async fn packed_filters_read_the_fields_the_model_names() {
        use crate::sqlite::served_columns::pack;
        use model::options::*;
        use sqlx::{Connection, SqliteConnection};
        let mut conn = SqliteConnection::connect("sqlite::memory:").await.unwrap();
        let mut sets = Vec::new();
        for tokens in [HttpTokens::Optional, HttpTokens::Required] {
            for hop in [1, 2, 64] {
                for e in [HttpEndpoint::Enabled, HttpEndpoint::Disabled] {
                    for v6 in [HttpProtocolIpv6::Enabled, HttpProtocolIpv6::Disabled] {
                        for t in [
                            InstanceMetadataTags::Enabled,
                            InstanceMetadataTags::Disabled,
                        ] {
                            sets.push(MetadataOptions {
                                http_tokens: tokens,
                                hop_limit: HopLimit::new(hop).unwrap(),
                                http_endpoint: e,
                                http_protocol_ipv6: v6,
                                instance_metadata_tags: t,
                            });
                        }
                    }
                }
            }
        }
        let filter = |name: &str, value: &str| Filter {
            name: name.into(),
            values: vec![value.into()],
        };
        for o in sets {
            let p = pack(o);
            let attrs = o.filter_attributes();
            assert_eq!(
                ALL.iter().filter(|c| c.is_packed()).count(),
                attrs.len(),
                "a packed filter for each attribute of the options"
            );
            for (name, text) in attrs {
                let c = of(name).unwrap_or_else(|| panic!("{name} is a column filter"));
                assert!(!kept_as_rows(name));
                let values = c.matching(&filter(name, &text));
                assert_eq!(c.packed_matching(&[p], &values), vec![p], "{name}={text}");
                for other in ["enabled", "disabled", "optional", "required", "1", "3"] {
                    if other != text {
                        let values = c.matching(&filter(name, other));
                        assert!(
                            c.packed_matching(&[p], &values).is_empty(),
                            "{name}={other}"
                        );
                    }
                }
                let field: i64 = sqlx::query_scalar(&format!(
                    "SELECT {} FROM (SELECT ? AS options)",
                    c.column()
                ))
                .bind(p)
                .fetch_one(&mut conn)
                .await
                .unwrap();
                assert_eq!(values, vec![field], "{name}: {}", c.column());
            }
        }
        assert!(HOP_LIMIT.matches_all(&HOP_LIMIT.matching(&filter(HOP_LIMIT.name, "*"))));
        assert_eq!(
            HOP_LIMIT.matching(&filter(HOP_LIMIT.name, "6?")),
            (60..=64).collect::<Vec<_>>()
        );
        assert!(!OPTIONS_STATE.is_packed());
        assert!(!kept_as_rows("instance-id"));
        assert!(kept_as_rows("instance-type"));
    }
}
