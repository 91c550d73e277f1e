//! One door from a JSON-RPC transaction request to the transaction it
//! stands for ([`transaction`]): the type a request asks for or implies,
//! and the fields it leaves out filled. `eth_sendTransaction` signs what it
//! answers; `eth_call`, `eth_estimateGas`, `eth_createAccessList`, the
//! trace calls and `eth_simulateV1` run it unsigned.
//!
//! The type, as geth and anvil choose it:
//!
//! | the request | type |
//! |---|---|
//! | `type` given (0 to 4) | that one, if the fields fit it |
//! | an `authorizationList` | 4 (EIP-7702) |
//! | `blobVersionedHashes` | 3 (EIP-4844) |
//! | `gasPrice`, or a fork before London | 1 with an `accessList`, else 0 |
//! | anything else | 2 (EIP-1559) |
//!
//! What differs between the doors is only what each passes ([`Fill`]): the
//! nonce and gas it settled (the request's, else the sender's next nonce
//! and an estimate for a sent transaction, the state's nonce and what the
//! block has left for a simulation), and the fees a request leaves out
//! ([`Fees`]: a sent transaction pays the market's, a call nothing).

use alloy_consensus::{
    TxEip1559, TxEip2930, TxEip4844, TxEip4844Variant, TxEip7702, TxLegacy, TypedTransaction,
};
use alloy_primitives::TxKind;
use alloy_rpc_types_eth::TransactionRequest;

/// What a door fills where the request says nothing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fill {
    /// The chain's id (EIP-155), signed into every type.
    pub chain_id: u64,
    /// The nonce: the request's, or the door's default for it.
    pub nonce: u64,
    /// The gas limit: the request's, or the door's default for it (a
    /// door may also cap what the request gives).
    pub gas: u64,
    /// The fees, where the request gives none.
    pub fees: Fees,
    /// Whether the fork has EIP-1559's fee market (London on): before it a
    /// request without a type is a legacy one.
    pub fee_market: bool,
}

/// The fees a request leaves out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fees {
    /// Nothing: a call or a simulation charges no fee it was not asked to.
    Zero,
    /// The market's, as anvil fills a sent transaction: a tip of `tip`,
    /// and a fee cap (or legacy price) of twice `base_fee` (the next
    /// block's) plus the tip. A default tip is lowered to a cap the
    /// request gives.
    Market {
        /// The next block's base fee.
        base_fee: u128,
        /// The tip.
        tip: u128,
    },
}

/// A request no transaction can stand for.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// A legacy price beside EIP-1559 fees (geth's words).
    #[error("both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified")]
    BothFeeKinds,
    /// A `type` beyond the ones there are.
    #[error("transaction type {0} is not one a request can ask for (0 to 4)")]
    UnknownType(u8),
    /// A `type` its fields do not fit.
    #[error(
        "type {0} does not fit the request: an authorizationList needs type 4 (and type 4 one), blobVersionedHashes type 3 (and type 3 them), an accessList type 1 or above"
    )]
    TypeMismatch(u8),
    /// A blob or set-code transaction without a callee.
    #[error("a blob or set-code transaction (type {0}) needs a `to`: it cannot create a contract")]
    NeedsTo(u8),
}

/// The transaction `r` stands for, unsigned, its gaps filled from `fill`.
pub fn transaction(r: &TransactionRequest, fill: &Fill) -> Result<TypedTransaction, RequestError> {
    if r.gas_price.is_some()
        && (r.max_fee_per_gas.is_some() || r.max_priority_fee_per_gas.is_some())
    {
        return Err(RequestError::BothFeeKinds);
    }
    let authorizations = r.authorization_list.clone().unwrap_or_default();
    let blob_hashes = r.blob_versioned_hashes.clone().unwrap_or_default();
    let ty = match r.transaction_type {
        Some(ty @ 0..=4) => ty,
        Some(ty) => return Err(RequestError::UnknownType(ty)),
        None if !authorizations.is_empty() => 4,
        None if !blob_hashes.is_empty() => 3,
        None if r.gas_price.is_some() || !fill.fee_market => u8::from(r.access_list.is_some()),
        None => 2,
    };
    let listed = r.access_list.as_ref().is_some_and(|list| !list.is_empty());
    let fits = (ty == 4) != authorizations.is_empty()
        && (ty == 3) != blob_hashes.is_empty()
        && !(ty == 0 && listed);
    if !fits {
        return Err(RequestError::TypeMismatch(ty));
    }
    // The fee cap the request gives, under either name.
    let cap = r.max_fee_per_gas.or(r.gas_price);
    let (tip, max_fee) = match fill.fees {
        Fees::Zero => (r.max_priority_fee_per_gas.unwrap_or(0), cap.unwrap_or(0)),
        Fees::Market { base_fee, tip } => {
            let tip = r.max_priority_fee_per_gas.unwrap_or(cap.map_or(tip, |cap| tip.min(cap)));
            (tip, cap.unwrap_or(base_fee.saturating_mul(2).saturating_add(tip)))
        }
    };
    let (chain_id, nonce, gas_limit) = (fill.chain_id, fill.nonce, fill.gas);
    let to = r.to.unwrap_or(TxKind::Create);
    let call_to = || match to {
        TxKind::Call(to) => Ok(to),
        TxKind::Create => Err(RequestError::NeedsTo(ty)),
    };
    let value = r.value.unwrap_or_default();
    let input = r.input.input().cloned().unwrap_or_default();
    let access_list = r.access_list.clone().unwrap_or_default();
    Ok(match ty {
        0 => {
            let chain_id = Some(chain_id);
            let gas_price = max_fee;
            TxLegacy { chain_id, nonce, gas_price, gas_limit, to, value, input }.into()
        }
        1 => {
            let gas_price = max_fee;
            TxEip2930 { chain_id, nonce, gas_price, gas_limit, to, value, input, access_list }
                .into()
        }
        2 => TxEip1559 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to,
            value,
            access_list,
            input,
        }
        .into(),
        3 => TypedTransaction::Eip4844(TxEip4844Variant::TxEip4844(TxEip4844 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: call_to()?,
            value,
            access_list,
            blob_versioned_hashes: blob_hashes,
            max_fee_per_blob_gas: r.max_fee_per_blob_gas.unwrap_or(0),
            input,
        })),
        _ => TxEip7702 {
            chain_id,
            nonce,
            gas_limit,
            max_fee_per_gas: max_fee,
            max_priority_fee_per_gas: tip,
            to: call_to()?,
            value,
            access_list,
            authorization_list: authorizations,
            input,
        }
        .into(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_consensus::{Transaction as _, Typed2718 as _};
    use alloy_eips::eip2930::{AccessList, AccessListItem};
    use alloy_primitives::{Address, B256};

    const MARKET: Fill = Fill {
        chain_id: 7,
        nonce: 3,
        gas: 21_000,
        fees: Fees::Market { base_fee: 10, tip: 2 },
        fee_market: true,
    };
    const CALL: Fill = Fill { fees: Fees::Zero, ..MARKET };

    fn to() -> Option<TxKind> {
        Some(TxKind::Call(Address::repeat_byte(9)))
    }

    fn list() -> Option<AccessList> {
        Some(AccessList(vec![AccessListItem { address: Address::ZERO, storage_keys: vec![] }]))
    }

    #[test]
    fn test_the_type_follows_the_fields_as_geth_chooses_it() {
        let ty = |r: TransactionRequest, fill: &Fill| transaction(&r, fill).map(|t| t.ty());
        let plain = TransactionRequest { to: to(), ..Default::default() };
        assert_eq!(ty(plain.clone(), &MARKET), Ok(2));
        assert_eq!(ty(plain.clone(), &Fill { fee_market: false, ..MARKET }), Ok(0));
        let priced = TransactionRequest { gas_price: Some(5), ..plain.clone() };
        assert_eq!(ty(priced.clone(), &MARKET), Ok(0));
        assert_eq!(ty(TransactionRequest { access_list: list(), ..priced }, &MARKET), Ok(1));
        let blobs =
            TransactionRequest { blob_versioned_hashes: Some(vec![B256::ZERO]), ..plain.clone() };
        assert_eq!(ty(blobs.clone(), &CALL), Ok(3));
        let create = TransactionRequest { to: None, ..blobs };
        assert_eq!(ty(create, &CALL), Err(RequestError::NeedsTo(3)));
        let typed = TransactionRequest { transaction_type: Some(0), access_list: list(), ..plain };
        assert_eq!(ty(typed.clone(), &MARKET), Err(RequestError::TypeMismatch(0)));
        let four = TransactionRequest { transaction_type: Some(4), ..typed.clone() };
        assert_eq!(ty(four, &MARKET), Err(RequestError::TypeMismatch(4)));
        let nine = TransactionRequest { transaction_type: Some(9), ..typed };
        assert_eq!(ty(nine, &MARKET), Err(RequestError::UnknownType(9)));
    }

    #[test]
    fn test_a_sent_transaction_pays_the_market_and_a_call_nothing() {
        let plain = TransactionRequest { to: to(), ..Default::default() };
        let sent = transaction(&plain, &MARKET).unwrap();
        assert_eq!((sent.max_fee_per_gas(), sent.max_priority_fee_per_gas()), (22, Some(2)));
        assert_eq!((sent.nonce(), sent.gas_limit(), sent.chain_id()), (3, 21_000, Some(7)));
        let called = transaction(&plain, &CALL).unwrap();
        assert_eq!((called.max_fee_per_gas(), called.max_priority_fee_per_gas()), (0, Some(0)));
        // A cap under the default tip lowers the tip; a tip given stands.
        let capped = TransactionRequest { max_fee_per_gas: Some(1), ..plain.clone() };
        assert_eq!(transaction(&capped, &MARKET).unwrap().max_priority_fee_per_gas(), Some(1));
        let tipped = TransactionRequest { max_priority_fee_per_gas: Some(5), ..capped };
        assert_eq!(transaction(&tipped, &MARKET).unwrap().max_priority_fee_per_gas(), Some(5));
        let both = TransactionRequest { gas_price: Some(1), ..tipped };
        assert_eq!(transaction(&both, &MARKET), Err(RequestError::BothFeeKinds));
    }
}
