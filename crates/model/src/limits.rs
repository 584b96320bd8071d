//! EC2's limits on the size of one request, checked before anything is looked up, authorized
//! or queried (spec wave2.md §3.1: limits are syntactic, evaluated before `NotFound`, IAM and
//! `DryRun`).
//!
//! Two kinds live here. EC2's own published or observed limits (filter values, value length,
//! ids per call), with EC2's codes and words; and the bounds of imds's Query decoder (how many
//! parameters, how long and how deep a parameter name may be), which no AWS source documents:
//! they are set far above anything a well-formed request of the EC2 model reaches, so that
//! only hostile input meets them, and they keep the cost of decoding linear in its size.

use crate::Ec2Error;

/// Filter values on one call, summed over every `Filter.N` (spec wave2.md §3.1 [S18]: 201
/// values in one filter are refused). Counting the sum across filters is the spec's
/// recommendation (UNCONFIRMED), and so is counting a filter without values as one.
pub(crate) const MAX_FILTER_VALUES: usize = 200;

/// Characters in one filter value (spec wave2.md §3.1 [S18]).
pub(crate) const MAX_FILTER_VALUE_LEN: usize = 255;

/// Ids in one `…Id.N` list (EC2 Developer Guide, "Pagination": at most 1,000 ids per call;
/// the error is UNCONFIRMED, spec wave2.md §3.1 recommends `InvalidParameterValue`).
pub(crate) const MAX_IDS: usize = 1000;

/// Parameters in one request (imds's bound, UNCONFIRMED: no AWS source gives one). The
/// largest well-formed EC2 requests (1,000 ids with 200 filter values, CreateTags on 1,000
/// resources with 50 tags) stay far below it.
pub const MAX_PARAMETERS: usize = 10_000;

/// Characters in one parameter name (imds's bound). The longest wire name of the EC2 model
/// imds serves is under 80 characters; a longer name cannot be a known parameter.
pub const MAX_NAME_LEN: usize = 256;

/// Dotted segments in one parameter name (imds's bound). The deepest name of the model is 7
/// segments (`LaunchTemplateData.NetworkInterface.1.PrivateIpAddresses.1.…`); a deeper one
/// cannot be a known parameter.
pub const MAX_NAME_SEGMENTS: usize = 16;

/// The filter values of one call, checked against EC2's limits. `filters` yields, per filter,
/// the lengths (in characters) of its values.
pub fn check_filter_values<F, V>(filters: F) -> Result<(), Ec2Error>
where
    F: IntoIterator<Item = V>,
    V: IntoIterator<Item = usize>,
{
    let mut count = 0usize;
    for values in filters {
        let mut in_filter = 0usize;
        for len in values {
            in_filter += 1;
            if len > MAX_FILTER_VALUE_LEN {
                return Err(Ec2Error::FilterLimitExceeded(format!(
                    "The maximum length for a filter value is {MAX_FILTER_VALUE_LEN} characters"
                )));
            }
        }
        count += in_filter.max(1);
        if count > MAX_FILTER_VALUES {
            return Err(Ec2Error::FilterLimitExceeded(format!(
                "The maximum number of filter values specified on a single call is {MAX_FILTER_VALUES}"
            )));
        }
    }
    Ok(())
}

/// The number of ids in one `…Id.N` list (`parameter` as the request names it).
pub fn check_id_count(parameter: &str, count: usize) -> Result<(), Ec2Error> {
    if count > MAX_IDS {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The request has {count} values for {parameter}; at most {MAX_IDS} are accepted on a single call."
        )));
    }
    Ok(())
}

/// The number of parameters of one request.
pub fn check_parameter_count(count: usize) -> Result<(), Ec2Error> {
    if count > MAX_PARAMETERS {
        return Err(Ec2Error::InvalidParameterValue(format!(
            "The request has more than {MAX_PARAMETERS} parameters."
        )));
    }
    Ok(())
}

/// A parameter name too long or too deep to be one the model knows: `UnknownParameter`, with
/// the name cut to [`MAX_NAME_LEN`] characters so that an error never echoes a huge input.
pub fn check_name(name: &str) -> Result<(), Ec2Error> {
    let too_long = name.len() > MAX_NAME_LEN;
    if too_long || name.split('.').nth(MAX_NAME_SEGMENTS).is_some() {
        return Err(Ec2Error::UnknownParameter(shortened(name)));
    }
    Ok(())
}

/// At most [`MAX_NAME_LEN`] characters of `name`, with `...` when cut.
pub fn shortened(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_LEN) {
        Some((at, _)) => format!("{}...", &name[..at]),
        None => name.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lens(per_filter: &[usize], len: usize) -> Vec<Vec<usize>> {
        per_filter.iter().map(|n| vec![len; *n]).collect()
    }

    // spec wave2.md §3.5 cases 39–41.
    #[test]
    fn case_39_to_41_filter_values() {
        assert_eq!(check_filter_values(lens(&[200], 10)), Ok(()));
        let over = check_filter_values(lens(&[201], 10)).unwrap_err();
        assert_eq!(
            over.to_string(),
            "The maximum number of filter values specified on a single call is 200"
        );
        assert_eq!(
            check_filter_values(lens(&[255], 1)).err(),
            Some(over.clone())
        );
        assert_eq!(check_filter_values(lens(&[100, 101], 1)), Err(over.clone()));
        assert_eq!(check_filter_values(lens(&[100, 100], 1)), Ok(()));
        // Filters without values still count: 990 of them are refused, not queried.
        assert_eq!(check_filter_values(lens(&[0; 990], 1)), Err(over));
        assert_eq!(check_filter_values(lens(&[1], 255)), Ok(()));
        assert_eq!(
            check_filter_values(lens(&[1], 256))
                .unwrap_err()
                .to_string(),
            "The maximum length for a filter value is 255 characters"
        );
    }

    #[test]
    fn ids_parameters_and_names() {
        assert!(check_id_count("InstanceId", 1000).is_ok());
        assert!(matches!(
            check_id_count("InstanceId", 1001),
            Err(Ec2Error::InvalidParameterValue(_))
        ));
        assert!(check_parameter_count(MAX_PARAMETERS).is_ok());
        assert!(check_parameter_count(MAX_PARAMETERS + 1).is_err());
        assert!(check_name("Filter.1.Value.1").is_ok());
        assert!(check_name(&["a"; 16].join(".")).is_ok());
        assert_eq!(
            check_name(&["a"; 17].join(".")),
            Err(Ec2Error::UnknownParameter(["a"; 17].join(".")))
        );
        let long = "x".repeat(30_000);
        match check_name(&long) {
            Err(Ec2Error::UnknownParameter(n)) => assert_eq!(n.len(), MAX_NAME_LEN + 3),
            other => panic!("{other:?}"),
        }
        assert_eq!(shortened("é".repeat(300).as_str()).chars().count(), 259);
    }
}
