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

const ALL: [&ColumnFilter; 1] = [&OPTIONS_STATE];

/// The column filter of this name, if it is one.
pub fn of(name: &str) -> Option<&'static ColumnFilter> {
    ALL.into_iter().find(|c| c.name == name)
}

/// Whether the store keeps rows of this filter attribute in `instance_attrs` (the others
/// are columns).
pub fn kept_as_rows(name: &str) -> bool {
    of(name).is_none()
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
        assert!(kept_as_rows("metadata-options.http-tokens"));
    }
}
