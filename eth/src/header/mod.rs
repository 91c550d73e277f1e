//! The header rules a full node checks against the parent header.
//!
//! They follow go-ethereum's `ethash` and `beacon` `verifyHeader`, `VerifyEIP1559Header`,
//! `VerifyGaslimit`, `VerifyDAOHeaderExtraData` and `VerifyEIP4844Header`.

use alloy_consensus::{EMPTY_OMMER_ROOT_HASH, Header};
use alloy_eips::{
    eip1559::{BaseFeeParams, INITIAL_BASE_FEE, calc_next_block_base_fee},
    eip4844::DATA_GAS_PER_BLOB,
    eip7840::BlobParams,
};
use alloy_primitives::{B64, U256};
use std::fmt::Display;

use super::{difficulty::calc_difficulty, spec::EthSpec};
use lanes_evm_adapter::SpecId;

/// The most extra data a header may carry, in bytes.
pub const MAXIMUM_EXTRA_DATA_SIZE: usize = 32;

/// The least gas limit a block may have.
pub const MIN_GAS_LIMIT: u64 = 5000;

/// The greatest gas limit a block may have (2^63 - 1).
pub const MAX_GAS_LIMIT: u64 = 0x7fff_ffff_ffff_ffff;

/// The gas limit may move by less than the parent's limit divided by this.
pub const GAS_LIMIT_BOUND_DIVISOR: u64 = 1024;

/// The extra data the DAO fork's blocks must carry on a chain that supports it.
pub const DAO_FORK_EXTRA_DATA: &[u8] = b"dao-hard-fork";

/// How many blocks from the DAO fork block on carry [`DAO_FORK_EXTRA_DATA`].
pub const DAO_FORK_EXTRA_RANGE: u64 = 10;

/// A header that breaks a consensus rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: expected {expected}, got {got}")]
pub struct HeaderError {
    /// The header field (or rule) that is wrong.
    pub field: &'static str,
    /// What the rule asks for.
    pub expected: String,
    /// What the header has.
    pub got: String,
}

impl HeaderError {
    /// Builds an error from anything printable.
    pub fn new(field: &'static str, expected: impl Display, got: impl Display) -> Self {
        Self { field, expected: expected.to_string(), got: got.to_string() }
    }
}

/// "present" or "absent", for errors about optional fields.
fn presence<T>(field: &Option<T>) -> &'static str {
    if field.is_some() { "present" } else { "absent" }
}

/// Checks that an optional field is present exactly when its fork is active.
fn check_presence<T>(
    field: &'static str,
    value: &Option<T>,
    active: bool,
) -> Result<(), HeaderError> {
    if value.is_some() == active {
        return Ok(());
    }
    Err(HeaderError::new(field, if active { "present" } else { "absent" }, presence(value)))
}

/// Checks a header against its parent.
///
/// `merged` says the header is after the merge; the caller knows it from total difficulty
/// (see [`EthSpec::is_merged_by_difficulty`]).
///
/// Checked here: number, timestamp, extra data, gas limit and gas used bounds, the
/// EIP-1559 base fee, difficulty (the ethash formula before the merge, 0 after), the
/// post-merge nonce and ommers hash, the DAO fork's extra data, which fork fields are
/// present, and the EIP-4844 blob gas fields.
///
/// Not checked: the parent hash link, the proof-of-work seal, the future-time limit
/// (it depends on the wall clock), and the fields that need the body or execution
/// (transactions, receipts, state, withdrawals and requests roots, gas used, bloom).
pub fn check_header(
    spec: &EthSpec,
    parent: &Header,
    header: &Header,
    merged: bool,
) -> Result<(), HeaderError> {
    check_number_and_time(parent, header)?;
    check_limits(header)?;
    check_fork_support(spec, header, merged)?;
    check_gas_limit_and_base_fee(spec, parent, header, merged)?;
    if merged {
        check_proof_of_stake(header)?;
    } else {
        let expected = calc_difficulty(spec, parent, header.timestamp);
        if header.difficulty != expected {
            return Err(HeaderError::new("difficulty", expected, header.difficulty));
        }
        check_dao_extra_data(spec, header)?;
    }
    let spec_id = spec.spec_at(header.number, header.timestamp, merged);
    check_fork_fields(header, spec_id)?;
    if spec_id.is_enabled_in(SpecId::CANCUN) {
        check_blob_gas(spec, parent, header, spec_id)?;
    }
    Ok(())
}

/// The header follows its parent in number and time.
fn check_number_and_time(parent: &Header, header: &Header) -> Result<(), HeaderError> {
    match parent.number.checked_add(1) {
        Some(number) if number == header.number => {}
        Some(number) => return Err(HeaderError::new("number", number, header.number)),
        None => return Err(HeaderError::new("number", "a parent below u64::MAX", parent.number)),
    }
    if header.timestamp <= parent.timestamp {
        let expected = format!("more than {}", parent.timestamp);
        return Err(HeaderError::new("timestamp", expected, header.timestamp));
    }
    Ok(())
}

/// Bounds that hold in every fork.
fn check_limits(header: &Header) -> Result<(), HeaderError> {
    if header.extra_data.len() > MAXIMUM_EXTRA_DATA_SIZE {
        let expected = format!("at most {MAXIMUM_EXTRA_DATA_SIZE} bytes");
        let got = format!("{} bytes", header.extra_data.len());
        return Err(HeaderError::new("extra_data", expected, got));
    }
    if header.gas_limit > MAX_GAS_LIMIT {
        let expected = format!("at most {MAX_GAS_LIMIT}");
        return Err(HeaderError::new("gas_limit", expected, header.gas_limit));
    }
    if header.gas_used > header.gas_limit {
        let expected = format!("at most the gas limit {}", header.gas_limit);
        return Err(HeaderError::new("gas_used", expected, header.gas_used));
    }
    Ok(())
}

/// Rejects time forks before the merge.
fn check_fork_support(spec: &EthSpec, header: &Header, merged: bool) -> Result<(), HeaderError> {
    // Shanghai and later need proof of stake: geth's ethash rejects them.
    if !merged && spec.is_london(header.number) && spec.is_time_fork_reached(header.timestamp) {
        let expected = "a post-merge block (Shanghai and later are proof of stake)";
        return Err(HeaderError::new("merged", expected, "a pre-merge block"));
    }
    Ok(())
}

/// geth's `VerifyGaslimit`: the limit moves by less than 1/1024 of the parent's and stays
/// at or above [`MIN_GAS_LIMIT`].
fn check_gas_limit_bound(parent_gas_limit: u128, gas_limit: u64) -> Result<(), HeaderError> {
    let gas_limit_wide = u128::from(gas_limit);
    let bound = parent_gas_limit / u128::from(GAS_LIMIT_BOUND_DIVISOR);
    if gas_limit_wide.abs_diff(parent_gas_limit) >= bound {
        let expected = format!(
            "more than {} and less than {}",
            parent_gas_limit.saturating_sub(bound),
            parent_gas_limit.saturating_add(bound)
        );
        return Err(HeaderError::new("gas_limit", expected, gas_limit));
    }
    if gas_limit < MIN_GAS_LIMIT {
        let expected = format!("at least {MIN_GAS_LIMIT}");
        return Err(HeaderError::new("gas_limit", expected, gas_limit));
    }
    Ok(())
}

/// The gas limit bounds and, from London on, the exact EIP-1559 base fee.
fn check_gas_limit_and_base_fee(
    spec: &EthSpec,
    parent: &Header,
    header: &Header,
    merged: bool,
) -> Result<(), HeaderError> {
    // Post-merge blocks are London blocks whatever the config says, as in geth's beacon engine.
    let london = merged || spec.is_london(header.number);
    if !london {
        if let Some(base_fee) = header.base_fee_per_gas {
            return Err(HeaderError::new("base_fee_per_gas", "absent", base_fee));
        }
        return check_gas_limit_bound(u128::from(parent.gas_limit), header.gas_limit);
    }
    let params = BaseFeeParams::ethereum();
    let parent_london = spec.is_london(parent.number);
    let parent_gas_limit = if parent_london {
        u128::from(parent.gas_limit)
    } else {
        // At the London transition the parent's limit is doubled to keep the gas target.
        u128::from(parent.gas_limit).saturating_mul(params.elasticity_multiplier)
    };
    check_gas_limit_bound(parent_gas_limit, header.gas_limit)?;
    let Some(base_fee) = header.base_fee_per_gas else {
        return Err(HeaderError::new("base_fee_per_gas", "present", "absent"));
    };
    let expected = if parent_london {
        let Some(parent_base_fee) = parent.base_fee_per_gas else {
            return Err(HeaderError::new("parent base_fee_per_gas", "present", "absent"));
        };
        next_base_fee(parent.gas_used, parent.gas_limit, parent_base_fee, params)
    } else {
        u128::from(INITIAL_BASE_FEE)
    };
    if u128::from(base_fee) != expected {
        return Err(HeaderError::new("base_fee_per_gas", expected, base_fee));
    }
    Ok(())
}

/// The EIP-1559 base fee of the next block, without overflow.
///
/// alloy's formula adds in `u64`, which could overflow for a parent base fee above
/// `u64::MAX / 2`; those fees take the same formula in `u128`.
pub(crate) fn next_base_fee(
    gas_used: u64,
    gas_limit: u64,
    base_fee: u64,
    params: BaseFeeParams,
) -> u128 {
    if base_fee <= u64::MAX / 2 {
        return u128::from(calc_next_block_base_fee(gas_used, gas_limit, base_fee, params));
    }
    let target = u128::from(gas_limit) / params.elasticity_multiplier.max(1);
    let base_fee = u128::from(base_fee);
    let used = u128::from(gas_used);
    let denominator = target.saturating_mul(params.max_change_denominator);
    if target == 0 || denominator == 0 || used == target {
        return base_fee;
    }
    if used > target {
        let delta = base_fee.saturating_mul(used - target) / denominator;
        base_fee.saturating_add(delta.max(1))
    } else {
        base_fee.saturating_sub(base_fee.saturating_mul(target - used) / denominator)
    }
}

/// Post-merge blocks have no proof of work and no ommers.
fn check_proof_of_stake(header: &Header) -> Result<(), HeaderError> {
    if !header.difficulty.is_zero() {
        return Err(HeaderError::new("difficulty", U256::ZERO, header.difficulty));
    }
    if header.nonce != B64::ZERO {
        return Err(HeaderError::new("nonce", B64::ZERO, header.nonce));
    }
    if header.ommers_hash != EMPTY_OMMER_ROOT_HASH {
        return Err(HeaderError::new("ommers_hash", EMPTY_OMMER_ROOT_HASH, header.ommers_hash));
    }
    Ok(())
}

/// The DAO fork's extra data in the ten blocks from the fork on.
///
/// A chain that supports the fork requires `dao-hard-fork`; one that opposes it (a DAO
/// block configured without support) forbids it.
fn check_dao_extra_data(spec: &EthSpec, header: &Header) -> Result<(), HeaderError> {
    let config = spec.config();
    let Some(dao_block) = config.dao_fork_block else {
        return Ok(());
    };
    let in_range = header.number >= dao_block && header.number - dao_block < DAO_FORK_EXTRA_RANGE;
    if !in_range {
        return Ok(());
    }
    let has_dao_extra = header.extra_data.as_ref() == DAO_FORK_EXTRA_DATA;
    if config.dao_fork_support && !has_dao_extra {
        return Err(HeaderError::new(
            "extra_data",
            "0x64616f2d686172642d666f726b",
            &header.extra_data,
        ));
    }
    if !config.dao_fork_support && has_dao_extra {
        return Err(HeaderError::new(
            "extra_data",
            "not 0x64616f2d686172642d666f726b",
            &header.extra_data,
        ));
    }
    Ok(())
}

/// The fork fields are present exactly when their fork is active.
fn check_fork_fields(header: &Header, spec_id: SpecId) -> Result<(), HeaderError> {
    let shanghai = spec_id.is_enabled_in(SpecId::SHANGHAI);
    let cancun = spec_id.is_enabled_in(SpecId::CANCUN);
    let prague = spec_id.is_enabled_in(SpecId::PRAGUE);
    check_presence("withdrawals_root", &header.withdrawals_root, shanghai)?;
    check_presence("blob_gas_used", &header.blob_gas_used, cancun)?;
    check_presence("excess_blob_gas", &header.excess_blob_gas, cancun)?;
    check_presence("parent_beacon_block_root", &header.parent_beacon_block_root, cancun)?;
    check_presence("requests_hash", &header.requests_hash, prague)?;
    let amsterdam = spec_id.is_enabled_in(SpecId::AMSTERDAM);
    check_presence("block_access_list_hash", &header.block_access_list_hash, amsterdam)?;
    // EIP-7843's slot number: an Amsterdam header may carry it.
    if header.slot_number.is_some() && !amsterdam {
        return Err(HeaderError::new("slot_number", "absent", "present"));
    }
    Ok(())
}

/// EIP-4844 (with EIP-7691, EIP-7840 and EIP-7918 from Osaka): blob gas used is whole
/// blobs within the limit, and the excess blob gas follows from the parent.
fn check_blob_gas(
    spec: &EthSpec,
    parent: &Header,
    header: &Header,
    spec_id: SpecId,
) -> Result<(), HeaderError> {
    let (Some(blob_gas_used), Some(excess_blob_gas)) =
        (header.blob_gas_used, header.excess_blob_gas)
    else {
        return Err(HeaderError::new("blob_gas_used", "present", "absent"));
    };
    let Some(params) = spec.blob_params(header.timestamp) else {
        return Err(HeaderError::new("blob_schedule", "an entry for this Cancun block", "none"));
    };
    let max_blob_gas = check_blob_params(&params)?;
    if blob_gas_used > max_blob_gas {
        let expected = format!("at most {max_blob_gas}");
        return Err(HeaderError::new("blob_gas_used", expected, blob_gas_used));
    }
    if blob_gas_used % DATA_GAS_PER_BLOB != 0 {
        let expected = format!("a multiple of {DATA_GAS_PER_BLOB}");
        return Err(HeaderError::new("blob_gas_used", expected, blob_gas_used));
    }
    let expected = next_excess_blob_gas(parent, &params, spec_id)?;
    if excess_blob_gas != expected {
        return Err(HeaderError::new("excess_blob_gas", expected, excess_blob_gas));
    }
    Ok(())
}

/// Rejects blob parameters that alloy's formulas cannot take; returns the max blob gas.
fn check_blob_params(params: &BlobParams) -> Result<u64, HeaderError> {
    let max_blob_gas = params.max_blob_count.checked_mul(DATA_GAS_PER_BLOB);
    match max_blob_gas {
        Some(max_blob_gas)
            if params.update_fraction > 0
                && params.max_blob_count > 0
                && params.target_blob_count <= params.max_blob_count =>
        {
            Ok(max_blob_gas)
        }
        _ => Err(HeaderError::new(
            "blob_schedule",
            "0 < target <= max, max * 131072 below 2^64, update fraction above 0",
            format!(
                "target {}, max {}, update fraction {}",
                params.target_blob_count, params.max_blob_count, params.update_fraction
            ),
        )),
    }
}

/// The excess blob gas that must follow `parent` (0 at Cancun when the parent has none).
///
/// From Osaka on, EIP-7918 keeps the blob price above a reserve tied to the parent's base
/// fee; the blob base cost in `params` is 0 before Osaka, which turns that rule off.
pub(crate) fn next_excess_blob_gas(
    parent: &Header,
    params: &BlobParams,
    spec_id: SpecId,
) -> Result<u64, HeaderError> {
    check_blob_params(params)?;
    let parent_excess = parent.excess_blob_gas.unwrap_or(0);
    let parent_used = parent.blob_gas_used.unwrap_or(0);
    let spread = params.max_blob_count.saturating_sub(params.target_blob_count);
    if parent_excess.checked_add(parent_used).is_none() || parent_used.checked_mul(spread).is_none()
    {
        let expected = "parent blob gas fields that do not overflow";
        let got = format!("excess {parent_excess}, used {parent_used}");
        return Err(HeaderError::new("parent excess_blob_gas", expected, got));
    }
    let params =
        if spec_id.is_enabled_in(SpecId::OSAKA) { *params } else { params.with_blob_base_cost(0) };
    let parent_base_fee = match parent.base_fee_per_gas {
        Some(base_fee) => base_fee,
        None if params.blob_base_cost == 0 => 0,
        None => return Err(HeaderError::new("parent base_fee_per_gas", "present", "absent")),
    };
    Ok(params.next_block_excess_blob_gas_osaka(parent_excess, parent_used, parent_base_fee))
}

#[cfg(test)]
pub(crate) mod mainnet_blocks;

#[cfg(test)]
mod tests;
