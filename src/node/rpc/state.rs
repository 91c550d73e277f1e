//! What the server impls read through [`NodeState`]: the head, blocks,
//! the state at a block, simulation banks, and transaction submission.

use alloy_consensus::Transaction as _;
use alloy_eips::{BlockId, BlockNumberOrTag};
use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsRead, HistoryError, ReadView};
use lanes_banking_stage::Mining;
use lanes_evm_adapter::EvmTx;
use lanes_runtime::{Bank, BankConfig, BlockEnv, BlockHeader, LatticeHash, RECENT_HASHES};

use crate::node::NodeState;
use crate::node::error::RpcError;
use crate::node::ledger::LedgerBlock;

pub(crate) type Res<T> = Result<T, RpcError>;

/// A send's wait for its transaction's block.
pub(crate) type Waiting = tokio::sync::oneshot::Receiver<()>;

/// The longest a send waits for its block under automine; past it, it
/// answers with the hash anyway.
pub(crate) const AUTOMINE_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// A failure of the node itself (disk, a decode of its own data).
pub(crate) fn internal(e: impl std::fmt::Display) -> RpcError {
    RpcError::Internal(e.to_string())
}

/// An account's header, the default one if it does not exist.
pub(crate) fn account(view: &ReadView, address: &Address) -> Res<AccountHeader> {
    Ok(view.get_account(address).map_err(internal)?.unwrap_or_default())
}

impl NodeState {
    /// Whether `eth_sendTransaction` sends as `address` without its key
    /// (a dev node's impersonation).
    pub(crate) fn impersonates(&self, address: &Address) -> bool {
        self.dev
            && (self.auto_impersonate.load(std::sync::atomic::Ordering::Relaxed)
                || self.impersonated.lock().contains(address))
    }

    /// The served head's number.
    pub(crate) fn head(&self) -> u64 {
        self.ledger.head().unwrap_or(0)
    }

    /// The next nonce of `address`, counting what the pool holds.
    pub(crate) fn pending_nonce(&self, address: &Address) -> Res<u64> {
        let committed = account(&self.state_at(None)?, address)?.nonce;
        Ok(self.stage(|st| st.pending_nonce(address))?.map_or(committed, |n| n.max(committed)))
    }

    /// A block of the ledger, `None` past the head.
    pub(crate) fn block(&self, number: u64) -> Res<Option<LedgerBlock>> {
        self.ledger.block(number).map_err(internal)
    }

    /// The number a tag names; `None` for a number past the head.
    pub(crate) fn resolve(&self, tag: BlockNumberOrTag) -> Option<u64> {
        let head = self.head();
        match tag {
            BlockNumberOrTag::Number(n) => (n <= head).then_some(n),
            BlockNumberOrTag::Earliest => Some(0),
            _ => Some(head),
        }
    }

    /// The block holding a transaction, and its index there.
    pub(crate) fn find_tx(&self, hash: &B256) -> Res<Option<(LedgerBlock, usize)>> {
        let Some((number, index)) = self.ledger.locate_tx(hash) else { return Ok(None) };
        Ok(self.block(number)?.map(|lb| (lb, index as usize)))
    }

    /// Runs `f` on the banking stage, or fails once it has shut down.
    pub(crate) fn stage<R>(
        &self,
        f: impl FnOnce(&lanes_banking_stage::BankingStage<lanes_evm_adapter::EvmExecutor>) -> R,
    ) -> Res<R> {
        let guard = self.stage.read();
        let stage =
            guard.as_ref().ok_or_else(|| RpcError::Internal("node is shutting down".into()))?;
        Ok(f(stage))
    }

    /// The block a state method's block id names: `None` for the latest
    /// state (latest, pending, safe, finalized), else a number at most the
    /// head's.
    fn state_block(&self, at: Option<BlockId>) -> Res<Option<u64>> {
        let asked = match at {
            None | Some(BlockId::Number(BlockNumberOrTag::Latest | BlockNumberOrTag::Pending)) => {
                return Ok(None);
            }
            Some(BlockId::Number(BlockNumberOrTag::Safe | BlockNumberOrTag::Finalized)) => {
                return Ok(None);
            }
            Some(BlockId::Number(BlockNumberOrTag::Number(n))) => n,
            Some(BlockId::Number(BlockNumberOrTag::Earliest)) => 0,
            Some(BlockId::Hash(h)) => self.ledger.number_of(&h.block_hash).ok_or_else(|| {
                RpcError::NotFound(format!("unknown block hash {}", h.block_hash))
            })?,
        };
        let head = self.head();
        if asked > head {
            return Err(RpcError::NotFound(format!(
                "block {asked} is past the head (block {head})"
            )));
        }
        Ok(Some(asked))
    }

    /// The state after a block id's block, while the state keeps it
    /// (`--history-blocks`).
    pub(crate) fn state_at(&self, at: Option<BlockId>) -> Res<ReadView> {
        let latest = self.stage(|st| st.state())?;
        match self.state_block(at)? {
            None => Ok(latest),
            Some(n) => latest.at_block(n).map_err(|e| match e {
                HistoryError::Pruned { block, oldest } => RpcError::Pruned { asked: block, oldest },
                e => internal(e),
            }),
        }
    }

    /// A bank for simulations (`eth_call`, `eth_estimateGas`, ...): on the
    /// latest state, as the next block; at a block named by number or hash,
    /// on the state after it, as that block (its number, time, coinbase and
    /// fees), as geth does.
    pub(crate) fn sim_bank(&self, at: Option<BlockId>) -> Res<Bank> {
        let (view, env) = self.sim_env(at)?;
        let parent = env.recent_hashes.first().copied().unwrap_or_default();
        // Never sealed: the codec does not matter.
        Ok(Bank::new(view, parent, LatticeHash::identity(), env, BankConfig::default()))
    }

    /// The state and block environment [`Self::sim_bank`] runs on.
    pub(crate) fn sim_env(&self, at: Option<BlockId>) -> Res<(ReadView, BlockEnv)> {
        let view = self.state_at(at)?;
        let env = match self.state_block(at)? {
            Some(n) => {
                let lb = self.block(n)?.ok_or_else(|| internal(format!("block {n} unreadable")))?;
                self.header_env(&lb.block.header)
            }
            None => {
                let (head, hash, now, coinbase) =
                    self.stage(|st| (st.head(), st.head_hash(), st.now(), st.coinbase()))?;
                let mut recent_hashes = vec![hash];
                recent_hashes.extend(self.hashes_before(head.number));
                BlockEnv {
                    number: head.number + 1,
                    timestamp: now.max(head.timestamp),
                    coinbase,
                    base_fee: head.base_fee,
                    gas_limit: head.gas_limit,
                    recent_hashes,
                    random: hash,
                }
            }
        };
        Ok((view, env))
    }

    /// The hashes of the (at most 256) blocks before block `number`, newest
    /// first.
    fn hashes_before(&self, number: u64) -> impl Iterator<Item = B256> + '_ {
        (0..number).rev().take(RECENT_HASHES).map_while(|n| self.ledger.hash_of(n))
    }

    /// The environment a served block ran in: its header's fields, the
    /// hashes of the 256 blocks before it (BLOCKHASH), and its parent's hash
    /// as PREVRANDAO.
    pub(crate) fn header_env(&self, h: &BlockHeader) -> BlockEnv {
        let recent_hashes = self.hashes_before(h.number).collect();
        BlockEnv {
            number: h.number,
            timestamp: h.timestamp,
            coinbase: h.coinbase,
            base_fee: h.base_fee,
            gas_limit: h.gas_limit,
            recent_hashes,
            random: h.parent_hash,
        }
    }

    /// Decodes, checks the sender can pay, and submits a raw transaction;
    /// under automine, also a wait that ends once the transaction's block is
    /// committed, for a transaction that is its sender's next (one behind a
    /// nonce gap would wait for the gap).
    pub(crate) fn send_raw_waiting(&self, raw: &[u8]) -> Res<(B256, Option<Waiting>)> {
        let tx = EvmTx::decode(raw, &self.rules)?;
        let envelope = tx.envelope();
        let intrinsic = self.executor.intrinsic_gas(&tx);
        if envelope.gas_limit() < intrinsic {
            return Err(RpcError::IntrinsicGas { gas: envelope.gas_limit(), intrinsic });
        }
        let cost = U256::from(envelope.gas_limit()) * U256::from(envelope.max_fee_per_gas())
            + envelope.value();
        let balance = account(&self.state_at(None)?, &tx.sender())?.balance;
        if balance < cost {
            return Err(RpcError::InsufficientFunds { balance, cost });
        }
        let hash = tx.hash();
        let automine = self.stage(|st| st.mining())? == Mining::OnDemand;
        let wait = (automine && self.pending_nonce(&tx.sender())? == tx.envelope().nonce())
            .then(|| self.waiters.register(hash));
        let result = self.stage(|st| st.submit_decoded(vec![tx]))?;
        match result.into_iter().next().expect("one result per transaction") {
            Ok(hash) => {
                self.filters.on_pending(hash);
                Ok((hash, wait))
            }
            Err(e) => {
                if wait.is_some() {
                    self.waiters.forget(&hash);
                }
                Err(e.into())
            }
        }
    }
}
