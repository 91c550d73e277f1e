//! How an EVM executor is set up: the chain's id and fork
//! ([`EvmConfig`]), and the budget of its simulations ([`CallLimits`]).

use std::time::Duration;

use revm::primitives::hardfork::SpecId;

use crate::tx::TxRules;

/// The EVM fork lanes runs by default: Prague. Its beacon-chain system calls
/// (EIP-2935 history contract, EIP-7002/7251 request contracts) are not made;
/// BLOCKHASH reads the runtime's recent-block ring instead.
pub const DEFAULT_SPEC: SpecId = SpecId::PRAGUE;

/// Chain settings of the EVM executor.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EvmConfig {
    /// Chain id transactions must carry.
    pub chain_id: u64,
    /// EVM fork.
    pub spec: SpecId,
    /// Accept pre-EIP-155 legacy transactions (no chain id).
    pub allow_unprotected: bool,
    /// Accept impersonated transactions ([`crate::impersonated`]): a dev
    /// chain's, in blocks and in replay.
    pub allow_impersonated: bool,
    /// The gas and time budget of `eth_call`-like simulations.
    pub call_limits: CallLimits,
}

impl EvmConfig {
    /// Chain `chain_id` at [`DEFAULT_SPEC`].
    pub fn new(chain_id: u64) -> Self {
        Self {
            chain_id,
            spec: DEFAULT_SPEC,
            allow_unprotected: false,
            allow_impersonated: false,
            call_limits: CallLimits::default(),
        }
    }

    /// The transaction rules this config implies.
    pub fn tx_rules(&self) -> TxRules {
        TxRules {
            allow_unprotected: self.allow_unprotected,
            allow_impersonated: self.allow_impersonated,
            allow_blobs: self.spec.is_enabled_in(SpecId::CANCUN),
            ..TxRules::new(self.chain_id)
        }
    }
}

/// Default most gas a simulation runs with (geth's `--rpc.gascap`).
pub const DEFAULT_CALL_GAS_CAP: u64 = 50_000_000;
/// Default longest a simulation runs (geth's `--rpc.evmtimeout`).
pub const DEFAULT_CALL_TIMEOUT: Duration = Duration::from_secs(5);

/// The budget of a simulation (`eth_call`, `eth_estimateGas`,
/// `eth_createAccessList`, `debug_traceCall`): its gas is capped at the
/// lower of [`Self::gas_cap`] and the block gas limit, and a run (for
/// `eth_estimateGas` and `eth_createAccessList`, all their runs together)
/// past [`Self::timeout`] stops with [`SimError::Timeout`](crate::SimError::Timeout).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CallLimits {
    /// Most gas a simulation runs with.
    pub gas_cap: u64,
    /// Longest a simulation runs.
    pub timeout: Duration,
}

impl Default for CallLimits {
    fn default() -> Self {
        Self { gas_cap: DEFAULT_CALL_GAS_CAP, timeout: DEFAULT_CALL_TIMEOUT }
    }
}
