//! What the server impls share besides [`NodeState`](crate::NodeState):
//! their result type, an internal failure, an account read, and how long a
//! send waits for its block.

use alloy_primitives::Address;
use lanes_accounts_db::{AccountHeader, AccountsRead, ReadView};

use crate::error::RpcError;

pub(crate) type Res<T> = Result<T, RpcError>;

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
