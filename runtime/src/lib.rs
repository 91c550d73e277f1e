//! lanes-runtime: declared-access execution over the accounts database.
//!
//! Not built yet. This crate will own `StateKey`, `AccessSet`, the lock table
//! (`AccountLocks`), the `Executor` trait and its lock-checked `StateView`, the
//! `Bank`, blocks and verified parallel replay (see `DESIGN.md` §2 and §4 at the
//! repository root's design notes). It knows nothing of the EVM.
#![forbid(unsafe_code)]
