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
    /// The deploying account (the funder's address).
    pub(crate) from: Option<Spanned<String>>,
    /// Deploy from the first account of this pool.
    pub(crate) from_pool: Option<Spanned<String>>,
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
    pub(crate) min: Option<String>,
    pub(crate) max: Option<String>,
}
