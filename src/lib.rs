//! lanes: the node (`lanes-validator`) and the load generator (`lanes-loadgen`)
//! live here once they are built; today this package holds the cross-crate
//! tests and benchmarks over the library crates.
#![forbid(unsafe_code)]
