//! Scenario files: contracts to deploy, setup calls and weighted spam calls,
//! in TOML. lanes reads contender's scenario format as it stands (`[env]`,
//! `[[create]]`, `[[setup]]`, `[[spam]]` with `[spam.tx]`, `{placeholders}`
//! with `{_sender}` and `{_setCodeSender}`, `from`, `from_pool`,
//! `for_all_accounts`, `signature`, `args`, `value`, `gas_limit`,
//! `access_list`, `authorization_address`, `blob_data`,
//! `max_priority_fee_per_gas`, seeded `fuzz` of integers, addresses, values
//! and tips), and adds `weight` on spam steps, `artifact` on creates,
//! calldata as hex (`input`) and the `{_account}` and `{_seq}` placeholders.
//! What it cannot honour (bundles, contender's groth16 proof generation) is
//! refused naming the file, the line and the field.
//!
//! ```text
//!  FILE.toml --load (checks; errors name file:line: field)--> Scenario
//!  Scenario --prepare (a node: deploy, set up, draw, estimate gas)--> Plan --> run
//! ```
//!
//! Reading checks everything that does not need a node: every placeholder
//! names something, every signature parses, every fixed argument fits its
//! type. What needs the node (a constructor that reverts, a call whose gas
//! cannot be estimated) fails in `prepare`, naming the step's line.

mod file;
mod prepare;
mod template;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use alloy_dyn_abi::{DynSolType, Specifier};
use alloy_json_abi::{Constructor, Function, Param};
use alloy_primitives::{Address, Bytes, I256, U256};

use self::file::{AccessListEntry, CallStep, CreateStep, FuzzStep, ScenarioFile};
pub use self::prepare::{ScenarioOptions, prepare};
use self::template::{Template, Values, parse_wei};
pub use crate::error::ScenarioError;

/// Who sends a step.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum From {
    /// The run's funder (`--funder-key`): creates and setup calls naming no
    /// sender.
    Funder,
    /// The account `from` names: it must be the funder's.
    Address(Address),
    /// The accounts of pool `i` of [`Scenario::pools`].
    Pool(usize),
}

/// What a `fuzz` entry draws.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FuzzTarget {
    /// The function's argument at this index.
    Arg(usize),
    /// The value sent.
    Value,
    /// The tip per gas.
    Tip,
}

/// The range a `fuzz` entry draws from, both ends in.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FuzzRange {
    /// Unsigned integers (and addresses, as their number).
    Unsigned(U256, U256),
    /// Signed integers.
    Signed(I256, I256),
}

/// One `fuzz` entry, checked: a uniform draw in its range.
#[derive(Clone, Debug)]
pub(crate) struct Fuzz {
    pub(crate) target: FuzzTarget,
    pub(crate) range: FuzzRange,
}

/// A `[[create]]`, checked.
#[derive(Clone, Debug)]
pub(crate) struct Create {
    pub(crate) name: String,
    /// Creation code in hex, placeholders not yet filled in.
    pub(crate) code: Template,
    pub(crate) constructor: Option<Constructor>,
    pub(crate) args: Vec<Template>,
    /// Its deployer: the funder, the account `from` names (it must be the
    /// funder's), or a pool's first account.
    pub(crate) from: From,
    pub(crate) line: usize,
}

/// A setup or spam call, checked.
#[derive(Clone, Debug)]
pub(crate) struct Call {
    /// `kind`, or the function's name, for messages and reports.
    pub(crate) label: String,
    pub(crate) to: Template,
    pub(crate) function: Option<Function>,
    pub(crate) args: Vec<Template>,
    /// Calldata in hex instead of a function and arguments.
    pub(crate) input: Option<Template>,
    pub(crate) value: Option<Template>,
    pub(crate) gas_limit: Option<u64>,
    pub(crate) from: From,
    pub(crate) fuzz: Vec<Fuzz>,
    /// The EIP-2930 list: each address with its slots.
    pub(crate) access_list: Vec<(Template, Vec<Template>)>,
    /// The address an EIP-7702 authorization delegates the set-code
    /// signer's account to.
    pub(crate) authorization: Option<Template>,
    /// The bytes its blob carries.
    pub(crate) blob: Option<Bytes>,
    /// A setup step from a pool: from every account of it (else the first).
    pub(crate) all_accounts: bool,
    /// The tip per gas (else the run's).
    pub(crate) tip: Option<Template>,
    pub(crate) line: usize,
    /// The field path of the step, as `spam[2].tx`.
    pub(crate) field: String,
}

impl Call {
    /// The step, for messages: its field path and label.
    pub(crate) fn what(&self) -> String {
        format!("{} ({})", self.field, self.label)
    }
}

/// A scenario file, read and checked.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file's name without `.toml`.
    pub name: String,
    /// The file.
    pub path: PathBuf,
    pub(crate) creates: Vec<Create>,
    pub(crate) setup: Vec<Call>,
    /// Spam calls and their weights.
    pub(crate) spam: Vec<(Call, u32)>,
    /// The pools' names; `""` is the default pool (spam steps naming no
    /// sender).
    pub(crate) pools: Vec<String>,
}

/// Where a field is, for errors.
struct Ctx<'a> {
    path: &'a Path,
    text: &'a str,
}

impl Ctx<'_> {
    fn line(&self, span: std::ops::Range<usize>) -> usize {
        self.text[..span.start.min(self.text.len())].matches('\n').count() + 1
    }

    fn err(
        &self,
        span: std::ops::Range<usize>,
        field: &str,
        reason: impl Into<String>,
    ) -> ScenarioError {
        ScenarioError::Step {
            path: self.path.into(),
            line: self.line(span),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

impl Scenario {
    /// The pools' names (`""` is the default pool).
    pub fn pools(&self) -> &[String] {
        &self.pools
    }

    /// Reads and checks `path`; `env` overrides the file's `[env]` values.
    pub fn load(path: &Path, env: &[(String, String)]) -> Result<Self, ScenarioError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| ScenarioError::Read { path: path.into(), source })?;
        let file: ScenarioFile = toml::from_str(&text)
            .map_err(|e| ScenarioError::Parse { path: path.into(), message: e.to_string() })?;
        let ctx = Ctx { path, text: &text };
        let mut values: BTreeMap<String, String> =
            file.env.iter().map(|(k, v)| (k.clone(), v.get_ref().clone())).collect();
        values.extend(env.iter().cloned());
        let name = path.file_stem().map_or("scenario".into(), |s| s.to_string_lossy().into_owned());
        let mut scenario = Self {
            name,
            path: path.into(),
            creates: vec![],
            setup: vec![],
            spam: vec![],
            pools: vec![],
        };
        for (i, step) in file.create.iter().enumerate() {
            let create = scenario.create(&ctx, &values, i, step.get_ref(), step.span())?;
            scenario.creates.push(create);
        }
        for (i, step) in file.setup.iter().enumerate() {
            let field = format!("setup[{i}]");
            let call = scenario.call(&ctx, &values, &field, step.get_ref(), step.span(), false)?;
            scenario.setup.push(call);
        }
        for (i, step) in file.spam.iter().enumerate() {
            let field = format!("spam[{i}]");
            let spam = step.get_ref();
            if let Some(bundle) = &spam.bundle {
                return Err(ctx.err(
                    bundle.span(),
                    &format!("{field}.bundle"),
                    "bundles do not map: lanes-loadgen sends transactions, not bundles (write each \
                     call as its own [[spam]] step)",
                ));
            }
            let Some(tx) = &spam.tx else {
                return Err(ctx.err(step.span(), &field, "a spam step needs [spam.tx]"));
            };
            let weight = match &spam.weight {
                Some(w) if *w.get_ref() == 0 => {
                    return Err(ctx.err(
                        w.span(),
                        &format!("{field}.weight"),
                        "must be at least 1",
                    ));
                }
                Some(w) => *w.get_ref(),
                None => 1,
            };
            let field = format!("{field}.tx");
            let call = scenario.call(&ctx, &values, &field, tx.get_ref(), tx.span(), true)?;
            scenario.spam.push((call, weight));
        }
        if scenario.spam.is_empty() {
            return Err(ScenarioError::Step {
                path: path.into(),
                line: 1,
                field: "spam".into(),
                reason: "the scenario sends nothing: add a [[spam]] step with [spam.tx]".into(),
            });
        }
        Ok(scenario)
    }

    fn pool(&mut self, name: &str) -> usize {
        match self.pools.iter().position(|p| p == name) {
            Some(i) => i,
            None => {
                self.pools.push(name.into());
                self.pools.len() - 1
            }
        }
    }

    /// An address a sender field names, `{env}` values filled in.
    fn address(
        &self,
        ctx: &Ctx<'_>,
        env: &BTreeMap<String, String>,
        text: &str,
        span: std::ops::Range<usize>,
        field: &str,
    ) -> Result<Address, ScenarioError> {
        let t = Template::parse(text, &|n| env.get(n).cloned(), &|_| None)
            .map_err(|e| ctx.err(span.clone(), field, e))?;
        let rendered = t.render(&dummy_values(0));
        rendered.parse::<Address>().map_err(|e| ctx.err(span, field, format!("`{text}`: {e}")))
    }

    fn contract_index(&self, name: &str) -> Option<usize> {
        self.creates.iter().position(|c| c.name == name)
    }

    fn template(
        &self,
        ctx: &Ctx<'_>,
        env: &BTreeMap<String, String>,
        text: &str,
        span: std::ops::Range<usize>,
        field: &str,
    ) -> Result<Template, ScenarioError> {
        Template::parse(text, &|n| env.get(n).cloned(), &|n| self.contract_index(n))
            .map_err(|e| ctx.err(span, field, e))
    }

    fn create(
        &mut self,
        ctx: &Ctx<'_>,
        env: &BTreeMap<String, String>,
        i: usize,
        step: &CreateStep,
        span: std::ops::Range<usize>,
    ) -> Result<Create, ScenarioError> {
        let field = format!("create[{i}]");
        let name = step.name.get_ref().clone();
        if self.contract_index(&name).is_some() || name.starts_with('_') || name.is_empty() {
            return Err(ctx.err(
                step.name.span(),
                &format!("{field}.name"),
                format!("`{name}` is empty, taken by an earlier create, or starts with `_`"),
            ));
        }
        let from = match (&step.from, &step.from_pool) {
            (Some(f), Some(_)) => {
                return Err(ctx.err(
                    f.span(),
                    &format!("{field}.from"),
                    "give from or from_pool, not both",
                ));
            }
            (Some(f), None) => From::Address(self.address(
                ctx,
                env,
                f.get_ref(),
                f.span(),
                &format!("{field}.from"),
            )?),
            (None, Some(pool)) => From::Pool(self.pool(pool.get_ref())),
            (None, None) => From::Funder,
        };
        let code = match (&step.bytecode, &step.artifact) {
            (Some(b), None) => {
                self.template(ctx, env, b.get_ref(), b.span(), &format!("{field}.bytecode"))?
            }
            (None, Some(a)) => {
                let at = ctx.path.parent().unwrap_or(Path::new(".")).join(a.get_ref());
                let hex = artifact_code(&at)
                    .map_err(|e| ctx.err(a.span(), &format!("{field}.artifact"), e))?;
                self.template(ctx, env, &hex, a.span(), &format!("{field}.artifact"))?
            }
            _ => return Err(ctx.err(span, &field, "give one of bytecode and artifact")),
        };
        let constructor = match &step.signature {
            Some(sig) => {
                let s = sig.get_ref().trim();
                let text = if s.starts_with("constructor") {
                    s.to_string()
                } else {
                    format!("constructor{s}")
                };
                let constructor = Constructor::parse(&text).map_err(|e| format!("`{s}`: {e}"));
                let checked = constructor.and_then(|c| {
                    c.inputs.iter().try_for_each(|p| param_type(p).map(drop)).map(|()| c)
                });
                Some(checked.map_err(|e| ctx.err(sig.span(), &format!("{field}.signature"), e))?)
            }
            None => None,
        };
        let inputs = constructor.as_ref().map_or(&[][..], |c| &c.inputs[..]);
        let args = self.args(ctx, env, &field, step.args.as_ref(), span.clone(), inputs, &[])?;
        alloy_primitives::hex::decode(code.render_code(&dummy_values(self.creates.len())).trim())
            .map_err(|e| {
            ctx.err(span.clone(), &format!("{field}.bytecode"), format!("not hex: {e}"))
        })?;
        Ok(Create { name, code, constructor, args, from, line: ctx.line(span) })
    }

    #[allow(clippy::too_many_arguments)]
    fn args(
        &self,
        ctx: &Ctx<'_>,
        env: &BTreeMap<String, String>,
        field: &str,
        args: Option<&toml::Spanned<Vec<String>>>,
        step_span: std::ops::Range<usize>,
        inputs: &[Param],
        fuzzed: &[usize],
    ) -> Result<Vec<Template>, ScenarioError> {
        let (list, span) = match args {
            Some(a) => (a.get_ref().as_slice(), a.span()),
            None => (&[][..], step_span),
        };
        if list.len() != inputs.len() {
            return Err(ctx.err(
                span,
                &format!("{field}.args"),
                format!("{} given, the signature takes {}", list.len(), inputs.len()),
            ));
        }
        let mut out = Vec::with_capacity(list.len());
        for (k, (arg, param)) in list.iter().zip(inputs).enumerate() {
            let at = format!("{field}.args[{k}]");
            let t = self.template(ctx, env, arg, span.clone(), &at)?;
            let ty = param_type(param).map_err(|e| ctx.err(span.clone(), &at, e))?;
            if !fuzzed.contains(&k) {
                ty.coerce_str(&t.render(&dummy_values(self.creates.len()))).map_err(|e| {
                    ctx.err(span.clone(), &at, format!("`{arg}` is not a {ty}: {e}"))
                })?;
            }
            out.push(t);
        }
        Ok(out)
    }

    fn call(
        &mut self,
        ctx: &Ctx<'_>,
        env: &BTreeMap<String, String>,
        field: &str,
        step: &CallStep,
        span: std::ops::Range<usize>,
        spam: bool,
    ) -> Result<Call, ScenarioError> {
        let to = match &step.to {
            Some(to) => {
                let t = self.template(ctx, env, to.get_ref(), to.span(), &format!("{field}.to"))?;
                t.render(&dummy_values(self.creates.len())).parse::<Address>().map_err(|e| {
                    ctx.err(to.span(), &format!("{field}.to"), format!("`{}`: {e}", to.get_ref()))
                })?;
                t
            }
            None => return Err(ctx.err(span, field, "`to` is missing")),
        };
        let function = match (&step.signature, &step.input) {
            (Some(_), Some(input)) => {
                return Err(ctx.err(
                    input.span(),
                    &format!("{field}.input"),
                    "give a signature or input, not both",
                ));
            }
            (Some(sig), None) => Some(
                parse_function(sig.get_ref())
                    .map_err(|e| ctx.err(sig.span(), &format!("{field}.signature"), e))?,
            ),
            (None, _) => None,
        };
        let input = match &step.input {
            Some(i) => {
                Some(self.template(ctx, env, i.get_ref(), i.span(), &format!("{field}.input"))?)
            }
            None => None,
        };
        let inputs = function.as_ref().map_or(&[][..], |f| &f.inputs[..]);
        let mut fuzz = Vec::new();
        for (k, f) in step.fuzz.iter().enumerate() {
            let at = format!("{field}.fuzz[{k}]");
            fuzz.push(fuzz_entry(f.get_ref(), inputs).map_err(|e| ctx.err(f.span(), &at, e))?);
        }
        let fuzzed: Vec<usize> = fuzz
            .iter()
            .filter_map(|f| match f.target {
                FuzzTarget::Arg(i) => Some(i),
                FuzzTarget::Value | FuzzTarget::Tip => None,
            })
            .collect();
        let args = self.args(ctx, env, field, step.args.as_ref(), span.clone(), inputs, &fuzzed)?;
        let value = match &step.value {
            Some(v) => {
                let t =
                    self.template(ctx, env, v.get_ref(), v.span(), &format!("{field}.value"))?;
                parse_wei(&t.render(&dummy_values(self.creates.len())))
                    .map_err(|e| ctx.err(v.span(), &format!("{field}.value"), e))?;
                Some(t)
            }
            None => None,
        };
        let from = match (&step.from, &step.from_pool) {
            (Some(f), Some(_)) => {
                return Err(ctx.err(
                    f.span(),
                    &format!("{field}.from"),
                    "give from or from_pool, not both",
                ));
            }
            (Some(f), None) => {
                // Checked against the funder when the run starts.
                From::Address(self.address(
                    ctx,
                    env,
                    f.get_ref(),
                    f.span(),
                    &format!("{field}.from"),
                )?)
            }
            (None, Some(pool)) => From::Pool(self.pool(pool.get_ref())),
            (None, None) if spam => From::Pool(self.pool("")),
            (None, None) => From::Funder,
        };
        if let Some(kind) = step.kind.as_ref().filter(|k| k.get_ref() == "groth16-verifyProof") {
            return Err(ctx.err(
                kind.span(),
                &format!("{field}.kind"),
                "`groth16-verifyProof` asks contender to generate a Groth16 proof for args[5]; \
                 lanes-loadgen generates none (give the proof in args and another kind)",
            ));
        }
        let dummy = dummy_values(self.creates.len());
        let mut access_list = Vec::new();
        if let Some(list) = &step.access_list {
            let at = format!("{field}.access_list");
            for (k, AccessListEntry { address, storage_keys }) in list.get_ref().iter().enumerate()
            {
                let a =
                    self.template(ctx, env, address, list.span(), &format!("{at}[{k}].address"))?;
                a.render(&dummy).parse::<Address>().map_err(|e| {
                    ctx.err(list.span(), &format!("{at}[{k}].address"), format!("`{address}`: {e}"))
                })?;
                let mut keys = Vec::new();
                for (j, key) in storage_keys.iter().enumerate() {
                    let here = format!("{at}[{k}].storageKeys[{j}]");
                    let t = self.template(ctx, env, key, list.span(), &here)?;
                    t.render(&dummy)
                        .parse::<alloy_primitives::B256>()
                        .map_err(|e| ctx.err(list.span(), &here, format!("`{key}`: {e}")))?;
                    keys.push(t);
                }
                access_list.push((a, keys));
            }
        }
        let authorization = match &step.authorization_address {
            Some(a) => {
                let at = format!("{field}.authorization_address");
                let t = self.template(ctx, env, a.get_ref(), a.span(), &at)?;
                t.render(&dummy)
                    .parse::<Address>()
                    .map_err(|e| ctx.err(a.span(), &at, format!("`{}`: {e}", a.get_ref())))?;
                Some(t)
            }
            None => None,
        };
        let blob = match &step.blob_data {
            Some(b) => {
                let at = format!("{field}.blob_data");
                let text = b.get_ref();
                let bytes: Bytes = match text.strip_prefix("0x") {
                    Some(hex) => alloy_primitives::hex::decode(hex)
                        .map_err(|e| ctx.err(b.span(), &at, format!("not hex: {e}")))?
                        .into(),
                    None => Bytes::copy_from_slice(text.as_bytes()),
                };
                // SimpleCoder packs 31 bytes in each of a blob's 4096 field elements.
                let room = 31 * 4096 * lanes_evm_adapter::MAX_SIDECAR_BLOBS;
                if bytes.is_empty() || bytes.len() > room {
                    return Err(ctx.err(
                        b.span(),
                        &at,
                        format!("{} bytes: a transaction's blobs hold 1 to {room}", bytes.len()),
                    ));
                }
                Some(bytes)
            }
            None => None,
        };
        if authorization.is_some() && blob.is_some() {
            return Err(ctx.err(
                span,
                field,
                "authorization_address and blob_data: a transaction is of one type (7702 or 4844)",
            ));
        }
        let all_accounts = match (&step.for_all_accounts, &step.from_pool) {
            (Some(f), None) if *f.get_ref() => {
                return Err(ctx.err(
                    f.span(),
                    &format!("{field}.for_all_accounts"),
                    "for_all_accounts requires from_pool",
                ));
            }
            (Some(f), _) => *f.get_ref(),
            (None, _) => false,
        };
        let tip = match &step.max_priority_fee_per_gas {
            Some(v) => {
                let at = format!("{field}.max_priority_fee_per_gas");
                let t = self.template(ctx, env, v.get_ref(), v.span(), &at)?;
                parse_wei(&t.render(&dummy)).map_err(|e| ctx.err(v.span(), &at, e))?;
                Some(t)
            }
            None => None,
        };
        let label = step
            .kind
            .as_ref()
            .map(|k| k.get_ref().clone())
            .or_else(|| function.as_ref().map(|f| f.name.clone()))
            .unwrap_or_else(|| "transfer".into());
        Ok(Call {
            label,
            to,
            function,
            args,
            input,
            value,
            gas_limit: step.gas_limit.as_ref().map(|g| *g.get_ref()),
            from,
            fuzz,
            access_list,
            authorization,
            blob,
            all_accounts,
            tip,
            line: ctx.line(span),
            field: field.into(),
        })
    }
}

/// Values every placeholder can take, for checking templates before a run.
fn dummy_values(contracts: usize) -> Values<'static> {
    static ADDRESSES: std::sync::OnceLock<Vec<Address>> = std::sync::OnceLock::new();
    let all = ADDRESSES.get_or_init(|| vec![Address::repeat_byte(0x11); 1024]);
    Values {
        contracts: &all[..contracts.min(all.len())],
        sender: Address::repeat_byte(0x22),
        account: Address::repeat_byte(0x33),
        seq: 0,
        set_code_sender: Address::repeat_byte(0x44),
    }
}

/// A function from a human-readable signature: `transfer(address,uint256)`,
/// `function swap(address a, uint256 b) public returns (bool)`.
fn parse_function(sig: &str) -> Result<Function, String> {
    let s = sig.trim();
    let text = if s.starts_with("function ") { s.to_string() } else { format!("function {s}") };
    let function = Function::parse(&text).map_err(|e| format!("`{s}`: {e}"))?;
    for param in &function.inputs {
        param_type(param).map_err(|e| format!("`{s}`: {e}"))?;
    }
    Ok(function)
}

fn param_type(param: &Param) -> Result<DynSolType, String> {
    param.resolve().map_err(|e| format!("type `{}`: {e}", param.ty))
}

fn fuzz_entry(f: &FuzzStep, inputs: &[Param]) -> Result<Fuzz, String> {
    let unsigned = |top: U256| -> Result<FuzzRange, String> {
        let bound = |s: &Option<String>, default: U256| match s {
            Some(s) => parse_wei(s),
            None => Ok(default),
        };
        let min = bound(&f.min, U256::ZERO)?;
        let max = bound(&f.max, top)?.min(top);
        if min > max {
            return Err(format!("min {min} is above max {max}"));
        }
        Ok(FuzzRange::Unsigned(min, max))
    };
    let chosen = [f.param.is_some(), f.value, f.max_priority_fee_per_gas];
    if chosen.iter().filter(|c| **c).count() != 1 {
        return Err(
            "give one of param = \"NAME\", value = true, max_priority_fee_per_gas = true".into()
        );
    }
    let (target, range) = match &f.param {
        Some(name) => {
            let i = inputs
                .iter()
                .position(|p| p.name == *name)
                .ok_or_else(|| format!("`{name}` names no parameter of the signature"))?;
            let range = match param_type(&inputs[i])? {
                DynSolType::Uint(bits) if bits < 256 => {
                    unsigned((U256::from(1) << bits) - U256::from(1))?
                }
                DynSolType::Uint(_) => unsigned(U256::MAX)?,
                DynSolType::Address => unsigned((U256::from(1) << 160) - U256::from(1))?,
                DynSolType::Int(bits) => {
                    let top = I256::MAX >> (256 - bits);
                    let bottom = I256::MIN >> (256 - bits);
                    let bound = |s: &Option<String>, default: I256| match s {
                        Some(s) => I256::from_dec_str(s.trim())
                            .map_err(|e| format!("`{s}` is not a signed integer: {e}")),
                        None => Ok(default),
                    };
                    let min = bound(&f.min, bottom)?.max(bottom);
                    let max = bound(&f.max, top)?.min(top);
                    if min > max {
                        return Err(format!("min {min} is above max {max}"));
                    }
                    FuzzRange::Signed(min, max)
                }
                other => {
                    return Err(format!(
                        "`{name}` is a {other}; fuzz draws integers and addresses"
                    ));
                }
            };
            (FuzzTarget::Arg(i), range)
        }
        None if f.value => (FuzzTarget::Value, unsigned(U256::MAX)?),
        None => (FuzzTarget::Tip, unsigned(U256::from(u128::MAX))?),
    };
    Ok(Fuzz { target, range })
}

/// The creation code of a compiled artifact: forge's (`bytecode.object`)
/// or hardhat's (`bytecode`).
fn artifact_code(path: &Path) -> Result<String, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let json: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let code = json["bytecode"]["object"].as_str().or_else(|| json["bytecode"].as_str());
    match code {
        Some(c) if c.trim_start_matches("0x").len() > 1 => Ok(c.to_string()),
        _ => Err(format!("{}: no creation code (bytecode.object or bytecode)", path.display())),
    }
}

#[cfg(test)]
mod tests;
