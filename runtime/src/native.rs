//! A small native executor: balance transfers, and a transaction that reads
//! and writes several storage slots. It shows how to plug an engine into the
//! runtime, and the tests use it to check parallel against sequential runs.

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use borsh::{BorshDeserialize, BorshSerialize};

use crate::access::{AccessSet, AccessSource};
use crate::admission::{Admission, AdmitContext};
use crate::admitted::Admitted;
use crate::error::{DecodeError, TxError};
use crate::executor::{BlockEnv, Executor, KnownWrites, PoolTransaction, Transaction};
use crate::key::StateKey;
use crate::outcome::Outcome;
use crate::view::StateView;

/// Gas of a transfer.
pub const TRANSFER_GAS: u64 = 21_000;
/// Extra gas per slot touched.
pub const SLOT_GAS: u64 = 5_000;

/// What a native transaction does.
#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
pub enum NativeOp {
    /// Moves `amount` from the sender to `to`.
    Transfer {
        /// Receiver.
        to: Address,
        /// Wei moved.
        amount: U256,
    },
    /// Sums the `reads` slots and the current `writes` slots, then sets each
    /// `writes[i]` to `sum + i + nonce + 1`: its result depends on every slot
    /// it touches, so a wrong order or a missed conflict shows.
    Touch {
        /// Slots read.
        reads: Vec<(Address, B256)>,
        /// Slots read and written.
        writes: Vec<(Address, B256)>,
    },
    /// Reads the slot `pointer`, adds one to the slot of the same address
    /// that its value names, and moves the pointer on by one: what it touches
    /// depends on state, so a set predicted before an earlier `Follow` of
    /// the same pointer misses the slot it really writes.
    Follow {
        /// The pointer's slot.
        pointer: (Address, B256),
    },
    /// Sets `slot` to `value` without reading it (zero clears it): a write
    /// that may leave the value as it was, or put an earlier one back.
    Set {
        /// The slot.
        slot: (Address, B256),
        /// Its new value.
        value: U256,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, BorshSerialize, BorshDeserialize)]
struct Body {
    from: Address,
    nonce: u64,
    fee: U256,
    op: NativeOp,
    declared: Option<AccessSet>,
}

/// A signed-less native transaction: the sender is named, not recovered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NativeTx {
    body: Body,
    encoded: Bytes,
    hash: B256,
}

impl NativeTx {
    fn from_body(body: Body) -> Self {
        let encoded = borsh::to_vec(&body).expect("writing to a Vec cannot fail");
        Self { hash: keccak256(&encoded), body, encoded: encoded.into() }
    }

    /// A transfer, declaring exactly the two accounts it writes.
    pub fn transfer(from: Address, nonce: u64, to: Address, amount: U256, fee: U256) -> Self {
        let op = NativeOp::Transfer { to, amount };
        let declared = AccessSet::unbounded([], [StateKey::Account(from), StateKey::Account(to)]);
        Self::from_body(Body { from, nonce, fee, op, declared: Some(declared) })
    }

    /// A multi-slot transaction, declaring exactly what it touches.
    pub fn touch(
        from: Address,
        nonce: u64,
        reads: Vec<(Address, B256)>,
        writes: Vec<(Address, B256)>,
        fee: U256,
    ) -> Self {
        let slot = |(a, s): &(Address, B256)| StateKey::Storage(*a, *s);
        let declared = AccessSet::unbounded(
            reads.iter().map(slot),
            writes.iter().map(slot).chain([StateKey::Account(from)]),
        );
        let op = NativeOp::Touch { reads, writes };
        Self::from_body(Body { from, nonce, fee, op, declared: Some(declared) })
    }

    /// A [`NativeOp::Follow`] of `pointer`, declaring nothing.
    pub fn follow(from: Address, nonce: u64, pointer: (Address, B256), fee: U256) -> Self {
        let op = NativeOp::Follow { pointer };
        Self::from_body(Body { from, nonce, fee, op, declared: None })
    }

    /// A [`NativeOp::Set`] of `slot` to `value`, declaring exactly what it
    /// writes.
    pub fn set(from: Address, nonce: u64, slot: (Address, B256), value: U256, fee: U256) -> Self {
        let declared =
            AccessSet::unbounded([], [StateKey::Account(from), StateKey::Storage(slot.0, slot.1)]);
        let op = NativeOp::Set { slot, value };
        Self::from_body(Body { from, nonce, fee, op, declared: Some(declared) })
    }

    /// The same transaction declaring `declared` instead (`None`: nothing).
    pub fn with_declared(self, declared: Option<AccessSet>) -> Self {
        Self::from_body(Body { declared, ..self.body })
    }

    /// The sender.
    pub fn from(&self) -> Address {
        self.body.from
    }

    /// The operation.
    pub fn op(&self) -> &NativeOp {
        &self.body.op
    }
}

impl Transaction for NativeTx {
    fn hash(&self) -> B256 {
        self.hash
    }

    fn access_set(&self) -> Option<&AccessSet> {
        self.body.declared.as_ref()
    }

    fn encoded(&self) -> &Bytes {
        &self.encoded
    }

    fn known_writes(&self) -> KnownWrites {
        let credit = match &self.body.op {
            NativeOp::Transfer { to, .. } => Some(StateKey::Account(*to)),
            _ => None,
        };
        let (sequence, nonce) = (Some(StateKey::Account(self.body.from)), Some(self.body.nonce));
        KnownWrites { sequence, credit, nonce }
    }
}

impl PoolTransaction for NativeTx {
    fn sender(&self) -> Address {
        self.body.from
    }

    fn nonce(&self) -> u64 {
        self.body.nonce
    }

    fn gas_limit(&self) -> u64 {
        match &self.body.op {
            NativeOp::Transfer { .. } => TRANSFER_GAS,
            NativeOp::Touch { reads, writes } => {
                TRANSFER_GAS + SLOT_GAS * (reads.len() + writes.len()) as u64
            }
            NativeOp::Follow { .. } => TRANSFER_GAS + 3 * SLOT_GAS,
            NativeOp::Set { .. } => TRANSFER_GAS + SLOT_GAS,
        }
    }

    /// The flat fee spread over the gas it uses; native transactions pay no
    /// base fee.
    fn tip_per_gas(&self, _base_fee: u64) -> Option<u128> {
        let per_gas = self.body.fee / U256::from(self.gas_limit());
        Some(u128::try_from(per_gas).unwrap_or(u128::MAX))
    }
}

/// The admission hook of [`NativeTx`]s: a transaction's own declaration,
/// else what it touches when run against the context's state (a
/// prediction). What an embedder's hook for its own executor looks like.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeAdmission;

impl Admission<NativeTx> for NativeAdmission {
    fn admit(&self, tx: &NativeTx, _: AdmitContext<'_>) -> Result<Option<Admitted>, TxError> {
        Ok(tx
            .access_set()
            .map(|set| Admitted { access: Some(set.clone()), source: AccessSource::Declared }))
    }

    fn predict(&self, tx: &NativeTx, ctx: AdmitContext<'_>) -> Admitted {
        // Nonce and balance are not checked: a later nonce predicts too.
        let touched = ctx.bank.simulate(|mut view, _| {
            NativeExecutor.run(tx, &mut view, false).ok()?;
            view.touched_set(crate::DEFAULT_MAX_ACCESS_KEYS).ok()
        });
        match touched {
            Some(set) => Admitted { access: Some(set), source: AccessSource::Predicted },
            None => Admitted::default(),
        }
    }
}

/// Executes [`NativeTx`]s.
#[derive(Clone, Copy, Debug, Default)]
pub struct NativeExecutor;

impl Executor for NativeExecutor {
    type Tx = NativeTx;
    type Worker<'b> = ();

    fn decode(&self, bytes: &[u8]) -> Result<NativeTx, DecodeError> {
        let body = borsh::from_slice::<Body>(bytes).map_err(|e| DecodeError(e.to_string()))?;
        Ok(NativeTx::from_body(body))
    }

    fn worker<'b>(&'b self, _env: &'b BlockEnv) {}

    fn execute<'b>(
        &self,
        _worker: &mut (),
        tx: &NativeTx,
        mut state: StateView<'b>,
    ) -> (Result<Outcome, TxError>, StateView<'b>) {
        let result = self.run(tx, &mut state, true);
        (result, state)
    }
}

impl NativeExecutor {
    /// Runs `tx`; with `check` off, a bad nonce or a balance that cannot pay
    /// does not stop it (a prediction's run).
    fn run(
        &self,
        tx: &NativeTx,
        state: &mut StateView<'_>,
        check: bool,
    ) -> Result<Outcome, TxError> {
        let Body { from, nonce, fee, op, .. } = &tx.body;
        let mut sender = state.account(from)?;
        if check && sender.nonce != *nonce {
            return Err(TxError::Invalid(format!("nonce {nonce}, account has {}", sender.nonce)));
        }
        let amount = match op {
            NativeOp::Transfer { amount, .. } => *amount,
            NativeOp::Touch { .. } | NativeOp::Follow { .. } | NativeOp::Set { .. } => U256::ZERO,
        };
        let cost = amount.checked_add(*fee).filter(|c| !check || *c <= sender.balance);
        let Some(cost) = cost else {
            return Err(TxError::Invalid(format!(
                "balance {} cannot pay {amount} + {fee}",
                sender.balance
            )));
        };
        sender.nonce += 1;
        sender.balance = sender.balance.saturating_sub(cost);
        state.set_account(from, sender)?;
        let gas_used = match op {
            NativeOp::Transfer { to, amount } => {
                let mut receiver = state.account(to)?;
                receiver.balance = receiver.balance.saturating_add(*amount);
                state.set_account(to, receiver)?;
                if to != from {
                    state.note_credit(*to);
                    // Nothing it did depended on the sender's balance but
                    // that it covers the transfer and the fee.
                    state.note_debit(*from, cost);
                }
                TRANSFER_GAS
            }
            NativeOp::Touch { reads, writes } => {
                let mut sum = U256::ZERO;
                for (a, s) in reads.iter().chain(writes) {
                    sum = sum.wrapping_add(state.storage(a, s)?);
                }
                for (i, (a, s)) in writes.iter().enumerate() {
                    let value = sum.wrapping_add(U256::from(i as u64 + nonce + 1));
                    state.set_storage(a, s, value)?;
                }
                tx.gas_limit()
            }
            NativeOp::Follow { pointer: (a, s) } => {
                let at = state.storage(a, s)?;
                let target = B256::from(at);
                let value = state.storage(a, &target)?;
                state.set_storage(a, &target, value.wrapping_add(U256::from(1)))?;
                state.set_storage(a, s, at.wrapping_add(U256::from(1)))?;
                tx.gas_limit()
            }
            NativeOp::Set { slot: (a, s), value } => {
                state.set_storage(a, s, *value)?;
                tx.gas_limit()
            }
        };
        Ok(Outcome { success: true, gas_used, fee: *fee, data: Bytes::new() })
    }
}
