//! lanes: the node behind `lanes-validator` ([`node`]), plus the cross-crate
//! tests and benchmarks over the library crates.
#![forbid(unsafe_code)]

pub mod node;
