//! revm's view of state: [`ViewDb`], a `revm::Database` over the running
//! transaction's lock-checked `StateView`, with analysed code cached per
//! worker and shared across workers ([`SharedCode`]); how account headers
//! map to revm's accounts ([`EXISTING_EMPTY`]).

use std::sync::Arc;

use alloy_primitives::map::FbBuildHasher;
use alloy_primitives::{Address, B256, Bytes, KECCAK256_EMPTY, U256};
use lanes_accounts_db::AccountHeader;
use lanes_runtime::{BlockEnv, StateView, TxError};
use parking_lot::Mutex;
use revm::Database;
use revm::bytecode::Bytecode;
use revm::database_interface::DBErrorMarker;
use revm::primitives::hardfork::SpecId;
use revm::state::AccountInfo;
use schnellru::{ByLength, LruMap};

/// A `TxError` as revm's database error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(transparent)]
pub(crate) struct DbError(pub(crate) TxError);

impl DBErrorMarker for DbError {}

/// revm's view of state: the running transaction's lock-checked `StateView`
/// (`None` between transactions), plus analysed code by hash (code is
/// immutable, so a cached entry never goes stale).
pub(crate) struct ViewDb<'b> {
    pub(crate) view: Option<StateView<'b>>,
    pub(crate) env: &'b BlockEnv,
    pub(crate) code: CodeCache,
}

impl<'b> ViewDb<'b> {
    pub(crate) fn view(&mut self) -> Result<&mut StateView<'b>, DbError> {
        self.view
            .as_mut()
            .ok_or_else(|| DbError(TxError::State("no transaction is running".into())))
    }
}

/// Analysed bytecode by hash, the [`CODE_CACHE_ENTRIES`] most recently used.
/// Filed by alloy's fixed-bytes hasher (seeded foldhash): a contract call
/// looks its code up here on every transaction, and SipHash (std's default)
/// is slow on 32-byte keys.
/// Behind it, the executor's [`SharedCode`], which outlives the worker.
pub(crate) struct CodeCache(
    LruMap<B256, Bytecode, ByLength, FbBuildHasher<32>>,
    pub(crate) Option<SharedCode>,
);

/// Contracts a worker keeps analysed; past this the least recently used goes.
const CODE_CACHE_ENTRIES: u32 = 1024;

impl CodeCache {
    /// An empty cache backed by `shared`.
    pub(crate) fn shared(shared: SharedCode) -> Self {
        Self(CodeCache::default().0, Some(shared))
    }
}

impl Default for CodeCache {
    fn default() -> Self {
        let local =
            LruMap::with_hasher(ByLength::new(CODE_CACHE_ENTRIES), FbBuildHasher::default());
        Self(local, None)
    }
}

/// Contracts kept analysed across workers and blocks; past this the least
/// recently used goes.
pub const SHARED_CODE_ENTRIES: u32 = 16_384;

/// Analysed bytecode by hash that every worker of an executor shares, block
/// after block (a worker's own cache lives for one block): a contract is
/// analysed (its jump destinations found) once, not once per worker per
/// block. Cloning shares it.
#[derive(Clone)]
pub struct SharedCode(Arc<Mutex<LruMap<B256, Bytecode, ByLength, FbBuildHasher<32>>>>);

impl Default for SharedCode {
    fn default() -> Self {
        let map = LruMap::with_hasher(ByLength::new(SHARED_CODE_ENTRIES), FbBuildHasher::default());
        Self(Arc::new(Mutex::new(map)))
    }
}

impl std::fmt::Debug for SharedCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SharedCode").field("entries", &self.0.lock().len()).finish()
    }
}

/// The code hash lanes stores for an account that exists with no nonce,
/// balance or code. Before EIP-161 (Spurious Dragon) such an account is part
/// of the state: its existence changes CALL's gas and the state root. (An
/// empty header would delete the account.) No code hashes to it.
pub const EXISTING_EMPTY: B256 = B256::with_last_byte(1);

/// Whether a stored code hash names code (not none, nor [`EXISTING_EMPTY`]).
pub fn has_code(code_hash: &B256) -> bool {
    !code_hash.is_zero() && *code_hash != KECCAK256_EMPTY && *code_hash != EXISTING_EMPTY
}

/// Whether `spec` keeps a touched empty account (before EIP-161, Spurious
/// Dragon, which deletes it): `stored_header`'s `keep_empty`.
pub fn keeps_empty(spec: SpecId) -> bool {
    !spec.is_enabled_in(SpecId::SPURIOUS_DRAGON)
}

/// The header lanes stores for revm's account `info`; an empty account is
/// deleted, or kept as [`EXISTING_EMPTY`] when `keep_empty` (before EIP-161).
pub(crate) fn stored_header(info: &AccountInfo, keep_empty: bool) -> AccountHeader {
    match (info.is_empty(), keep_empty) {
        (true, true) => AccountHeader { code_hash: EXISTING_EMPTY, ..AccountHeader::default() },
        (true, false) => AccountHeader::default(),
        (false, _) => {
            AccountHeader { nonce: info.nonce, balance: info.balance, code_hash: info.code_hash }
        }
    }
}

/// revm's account for a stored header, its code left for `code_by_hash`.
/// Every field is named: `..Default::default()` would build and drop a
/// default `Bytecode`, a clone of one shared static `Arc` (two atomic
/// operations on a line every worker touches, for each account load).
pub(crate) fn header_to_info(header: AccountHeader) -> Option<AccountInfo> {
    if header.is_empty() {
        return None;
    }
    let code_hash = if has_code(&header.code_hash) { header.code_hash } else { KECCAK256_EMPTY };
    Some(AccountInfo {
        balance: header.balance,
        nonce: header.nonce,
        code_hash,
        account_id: None,
        code: None,
    })
}

impl Database for ViewDb<'_> {
    type Error = DbError;

    fn basic(&mut self, address: Address) -> Result<Option<AccountInfo>, DbError> {
        Ok(header_to_info(self.view()?.account(&address).map_err(DbError)?))
    }

    fn code_by_hash(&mut self, code_hash: B256) -> Result<Bytecode, DbError> {
        if code_hash == KECCAK256_EMPTY || code_hash.is_zero() {
            return Ok(Bytecode::default());
        }
        if let Some(code) = self.code.0.get(&code_hash) {
            return Ok(code.clone());
        }
        let shared = self.code.1.as_ref().and_then(|s| s.0.lock().get(&code_hash).cloned());
        let code = match shared {
            Some(code) => code,
            None => {
                let code = self.view()?.code(&code_hash).map_err(DbError)?.map(stored_bytecode);
                if let (Some(code), Some(shared)) = (&code, &self.code.1) {
                    shared.0.lock().insert(code_hash, code.clone());
                }
                code.unwrap_or_default()
            }
        };
        self.code.0.insert(code_hash, code.clone());
        Ok(code)
    }

    fn storage(&mut self, address: Address, index: U256) -> Result<U256, DbError> {
        self.view()?.storage(&address, &B256::from(index)).map_err(DbError)
    }

    fn block_hash(&mut self, number: u64) -> Result<B256, DbError> {
        Ok(recent_hash(self.env, number))
    }
}

/// revm's bytecode for stored code. Code that is not valid as what its first
/// bytes claim (an EIP-7702 designator, say) is plain legacy code, not a
/// panic.
pub(crate) fn stored_bytecode(code: Bytes) -> Bytecode {
    Bytecode::new_raw_checked(code.clone()).unwrap_or_else(|_| Bytecode::new_legacy(code))
}

/// BLOCKHASH of block `number` in the block `env`: from its recent hashes
/// (`recent_hashes[0]` is the parent's, block `env.number - 1`), zero
/// outside them.
pub(crate) fn recent_hash(env: &BlockEnv, number: u64) -> B256 {
    let back = env.number.checked_sub(number).and_then(|d| d.checked_sub(1));
    back.and_then(|i| env.recent_hashes.get(i as usize)).copied().unwrap_or_default()
}
