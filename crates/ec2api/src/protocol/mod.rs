//! The Query protocols, EC2's and the plain one of IAM and STS: botocore's service models
//! (`shapes`), request decoding along them (`query`, one walk for both), and EC2's response
//! encoding (`xml`; the plain protocol's envelope is `query_api`'s, its results arranged by
//! `shapes::Model::arrange`).
pub mod query;
pub mod shapes;
pub mod xml;
