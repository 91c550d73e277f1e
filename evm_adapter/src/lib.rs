//! lanes-evm-adapter: the EVM (revm) as one executor of the lanes runtime.
//!
//! Not built yet. This crate will decode signed EIP-2718 transactions, map each
//! one to the state it declares, and give revm a `Database` over the runtime's
//! lock-checked state view, so a transaction can touch only what it declared.
#![forbid(unsafe_code)]
