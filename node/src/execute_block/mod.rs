//! Recorded Ethereum mainnet blocks and plain sequential revm over them.

mod baseline;
mod fixture;

pub use baseline::{Baseline, BaselineError, baseline};
pub use fixture::{Fixture, FixtureError, FixtureErrorKind, fixture_dirs};
