//! What `eth_simulateV1` adds to revm: an inspector that numbers each
//! block's logs and, when asked, adds ETH-transfer logs (ERC-7528), and a
//! precompile set that state overrides move or remove for one block.

use std::collections::HashMap;
use std::time::Instant;

use alloy_primitives::{Address, B256, Bytes, Log, LogData, U256, address, b256};
use revm::context::ContextTr;
use revm::context::{Cfg, Evm};
use revm::database::CacheDB;
use revm::handler::instructions::EthInstructions;
use revm::handler::{EthFrame, MainnetContext};
use revm::handler::{EthPrecompiles, PrecompileProvider, precompile_output_to_interpreter_result};
use revm::inspector::Inspector;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::{
    CallInputs, CallOutcome, CallScheme, CreateInputs, CreateOutcome, Interpreter,
    InterpreterResult,
};
use revm::precompile::Precompile;

use lanes_evm_adapter::TraceDb;
use revm::primitives::AddressSet;
use revm::primitives::hardfork::SpecId;

use lanes_evm_adapter::Deadline;

/// The address of ETH-transfer logs (ERC-7528).
pub const TRANSFER_LOG_ADDRESS: Address = address!("0xeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee");
/// `Transfer(address,address,uint256)`.
pub const TRANSFER_TOPIC: B256 =
    b256!("0xddf252ad1be2c89b69c2b068fc378daa952ba7f163c4a11628f55a4df523b3ef");

/// Collects one call's logs in order, each numbered from a counter that runs
/// over the whole block and is never rewound: logs of a frame that fails are
/// dropped, their numbers not reused (as geth numbers them).
#[derive(Debug)]
pub(super) struct SimInspector {
    /// Adds a log for each frame that moves ETH.
    pub(super) transfers: bool,
    /// The block's next log index.
    pub(super) next_index: u64,
    /// The call's logs so far, with their indexes.
    pub(super) logs: Vec<(u64, Log)>,
    /// Where each open frame's logs start.
    frames: Vec<usize>,
    /// A creation's transfer log, whose address is known at its end.
    pending_create: Vec<Option<usize>>,
    /// The request's time budget (halts the EVM once it is spent).
    pub(super) deadline: Deadline,
}

impl SimInspector {
    /// A block's inspector: its first log is index 0.
    pub(super) fn new(transfers: bool, deadline: Instant) -> Self {
        Self {
            transfers,
            next_index: 0,
            logs: Vec::new(),
            frames: Vec::new(),
            pending_create: Vec::new(),
            deadline: Deadline::new(deadline),
        }
    }

    fn push(&mut self, log: Log) -> usize {
        self.logs.push((self.next_index, log));
        self.next_index += 1;
        self.logs.len() - 1
    }

    fn transfer(&mut self, from: Address, to: Address, value: U256) -> usize {
        let topics = vec![TRANSFER_TOPIC, from.into_word(), to.into_word()];
        let data = Bytes::from(value.to_be_bytes::<32>().to_vec());
        self.push(Log { address: TRANSFER_LOG_ADDRESS, data: LogData::new_unchecked(topics, data) })
    }

    fn end_frame(&mut self, ok: bool) {
        let start = self.frames.pop().unwrap_or(0);
        if !ok {
            self.logs.truncate(start);
        }
    }
}

impl<CTX: ContextTr> Inspector<CTX, EthInterpreter> for SimInspector {
    fn step(&mut self, interp: &mut Interpreter<EthInterpreter>, ctx: &mut CTX) {
        self.deadline.step(interp, ctx);
    }

    fn log(&mut self, _: &mut CTX, log: Log) {
        self.push(log);
    }

    fn call(&mut self, _: &mut CTX, inputs: &mut CallInputs) -> Option<CallOutcome> {
        self.frames.push(self.logs.len());
        let moves = !matches!(inputs.scheme, CallScheme::DelegateCall | CallScheme::CallCode);
        if self.transfers
            && moves
            && let Some(value) = inputs.value.transfer()
            && !value.is_zero()
        {
            self.transfer(inputs.caller, inputs.target_address, value);
        }
        None
    }

    fn call_end(&mut self, _: &mut CTX, _: &CallInputs, outcome: &mut CallOutcome) {
        self.end_frame(outcome.result.result.is_ok());
    }

    fn create(&mut self, _: &mut CTX, inputs: &mut CreateInputs) -> Option<CreateOutcome> {
        self.frames.push(self.logs.len());
        let pending = (self.transfers && !inputs.value().is_zero())
            .then(|| self.transfer(inputs.caller(), Address::ZERO, inputs.value()));
        self.pending_create.push(pending);
        None
    }

    fn create_end(&mut self, _: &mut CTX, _: &CreateInputs, outcome: &mut CreateOutcome) {
        if let Some(Some(at)) = self.pending_create.pop()
            && let Some(created) = outcome.address
            && let Some((_, log)) = self.logs.get_mut(at)
        {
            let mut topics = log.data.topics().to_vec();
            topics[2] = created.into_word();
            log.data = LogData::new_unchecked(topics, log.data.data.clone());
        }
        self.end_frame(outcome.result.result.is_ok());
    }

    fn selfdestruct(&mut self, contract: Address, target: Address, value: U256) {
        if self.transfers && !value.is_zero() {
            self.transfer(contract, target, value);
        }
    }
}

/// The precompiles of one simulated block: the fork's, less those a state
/// override replaced, plus those moved to another address. The addresses
/// warm at a transaction's start stay the fork's (as geth warms them).
#[derive(Clone, Debug)]
pub(super) struct SimPrecompiles {
    active: HashMap<Address, Precompile>,
    warm: AddressSet,
}

impl SimPrecompiles {
    /// The fork's precompiles.
    pub(super) fn new(spec: SpecId) -> Self {
        let standard = EthPrecompiles::new(spec);
        let active: HashMap<Address, Precompile> =
            standard.precompiles.inner().iter().map(|(a, p)| (*a, p.clone())).collect();
        let warm = active.keys().copied().collect();
        Self { active, warm }
    }

    /// The precompile at `address`, removed.
    pub(super) fn remove(&mut self, address: &Address) -> Option<Precompile> {
        self.active.remove(address)
    }

    /// `precompile` served at `address`.
    pub(super) fn insert(&mut self, address: Address, precompile: Precompile) {
        self.active.insert(address, precompile);
    }
}

impl<CTX: ContextTr> PrecompileProvider<CTX> for SimPrecompiles {
    type Output = InterpreterResult;

    fn set_spec(&mut self, _: <CTX::Cfg as Cfg>::Spec) -> bool {
        // Built for the block's fork; the set is never rebuilt in between.
        true
    }

    fn run(
        &mut self,
        context: &mut CTX,
        inputs: &CallInputs,
    ) -> Result<Option<InterpreterResult>, String> {
        let Some(precompile) = self.active.get(&inputs.bytecode_address) else {
            return Ok(None);
        };
        let input = inputs.input.bytes(context);
        let output = precompile
            .execute(&input, inputs.gas_limit, inputs.reservoir)
            .map_err(|e| e.to_string())?;
        Ok(Some(precompile_output_to_interpreter_result(output, inputs.gas_limit)))
    }

    fn warm_addresses(&self) -> &AddressSet {
        &self.warm
    }

    fn contains(&self, address: &Address) -> bool {
        self.active.contains_key(address)
    }
}

/// The state a simulation runs on: the base block's, with its writes cached.
pub(super) type Db<'b> = CacheDB<TraceDb<'b>>;
/// The context of a simulation's EVM.
type Ctx<'x, 'b> = MainnetContext<&'x mut Db<'b>>;
/// The EVM a simulation runs: mainnet's, with lanes' inspector and precompiles.
pub(super) type SimEvm<'x, 'b> = Evm<
    Ctx<'x, 'b>,
    SimInspector,
    EthInstructions<EthInterpreter, Ctx<'x, 'b>>,
    SimPrecompiles,
    EthFrame<EthInterpreter>,
>;
