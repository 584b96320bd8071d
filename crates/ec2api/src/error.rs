//! Errors that render themselves. Each API dialect has one error enum and one table from an
//! error to its code and HTTP status, the same shape everywhere ([`AwsError::code_and_status`]);
//! the trait writes the dialect's envelope, so that no handler builds an error answer. EC2's
//! table is here, for [`Ec2Error`] (spec ec2-api.md §1.5); IAM's is `iam_api::IamApiError`,
//! STS's `sts::StsError`.

use crate::reply::Reply;
use model::Ec2Error;

/// An error as an AWS API answers it.
pub trait AwsError: std::fmt::Display {
    /// The dialect's one table: this error's code and HTTP status.
    fn code_and_status(&self) -> (&'static str, u16);

    /// The error code (`InvalidParameterValue`, `NoSuchEntity`, …).
    fn code(&self) -> &'static str {
        self.code_and_status().0
    }

    /// The HTTP status of the answer.
    fn status(&self) -> u16 {
        self.code_and_status().1
    }

    /// The message, in the service's wording.
    fn message(&self) -> String {
        self.to_string()
    }

    /// The error in its dialect's envelope.
    fn render(&self, request_id: &str) -> Reply;
}

/// EC2: `<Response><Errors><Error>` (spec ec2-api.md §1.5). No handler chooses a code or a
/// status; they return an [`Ec2Error`] and this table maps it.
impl AwsError for Ec2Error {
    fn code_and_status(&self) -> (&'static str, u16) {
        use Ec2Error::*;
        match self {
            InvalidAction(_) => ("InvalidAction", 400),
            MissingAction => ("MissingAction", 400),
            MissingParameter(_) => ("MissingParameter", 400),
            UnknownParameter(_) => ("UnknownParameter", 400),
            InvalidParameterValue(_) | InvalidParameterValueAddress { .. } => {
                ("InvalidParameterValue", 400)
            }
            InvalidParameterCombination(_) => ("InvalidParameterCombination", 400),
            InvalidParameter(_) => ("InvalidParameter", 400),
            InvalidPaginationToken(_) => ("InvalidPaginationToken", 400),
            FilterLimitExceeded(_) => ("FilterLimitExceeded", 400),
            DryRunOperation => ("DryRunOperation", 412),
            MalformedQueryString(_) => ("MalformedQueryString", 400),
            RequestExpired | ExpiredToken => ("RequestExpired", 400),
            AuthFailure | AuthFailureMessage(_) | CredentialScope(_) => ("AuthFailure", 401),
            SignatureDoesNotMatch | HostNotSigned => ("SignatureDoesNotMatch", 403),
            IncompleteSignature(_) => ("IncompleteSignature", 400),
            Unsigned => ("MissingParameter", 400),
            UnauthorizedOperation(_) => ("UnauthorizedOperation", 403),
            InvalidInstanceIdMalformed(_) => ("InvalidInstanceID.Malformed", 400),
            InvalidInstanceIdNotFound(_) => ("InvalidInstanceID.NotFound", 400),
            InvalidAmiIdMalformed(_) | InvalidAmiIdMalformedAttr(_) => {
                ("InvalidAMIID.Malformed", 400)
            }
            InvalidAmiIdNotFound(_) => ("InvalidAMIID.NotFound", 400),
            InvalidId(_) => ("InvalidID", 400),
            InvalidSubnetIdNotFound(_) => ("InvalidSubnetID.NotFound", 400),
            InvalidVpcIdNotFound(_) => ("InvalidVpcID.NotFound", 400),
            InvalidRouteTableIdNotFound(_) => ("InvalidRouteTableID.NotFound", 400),
            InvalidVolumeIdMalformed(_) => ("InvalidVolumeID.Malformed", 400),
            InvalidVolumeNotFound(_) => ("InvalidVolume.NotFound", 400),
            InvalidInstanceType(_) => ("InvalidInstanceType", 400),
            InvalidLaunchTemplateIdMalformed(_) => ("InvalidLaunchTemplateId.Malformed", 400),
            InvalidLaunchTemplateIdNotFound(_) => ("InvalidLaunchTemplateId.NotFound", 400),
            InvalidLaunchTemplateNameNotFound(_) => {
                ("InvalidLaunchTemplateName.NotFoundException", 400)
            }
            InvalidLaunchTemplateNameAlreadyExists => {
                ("InvalidLaunchTemplateName.AlreadyExistsException", 400)
            }
            InvalidLaunchTemplateNameMalformed(_) => {
                ("InvalidLaunchTemplateName.MalformedException", 400)
            }
            InvalidLaunchTemplateIdVersionNotFound { .. } => {
                ("InvalidLaunchTemplateId.VersionNotFound", 400)
            }
            InvalidIpAddressInUse(_) => ("InvalidIPAddress.InUse", 400),
            InsufficientFreeAddressesInSubnet(_) => ("InsufficientFreeAddressesInSubnet", 400),
            InvalidNetworkInterfaceIdNotFound(_) => ("InvalidNetworkInterfaceID.NotFound", 400),
            InvalidGroupNotFound(_) => ("InvalidGroup.NotFound", 400),
            InvalidVpcRange(_) => ("InvalidVpc.Range", 400),
            InvalidSubnetRange(_) => ("InvalidSubnet.Range", 400),
            InvalidSubnetConflict(_) => ("InvalidSubnet.Conflict", 400),
            DependencyViolation(_) => ("DependencyViolation", 400),
            ImageAuthFailure(_) => ("AuthFailure", 401),
            IncorrectInstanceState(_) => ("IncorrectInstanceState", 400),
            IncorrectState(_) => ("IncorrectState", 400),
            InvalidAssociationIdNotFound(_) => ("InvalidAssociationID.NotFound", 400),
            InvalidSpotInstanceRequestIdNotFound(_) => {
                ("InvalidSpotInstanceRequestID.NotFound", 400)
            }
            UnsupportedOperation(_) => ("UnsupportedOperation", 400),
            OperationNotPermitted(_) => ("OperationNotPermitted", 400),
            IdempotentParameterMismatch(_) => ("IdempotentParameterMismatch", 400),
            InvalidInstanceAttributeValue(_) => ("InvalidInstanceAttributeValue", 400),
            RequestEntityTooLarge(_) => ("RequestEntityTooLarge", 413),
            InternalError => ("InternalError", 500),
            Unavailable => ("Unavailable", 503),
        }
    }

    fn render(&self, request_id: &str) -> Reply {
        let body = crate::protocol::xml::error(self.code(), &self.message(), request_id);
        Reply::new(self.status(), crate::reply::EC2_XML, body)
    }
}

/// `(HTTP status, code)` of an EC2 error: the pair the tests were written against.
#[cfg(test)]
pub(crate) fn code_and_status(e: &Ec2Error) -> (u16, &'static str) {
    (e.status(), e.code())
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
}
