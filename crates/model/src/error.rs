//! Every error a request can get, worded as EC2 words it.
//!
//! The variants carry what the message needs; the wording lives in `Display`. The EC2 error
//! code and HTTP status of each variant are mapped in one table in `ec2api::error`, so no
//! handler ever chooses a code or a status by hand.

use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum Ec2Error {
    // --- protocol ---
    #[error("The action {0} is not valid for this web service.")]
    InvalidAction(String),
    #[error("The request must contain the parameter Action")]
    MissingAction,
    #[error("The request must contain the parameter {0}")]
    MissingParameter(String),
    #[error("The parameter {0} is not recognized")]
    UnknownParameter(String),
    #[error("{0}")]
    InvalidParameterValue(String),
    #[error("{0}")]
    InvalidParameterCombination(String),
    #[error("{0}")]
    InvalidParameter(String),
    #[error("{0}")]
    InvalidPaginationToken(String),
    /// Too many filter values, or one too long (spec wave2.md §3.1).
    #[error("{0}")]
    FilterLimitExceeded(String),
    #[error("Request would have succeeded, but DryRun flag is set.")]
    DryRunOperation,
    #[error("{0}")]
    MalformedQueryString(String),

    // --- authentication ---
    #[error("Request has expired.")]
    RequestExpired,
    /// Session credentials past their expiration: EC2 says `RequestExpired`; STS and IAM
    /// say `ExpiredToken`.
    #[error("The security token included in the request is expired")]
    ExpiredToken,
    #[error("AWS was not able to validate the provided access credentials")]
    AuthFailure,
    #[error("{0}")]
    AuthFailureMessage(String),
    #[error("The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")]
    SignatureDoesNotMatch,
    #[error("{0}")]
    IncompleteSignature(String),
    /// No signature at all where one is required. EC2 says `MissingParameter` (wave2 §3.4,
    /// conformance case 45); IAM and STS say `MissingAuthenticationToken`.
    #[error("The request must contain the parameter AWSAccessKeyId")]
    Unsigned,
    /// A credential scope that does not name this endpoint (Region, service, terminator,
    /// date). EC2 answers with its generic `AuthFailure` sentence (wave2 §3.2); IAM and STS
    /// with Coral's message, carried here.
    #[error("AWS was not able to validate the provided access credentials")]
    CredentialScope(String),
    /// `host` missing from the signed headers (Coral's wording, wave2 §3.2).
    #[error("'Host' must be a 'SignedHeader' in the AWS Authorization.")]
    HostNotSigned,
    #[error("{0}")]
    UnauthorizedOperation(String),

    // --- resources ---
    #[error("Invalid id: \"{0}\"")]
    InvalidInstanceIdMalformed(String),
    /// One or more well-formed ids that do not exist (in this account and region).
    #[error("{}", not_found_instances(.0))]
    InvalidInstanceIdNotFound(Vec<String>),
    #[error("Invalid id: \"{0}\" (expecting \"ami-...\")")]
    InvalidAmiIdMalformed(String),
    #[error("The image id '[{0}]' does not exist")]
    InvalidAmiIdNotFound(String),
    #[error("The image ID '{0}' is not valid. The expected format is ami-xxxxxxxx or ami-xxxxxxxxxxxxxxxxx.")]
    InvalidAmiIdMalformedAttr(String),
    #[error("The specified ID '{0}' is not valid")]
    InvalidId(String),
    #[error("The subnet ID '{0}' does not exist")]
    InvalidSubnetIdNotFound(String),
    #[error("Invalid id: \"{0}\" (expecting \"vol-...\")")]
    InvalidVolumeIdMalformed(String),
    #[error("The volume '{0}' does not exist.")]
    InvalidVolumeNotFound(String),
    #[error("{0}")]
    InvalidInstanceType(String),
    #[error("The routeTable ID '{0}' does not exist")]
    InvalidRouteTableIdNotFound(String),
    #[error("The vpc ID '{0}' does not exist")]
    InvalidVpcIdNotFound(String),
    #[error("The launch template ID '{0}' is malformed. The ID must start with 'lt-' and be followed by 17 hexadecimal characters.")]
    InvalidLaunchTemplateIdMalformed(String),
    #[error("The specified launch template, with template ID {0}, does not exist.")]
    InvalidLaunchTemplateIdNotFound(String),
    #[error("The specified launch template, with template name {0}, does not exist.")]
    InvalidLaunchTemplateNameNotFound(String),
    #[error("Launch template name already in use.")]
    InvalidLaunchTemplateNameAlreadyExists,
    #[error("{0}")]
    InvalidLaunchTemplateNameMalformed(String),
    #[error("Could not find launch template version {version} for launch template {template}.")]
    InvalidLaunchTemplateIdVersionNotFound { template: String, version: String },
    #[error("Address {0} is in use.")]
    InvalidIpAddressInUse(String),
    #[error("Address {address} does not fall within the subnet's address range")]
    InvalidParameterValueAddress { address: String },
    #[error("There are not enough free addresses in subnet '{0}' to satisfy the requested number of instances.")]
    InsufficientFreeAddressesInSubnet(String),
    #[error("The networkInterface ID '{0}' does not exist")]
    InvalidNetworkInterfaceIdNotFound(String),
    #[error("The security group '{0}' does not exist")]
    InvalidGroupNotFound(String),
    #[error("The CIDR '{0}' is invalid.")]
    InvalidVpcRange(String),
    #[error("The CIDR '{0}' is invalid.")]
    InvalidSubnetRange(String),
    #[error("The CIDR '{0}' conflicts with another subnet")]
    InvalidSubnetConflict(String),
    /// A resource that others still depend on (a VPC with subnets, a subnet with instances).
    #[error("{0}")]
    DependencyViolation(String),
    #[error("Not authorized for image:{0}")]
    ImageAuthFailure(String),

    /// An IAM instance profile association id of this account that does not exist (code
    /// `InvalidAssociationID.NotFound`). UNCONFIRMED wording: moto's
    /// (`moto/ec2/exceptions.py`); no live answer is quoted in public sources.
    #[error("An invalid association-id of '{0}' was given")]
    InvalidAssociationIdNotFound(String),
    /// A Spot request id of this account and Region that does not exist (code
    /// `InvalidSpotInstanceRequestID.NotFound`; the wording is UNCONFIRMED, moto's).
    #[error("The spot instance request ID '{0}' does not exist")]
    InvalidSpotInstanceRequestIdNotFound(String),

    // --- state and features ---
    #[error("{0}")]
    IncorrectInstanceState(String),
    /// A resource not in the state a request needs (EC2's `IncorrectState`, e.g. a second IAM
    /// instance profile association).
    #[error("{0}")]
    IncorrectState(String),
    #[error("{0}")]
    UnsupportedOperation(String),
    #[error("{0}")]
    OperationNotPermitted(String),
    #[error("{0}")]
    IdempotentParameterMismatch(String),
    #[error("{0}")]
    InvalidInstanceAttributeValue(String),

    /// The body is larger than imds accepts. AWS's front ends answer 413 for the Query
    /// protocol (observed for SQS); the EC2 code is not published (UNCONFIRMED).
    #[error("Request body exceeds the maximum size of {0} bytes.")]
    RequestEntityTooLarge(usize),

    // --- server ---
    #[error("An internal error has occurred")]
    InternalError,
    #[error("The service is unavailable. Please try again shortly.")]
    Unavailable,
}

fn not_found_instances(ids: &[String]) -> String {
    match ids {
        [one] => format!("The instance ID '{one}' does not exist"),
        many => format!("The instance IDs '{}' do not exist", many.join(", ")),
    }
}

impl Ec2Error {
    /// `InvalidParameterValue` for an enum member, in the wording EC2 uses for the metadata
    /// options (spec ec2-api.md §3.3, observed for HttpEndpoint).
    pub fn invalid_enum(value: &str, param: &str, allowed: &[&str]) -> Self {
        let choices = match allowed {
            [a, b] => format!("either '{a}' or '{b}'"),
            more => {
                let quoted: Vec<String> = more.iter().map(|v| format!("'{v}'")).collect();
                format!("one of {}", quoted.join(", "))
            }
        };
        Ec2Error::InvalidParameterValue(format!(
            "A value of '{value}' is not valid for {param}. Specify {choices} and try again."
        ))
    }
}
