//! The Query protocols, EC2's and the plain one of IAM and STS: botocore's service models
//! (`shapes`), the request's form pairs (`params`), decoding along the models (`query`, one
//! walk for both), a handler's answer before it is encoded (`output`: a value, or a structure
//! whose long list is made item by item), and EC2's response encoding (`xml`; the plain
//! protocol's envelope is `query_api`'s, its results arranged by `shapes::Model::arrange`).
pub mod output;
pub mod params;
pub mod query;
pub mod shapes;
pub mod xml;
