//! The one table from an error to its EC2 code and HTTP status (spec ec2-api.md §1.5).
//! No handler chooses a code or a status; they return an [`Ec2Error`] and this maps it.

use model::Ec2Error;

/// `(HTTP status, code, message)` of an error before an IAM or STS call reached its action
/// (authentication, decoding): IAM and STS name an unknown key `InvalidClientTokenId` (403)
/// where EC2 says `AuthFailure` (401), and expired session credentials `ExpiredToken` (403)
/// where EC2 says `RequestExpired` (botocore `iam`/`sts` models; STS API Reference,
/// "Common Errors"); an unsigned request is `MissingAuthenticationToken` (403) where EC2 says
/// `MissingParameter`, and a credential scoped elsewhere `SignatureDoesNotMatch` with Coral's
/// message (wave2 §3.2; timkay/aws#111 quotes CloudFormation's, a Query service) where EC2
/// says `AuthFailure`. Everything else is coded as EC2 codes it.
pub fn query_code_and_status(e: &Ec2Error) -> (u16, &'static str, String) {
    match e {
        Ec2Error::ExpiredToken => (403, "ExpiredToken", e.to_string()),
        Ec2Error::Unsigned => (
            403,
            "MissingAuthenticationToken",
            "Request is missing Authentication Token".to_string(),
        ),
        Ec2Error::CredentialScope(m) => (403, "SignatureDoesNotMatch", m.clone()),
        Ec2Error::AuthFailure => (
            403,
            "InvalidClientTokenId",
            "The security token included in the request is invalid.".to_string(),
        ),
        _ => {
            let (status, code) = code_and_status(e);
            (status, code, e.to_string())
        }
    }
}

/// `(HTTP status, EC2 error code)` of an error.
pub fn code_and_status(e: &Ec2Error) -> (u16, &'static str) {
    use Ec2Error::*;
    match e {
        InvalidAction(_) => (400, "InvalidAction"),
        MissingAction => (400, "MissingAction"),
        MissingParameter(_) => (400, "MissingParameter"),
        UnknownParameter(_) => (400, "UnknownParameter"),
        InvalidParameterValue(_) | InvalidParameterValueAddress { .. } => {
            (400, "InvalidParameterValue")
        }
        InvalidParameterCombination(_) => (400, "InvalidParameterCombination"),
        InvalidParameter(_) => (400, "InvalidParameter"),
        InvalidPaginationToken(_) => (400, "InvalidPaginationToken"),
        FilterLimitExceeded(_) => (400, "FilterLimitExceeded"),
        DryRunOperation => (412, "DryRunOperation"),
        MalformedQueryString(_) => (400, "MalformedQueryString"),
        RequestExpired | ExpiredToken => (400, "RequestExpired"),
        AuthFailure | AuthFailureMessage(_) | CredentialScope(_) => (401, "AuthFailure"),
        SignatureDoesNotMatch | HostNotSigned => (403, "SignatureDoesNotMatch"),
        IncompleteSignature(_) => (400, "IncompleteSignature"),
        Unsigned => (400, "MissingParameter"),
        UnauthorizedOperation(_) => (403, "UnauthorizedOperation"),
        InvalidInstanceIdMalformed(_) => (400, "InvalidInstanceID.Malformed"),
        InvalidInstanceIdNotFound(_) => (400, "InvalidInstanceID.NotFound"),
        InvalidAmiIdMalformed(_) | InvalidAmiIdMalformedAttr(_) => (400, "InvalidAMIID.Malformed"),
        InvalidAmiIdNotFound(_) => (400, "InvalidAMIID.NotFound"),
        InvalidId(_) => (400, "InvalidID"),
        InvalidSubnetIdNotFound(_) => (400, "InvalidSubnetID.NotFound"),
        InvalidVpcIdNotFound(_) => (400, "InvalidVpcID.NotFound"),
        InvalidRouteTableIdNotFound(_) => (400, "InvalidRouteTableID.NotFound"),
        InvalidVolumeIdMalformed(_) => (400, "InvalidVolumeID.Malformed"),
        InvalidVolumeNotFound(_) => (400, "InvalidVolume.NotFound"),
        InvalidInstanceType(_) => (400, "InvalidInstanceType"),
        InvalidLaunchTemplateIdMalformed(_) => (400, "InvalidLaunchTemplateId.Malformed"),
        InvalidLaunchTemplateIdNotFound(_) => (400, "InvalidLaunchTemplateId.NotFound"),
        InvalidLaunchTemplateNameNotFound(_) => {
            (400, "InvalidLaunchTemplateName.NotFoundException")
        }
        InvalidLaunchTemplateNameAlreadyExists => {
            (400, "InvalidLaunchTemplateName.AlreadyExistsException")
        }
        InvalidLaunchTemplateNameMalformed(_) => {
            (400, "InvalidLaunchTemplateName.MalformedException")
        }
        InvalidLaunchTemplateIdVersionNotFound { .. } => {
            (400, "InvalidLaunchTemplateId.VersionNotFound")
        }
        InvalidIpAddressInUse(_) => (400, "InvalidIPAddress.InUse"),
        InsufficientFreeAddressesInSubnet(_) => (400, "InsufficientFreeAddressesInSubnet"),
        InvalidNetworkInterfaceIdNotFound(_) => (400, "InvalidNetworkInterfaceID.NotFound"),
        InvalidGroupNotFound(_) => (400, "InvalidGroup.NotFound"),
        InvalidVpcRange(_) => (400, "InvalidVpc.Range"),
        InvalidSubnetRange(_) => (400, "InvalidSubnet.Range"),
        InvalidSubnetConflict(_) => (400, "InvalidSubnet.Conflict"),
        DependencyViolation(_) => (400, "DependencyViolation"),
        ImageAuthFailure(_) => (401, "AuthFailure"),
        IncorrectInstanceState(_) => (400, "IncorrectInstanceState"),
        IncorrectState(_) => (400, "IncorrectState"),
        InvalidAssociationIdNotFound(_) => (400, "InvalidAssociationID.NotFound"),
        UnsupportedOperation(_) => (400, "UnsupportedOperation"),
        OperationNotPermitted(_) => (400, "OperationNotPermitted"),
        IdempotentParameterMismatch(_) => (400, "IdempotentParameterMismatch"),
        InvalidInstanceAttributeValue(_) => (400, "InvalidInstanceAttributeValue"),
        RequestEntityTooLarge(_) => (413, "RequestEntityTooLarge"),
        InternalError => (500, "InternalError"),
        Unavailable => (503, "Unavailable"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_of_the_spec() {
        assert_eq!(
            code_and_status(&Ec2Error::DryRunOperation),
            (412, "DryRunOperation")
        );
        assert_eq!(
            code_and_status(&Ec2Error::AuthFailure),
            (401, "AuthFailure")
        );
        assert_eq!(
            code_and_status(&Ec2Error::SignatureDoesNotMatch),
            (403, "SignatureDoesNotMatch")
        );
        assert_eq!(
            code_and_status(&Ec2Error::RequestExpired),
            (400, "RequestExpired")
        );
        assert_eq!(
            code_and_status(&Ec2Error::InvalidInstanceIdNotFound(vec!["i-1".into()])),
            (400, "InvalidInstanceID.NotFound")
        );
        assert_eq!(code_and_status(&Ec2Error::InternalError).0, 500);
    }

    #[test]
    fn iam_and_sts_name_authentication_errors_their_own_way() {
        assert_eq!(
            query_code_and_status(&Ec2Error::AuthFailure),
            (
                403,
                "InvalidClientTokenId",
                "The security token included in the request is invalid.".to_string()
            )
        );
        assert_eq!(
            query_code_and_status(&Ec2Error::ExpiredToken).1,
            "ExpiredToken"
        );
        assert_eq!(
            code_and_status(&Ec2Error::ExpiredToken),
            (400, "RequestExpired")
        );
        assert_eq!(
            query_code_and_status(&Ec2Error::SignatureDoesNotMatch).1,
            "SignatureDoesNotMatch"
        );
        // Issue 10 / wave2 §3.2: a credential scoped elsewhere is Coral's
        // SignatureDoesNotMatch on IAM and STS; unsigned is MissingAuthenticationToken there.
        let scope = "Credential should be scoped to correct service: 'sts'. ";
        assert_eq!(
            query_code_and_status(&Ec2Error::CredentialScope(scope.into())),
            (403, "SignatureDoesNotMatch", scope.to_string())
        );
        assert_eq!(
            query_code_and_status(&Ec2Error::Unsigned),
            (
                403,
                "MissingAuthenticationToken",
                "Request is missing Authentication Token".to_string()
            )
        );
        assert_eq!(
            code_and_status(&Ec2Error::HostNotSigned),
            (403, "SignatureDoesNotMatch")
        );
    }
}
