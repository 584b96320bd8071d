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
//! `metadata-options.http-tokens` is the filter of an IMDSv2 migration, and requiring tokens
//! is its modification: as rows it cost three random pages of `instance_attrs` per
//! modification. The generated column `http_tokens` reads the bit of the packed `options`
//! (schema 9), with an index by scope in launch order for either value.
//!
//! `instance-id` is the row's own `instance_id`, whose unique index finds exact values
//! (`pages::Driver::Ids`). As rows its values, random, went to a random leaf of
//! `instance_attrs_scope` for every instance launched: at a million instances, a launch of a
//! thousand dirtied most of a thousand leaves, beside the unique index's own.

use model::filter::{self, Filter};

/// A filter answered from a column: each of its values stands for one value of the column.
#[derive(Debug, PartialEq, Eq)]
pub struct ColumnFilter {
    pub name: &'static str,
    pub column: &'static str,
    values: &'static [(&'static str, i64)],
}

/// `metadata-options.state` (`pending` | `applied`): `instances.pending_apply`.
pub const OPTIONS_STATE: ColumnFilter = ColumnFilter {
    name: "metadata-options.state",
    column: "pending_apply",
    values: &[("pending", 1), ("applied", 0)],
};

/// `metadata-options.http-tokens` (`optional` | `required`): `instances.http_tokens`, the
/// packed options' bit (`served_columns::pack`).
pub const HTTP_TOKENS: ColumnFilter = ColumnFilter {
    name: "metadata-options.http-tokens",
    column: "http_tokens",
    values: &[("optional", 0), ("required", 1)],
};

const ALL: [&ColumnFilter; 2] = [&OPTIONS_STATE, &HTTP_TOKENS];

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
        self.values
            .iter()
            .filter(|(text, _)| f.values.iter().any(|v| filter::matches(v, text)))
            .map(|(_, column)| *column)
            .collect()
    }

    /// Whether `values` (from [`ColumnFilter::matching`]) are every value the column holds:
    /// the filter matches every instance.
    pub fn matches_all(&self, values: &[i64]) -> bool {
        values.len() == self.values.len()
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

    #[test]
    fn tokens_stand_for_the_packed_bit_as_the_model_names_them() {
        use model::options::HttpTokens;
        let filter = |values: &[&str]| Filter {
            name: HTTP_TOKENS.name.into(),
            values: values.iter().map(|v| v.to_string()).collect(),
        };
        assert_eq!(
            (HttpTokens::Optional.as_str(), HttpTokens::Required.as_str()),
            ("optional", "required")
        );
        assert_eq!(HTTP_TOKENS.matching(&filter(&["required"])), vec![1]);
        assert_eq!(HTTP_TOKENS.matching(&filter(&["optional"])), vec![0]);
        assert!(HTTP_TOKENS.matches_all(&HTTP_TOKENS.matching(&filter(&["*"]))));
        assert!(!kept_as_rows("metadata-options.http-tokens"));
        assert!(kept_as_rows("metadata-options.http-endpoint"));
        assert!(!kept_as_rows("instance-id"));
    }
}
