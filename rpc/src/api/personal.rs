//! `personal_*`: signing with the node's unlocked accounts.

use alloy_primitives::{Address, Bytes};
use jsonrpsee::core::RpcResult;
use jsonrpsee::proc_macros::rpc;

/// The `personal` namespace (what ethers' and hardhat's signers call).
#[rpc(server, client, namespace = "personal")]
pub trait PersonalApi {
    /// `eth_sign` with the parameters the other way round: signs `message`
    /// with an unlocked account under EIP-191's `"\x19Ethereum Signed
    /// Message:\n" + length` prefix; the 65-byte signature (`v` 27 or 28).
    #[method(name = "sign")]
    fn sign(&self, message: Bytes, address: Address) -> RpcResult<Bytes>;
}
