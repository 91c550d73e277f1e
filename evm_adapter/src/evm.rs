//! The revm lanes runs: its instance over a bank's state ([`Evm`]), the
//! mainnet handler with the coinbase's fee captured instead of paid
//! ([`FeeCapture`]), what a run leaves in its receipt ([`EvmReceiptData`]),
//! and what a plain value transfer is ([`PlainTransfer`]). Beneath the
//! executor, its fast transfer path and the simulations.

use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::Arc;

use alloy_consensus::Transaction as _;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, Log, U256};
use borsh::{BorshDeserialize, BorshSerialize};
use lanes_runtime::Outcome;
use revm::Database;
use revm::context::ContextTr;
use revm::context::result::{EVMError, HaltReason};
use revm::context::{Block as _, Transaction as _};
use revm::context_interface::JournalTr;
use revm::handler::{
    EvmTr, FrameResult, FrameTr, Handler, ItemOrResult, MainnetContext, MainnetEvm,
};
use revm::inspector::{Inspector, InspectorHandler};
use revm::interpreter::FrameInput;
use revm::interpreter::interpreter::EthInterpreter;
use revm::interpreter::interpreter_action::FrameInit;

pub(crate) use revm::primitives::hardfork::SpecId;

pub(crate) use crate::db::ViewDb;

use crate::tx::EvmTx;

/// The revm instance a transaction runs in, over a bank's state.
pub(crate) type Evm<'b> = MainnetEvm<MainnetContext<ViewDb<'b>>>;

/// What the state a block runs on (its parent's) holds in storage, by
/// account: EIP-7610's collision rule asks whether an account holds any
/// ([`StorageHolders`]), and a contract destroyed before Cancun has every
/// slot it held deleted ([`crate::EvmExecutor::with_storage_holders`]).
pub trait ParentStorage: Send + Sync {
    /// Whether `address` holds storage.
    fn holds(&self, address: &Address) -> bool;

    /// Every slot `address` holds, in any order.
    fn slots(&self, address: &Address) -> Vec<B256>;
}

/// A block's [`ParentStorage`], shared by the executor's clones.
#[derive(Clone)]
pub struct StorageHolders(Arc<dyn ParentStorage>);

impl StorageHolders {
    /// What `parent` holds.
    pub fn new(parent: impl ParentStorage + 'static) -> Self {
        Self(Arc::new(parent))
    }

    /// Whether `address` holds storage.
    pub fn holds(&self, address: &Address) -> bool {
        self.0.holds(address)
    }

    /// Every slot `address` holds, in ascending order (a run that reads
    /// them in turn reads the same ones wherever it runs again).
    pub fn slots(&self, address: &Address) -> Vec<B256> {
        let mut slots = self.0.slots(address);
        slots.sort_unstable();
        slots
    }
}

/// A lanes chain's parent state, where its database keeps each address's
/// slots (a dev node's).
impl ParentStorage for lanes_runtime::ParentSlots {
    fn holds(&self, address: &Address) -> bool {
        lanes_runtime::ParentSlots::holds(self, address)
    }

    fn slots(&self, address: &Address) -> Vec<B256> {
        lanes_runtime::ParentSlots::slots(self, address)
    }
}

impl std::fmt::Debug for StorageHolders {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("StorageHolders")
    }
}

/// The mainnet handler with the beneficiary reward captured instead of paid,
/// and EIP-7610's collision rule where it knows which accounts hold storage.
pub(crate) struct FeeCapture<EVM> {
    pub(crate) fee: Cell<U256>,
    /// Where known, which accounts hold storage: a creation at one of them
    /// collides even with no nonce and no code (EIP-7610).
    pub(crate) holders: Option<StorageHolders>,
    pub(crate) _evm: PhantomData<fn() -> EVM>,
}

impl<EVM> FeeCapture<EVM> {
    /// The handler, with EIP-7610's rule where `holders` is given.
    pub(crate) fn new(holders: Option<StorageHolders>) -> Self {
        Self { fee: Cell::new(U256::ZERO), holders, _evm: PhantomData }
    }
}

impl<DB: Database, INSP> FeeCapture<MainnetEvm<MainnetContext<DB>, INSP>> {
    /// revm's frame init, with EIP-7610: a creation whose address holds
    /// storage (but no nonce and no code, which revm checks itself) is a
    /// collision. revm is shown the account with a nonce for the creation's
    /// check alone; it fails as any collision does (all the creation's gas
    /// spent), and the nonce goes back to what it was. `None`: a frame now
    /// runs; else the frame's result.
    fn init_frame(
        &self,
        evm: &mut MainnetEvm<MainnetContext<DB>, INSP>,
        init: FrameInit,
    ) -> Result<Option<FrameResult>, EVMError<DB::Error>> {
        let collision = match (&self.holders, &init.frame_input) {
            (Some(holders), FrameInput::Create(inputs)) => {
                let journal = evm.ctx().journal_mut();
                let nonce = journal.load_account(inputs.caller())?.data.info.nonce;
                let address = inputs.created_address(nonce);
                let account = journal.load_account(address)?.data;
                let bare = account.info.nonce == 0
                    && account.info.code_hash == KECCAK256_EMPTY
                    && !account.is_created();
                // Before Cancun what the parent held may be gone, deleted
                // with a contract destroyed earlier in the block: its slots
                // are read past the journal (no slot is warmed for the
                // creation's own code). From Cancun on nothing the parent
                // held can have gone (only a contract made in the same
                // transaction is destroyed), and nothing is read.
                let mut holds = bare && holders.holds(&address);
                if holds && !evm.ctx().cfg().spec().is_enabled_in(SpecId::CANCUN) {
                    let db = evm.ctx().journal_mut().db_mut();
                    holds = false;
                    for slot in holders.slots(&address) {
                        if !db.storage(address, slot.into())?.is_zero() {
                            holds = true;
                            break;
                        }
                    }
                }
                holds.then_some(address)
            }
            _ => None,
        };
        let set_nonce = |evm: &mut MainnetEvm<MainnetContext<DB>, INSP>, address, nonce| {
            if let Some(account) = evm.ctx().journal_mut().evm_state_mut().get_mut(&address) {
                account.info.nonce = nonce;
            }
        };
        if let Some(address) = collision {
            set_nonce(evm, address, 1);
        }
        let result = match evm.frame_init(init) {
            Ok(ItemOrResult::Item(_)) => Ok(None),
            Ok(ItemOrResult::Result(result)) => Ok(Some(result)),
            Err(e) => Err(e.into()),
        };
        if let Some(address) = collision {
            set_nonce(evm, address, 0);
        }
        result
    }
}

impl<DB: Database, INSP> Handler for FeeCapture<MainnetEvm<MainnetContext<DB>, INSP>> {
    type Evm = MainnetEvm<MainnetContext<DB>, INSP>;
    type Error = EVMError<DB::Error>;
    type HaltReason = HaltReason;

    /// revm's loop, each frame started through [`Self::init_frame`].
    fn run_exec_loop(
        &mut self,
        evm: &mut Self::Evm,
        first_frame_input: FrameInit,
    ) -> Result<FrameResult, Self::Error> {
        if let Some(result) = self.init_frame(evm, first_frame_input)? {
            return Ok(result);
        }
        loop {
            let result = match evm.frame_run()? {
                ItemOrResult::Item(init) => match self.init_frame(evm, init)? {
                    None => continue,
                    Some(result) => result,
                },
                ItemOrResult::Result(result) => result,
            };
            if let Some(result) = evm.frame_return_result(result)? {
                return Ok(result);
            }
        }
    }

    fn reward_beneficiary(
        &self,
        evm: &mut Self::Evm,
        exec_result: &mut <<Self::Evm as EvmTr>::Frame as FrameTr>::FrameResult,
    ) -> Result<(), Self::Error> {
        // revm's post_execution::reward_beneficiary, minus loading the coinbase.
        let ctx = evm.ctx_ref();
        let basefee = u128::from(ctx.block().basefee());
        let price = ctx.tx().effective_gas_price(basefee);
        let gas = exec_result.gas();
        let used = gas.used().saturating_sub(gas.reservoir());
        self.fee.set(beneficiary_fee(*ctx.cfg().spec(), price, basefee, used));
        Ok(())
    }
}

/// What the coinbase earns for `used` gas at `price`: the tip over the
/// base fee from London (EIP-1559 burns the base fee), the whole price
/// before it.
pub(crate) fn beneficiary_fee(spec: SpecId, price: u128, basefee: u128, used: u64) -> U256 {
    let tip = match spec.is_enabled_in(SpecId::LONDON) {
        true => price.saturating_sub(basefee),
        false => price,
    };
    U256::from(tip) * U256::from(used)
}

/// Traces (`trace.rs`) run the same handler under an inspector.
impl<DB: Database, INSP> InspectorHandler for FeeCapture<MainnetEvm<MainnetContext<DB>, INSP>>
where
    INSP: Inspector<MainnetContext<DB>, EthInterpreter>,
{
    type IT = EthInterpreter;
}

/// What an EVM transaction leaves in its receipt, beyond status and gas.
#[derive(Clone, Debug, Default, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub struct EvmReceiptData {
    /// Logs: emitter, topics, data.
    pub logs: Vec<(Address, Vec<B256>, Bytes)>,
    /// Return data, or the revert data of a failed call.
    pub output: Bytes,
    /// The address a creation made.
    pub created: Option<Address>,
}

impl EvmReceiptData {
    /// Decodes the `data` of a runtime `Outcome` made by [`EvmExecutor`](crate::EvmExecutor).
    pub fn from_outcome(outcome: &Outcome) -> Option<Self> {
        borsh::from_slice(&outcome.data).ok()
    }
}

/// The borsh encoding of the [`EvmReceiptData`] these parts make, written
/// straight from revm's logs (no intermediate copy of each log).
pub(crate) fn receipt_data(logs: &[Log], output: &Bytes, created: Option<Address>) -> Bytes {
    let sizes: usize =
        logs.iter().map(|l| 28 + 32 * l.data.topics().len() + l.data.data.len()).sum();
    // The exact size: a `Vec` filled to its capacity becomes `Bytes` without
    // another allocation.
    let created_size = if created.is_some() { 21 } else { 1 };
    let mut buf = Vec::with_capacity(4 + sizes + 4 + output.len() + created_size);
    let write = |buf: &mut Vec<u8>| -> std::io::Result<()> {
        u32::try_from(logs.len()).map_err(|_| std::io::ErrorKind::InvalidInput)?.serialize(buf)?;
        for log in logs {
            log.address.serialize(buf)?;
            log.data.topics().serialize(buf)?;
            log.data.data.serialize(buf)?;
        }
        output.serialize(buf)?;
        created.serialize(buf)
    };
    write(&mut buf).expect("writing to a Vec cannot fail");
    buf.into()
}

/// revm's logs as (emitter, topics, data).
pub(crate) fn log_parts(logs: Vec<Log>) -> Vec<(Address, Vec<B256>, Bytes)> {
    logs.into_iter().map(|l| (l.address, l.data.topics().to_vec(), l.data.data)).collect()
}

/// A plain value transfer (value, no input): its sender and recipient, and
/// the least balance of the sender's that covers it.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PlainTransfer {
    pub(crate) from: Address,
    pub(crate) to: Address,
    pub(crate) covers: Option<U256>,
}

/// The recipient of a plain value transfer (value, no input), other than its
/// sender: an account the transaction only credits, if it holds no code.
pub(crate) fn plain_recipient(tx: &EvmTx) -> Option<Address> {
    let e = tx.envelope();
    match e.kind() {
        alloy_primitives::TxKind::Call(to)
            if to != tx.sender() && !e.value().is_zero() && e.input().is_empty() =>
        {
            Some(to)
        }
        _ => None,
    }
}
