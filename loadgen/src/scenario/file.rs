//! A scenario file as written: lanes' own TOML, which is contender's format
//! (`[env]`, `[[create]]`, `[[setup]]`, `[[spam]]` with `[spam.tx]`) plus
//! `weight` on spam steps, `artifact` on creates and the `{_account}` and
//! `{_seq}` placeholders. Every step keeps its place in the file, so an
//! error names the line.

use std::collections::BTreeMap;

use serde::Deserialize;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ScenarioFile {
    /// Values `{NAME}` placeholders take.
    #[serde(default)]
    pub(crate) env: BTreeMap<String, Spanned<String>>,
    /// Contracts to deploy, in order.
    #[serde(default)]
    pub(crate) create: Vec<Spanned<CreateStep>>,
    /// Calls made once (per account of a pool) before the spam.
    #[serde(default)]
    pub(crate) setup: Vec<Spanned<CallStep>>,
    /// The calls the run sends.
    #[serde(default)]
    pub(crate) spam: Vec<Spanned<SpamStep>>,
}

/// `[[create]]`: one contract.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CreateStep {
    /// `{name}` is its address in later steps.
    pub(crate) name: Spanned<String>,
    /// Creation code, hex (it may hold `{placeholders}`, as linked
    /// libraries' addresses).
    pub(crate) bytecode: Option<Spanned<String>>,
    /// Or a compiled artifact (forge's or hardhat's JSON), relative to the
    /// scenario file (lanes).
    pub(crate) artifact: Option<Spanned<String>>,
    /// The constructor's parameters, as `(uint256 supply)`.
    pub(crate) signature: Option<Spanned<String>>,
    /// The constructor's arguments.
    #[serde(default)]
    pub(crate) args: Option<Spanned<Vec<String>>>,
    /// The deploying account (the funder's address; `{env}` values fill in).
    pub(crate) from: Option<Spanned<String>>,
    /// Deploy from the first account of this pool.
    pub(crate) from_pool: Option<Spanned<String>>,
}

/// One `access_list` entry: `{ address = "...", storageKeys = ["..."] }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessListEntry {
    pub(crate) address: String,
    #[serde(rename = "storageKeys", default)]
    pub(crate) storage_keys: Vec<String>,
}

/// `[[setup]]` or a spam step's `tx`: one call.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CallStep {
    /// A label for reports.
    pub(crate) kind: Option<Spanned<String>>,
    /// The callee (a `{contract}`, an address, `{_sender}`...).
    pub(crate) to: Option<Spanned<String>>,
    /// The function, as `transfer(address to, uint256 amount)` (with or
    /// without `function`, visibility and `returns`); none sends no input.
    pub(crate) signature: Option<Spanned<String>>,
    /// Its arguments.
    #[serde(default)]
    pub(crate) args: Option<Spanned<Vec<String>>>,
    /// Wei sent (`1eth`, `2 gwei`, `1000`).
    pub(crate) value: Option<Spanned<String>>,
    /// Gas limit; estimated when not given.
    pub(crate) gas_limit: Option<Spanned<u64>>,
    /// The sending account (the funder's address).
    pub(crate) from: Option<Spanned<String>>,
    /// Send from this pool's accounts (a setup step: once from each).
    pub(crate) from_pool: Option<Spanned<String>>,
    /// Arguments (or the value) drawn at random in a range, seeded.
    #[serde(default)]
    pub(crate) fuzz: Vec<Spanned<FuzzStep>>,
    /// Calldata given as hex instead of a signature and arguments
    /// (contender's `input`-less form is `signature`; this is lanes').
    pub(crate) input: Option<Spanned<String>>,
    /// The EIP-2930 list it declares (placeholders fill in).
    pub(crate) access_list: Option<Spanned<Vec<AccessListEntry>>>,
    /// Carry an EIP-7702 authorization delegating the set-code signer's
    /// account (`{_setCodeSender}`) to this address: a type-4 transaction.
    pub(crate) authorization_address: Option<Spanned<String>>,
    /// Carry this as a blob (`0x` hex, or text as UTF-8): a type-3
    /// transaction with its sidecar.
    pub(crate) blob_data: Option<Spanned<String>>,
    /// A setup step with `from_pool`: send from every account of the pool
    /// (else from its first only).
    pub(crate) for_all_accounts: Option<Spanned<bool>>,
    /// The tip per gas, wei or with a unit (else the run's).
    pub(crate) max_priority_fee_per_gas: Option<Spanned<String>>,
}

/// `[[spam]]`: a call (`[spam.tx]`) and, lanes', its weight among the others.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct SpamStep {
    pub(crate) tx: Option<Spanned<CallStep>>,
    /// contender's bundles (`[spam.bundle]`): refused, lanes sends none.
    pub(crate) bundle: Option<Spanned<toml::Value>>,
    /// How often this step is drawn relative to the others (default 1:
    /// every step in turn, as contender does).
    pub(crate) weight: Option<Spanned<u32>>,
}

/// One `fuzz` entry: `{ param = "name", min = "0", max = "100" }` or
/// `{ value = true, ... }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FuzzStep {
    pub(crate) param: Option<String>,
    #[serde(default)]
    pub(crate) value: bool,
    #[serde(default)]
    pub(crate) max_priority_fee_per_gas: bool,
    pub(crate) min: Option<String>,
    pub(crate) max: Option<String>,
}
