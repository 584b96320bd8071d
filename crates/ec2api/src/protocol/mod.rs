//! The EC2 Query protocol: the service model, request decoding, response encoding.
pub mod query;
pub mod shapes;
pub mod xml;
