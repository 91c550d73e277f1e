//! The header rules against real mainnet headers and broken ones.

use super::mainnet_blocks::{
    cancun_blocks, first_pos_block, london_block, london_parent, terminal_pow_block,
};
use super::*;
use alloy_consensus::EMPTY_ROOT_HASH;
use alloy_genesis::ChainConfig;
use alloy_primitives::{B256, Bytes};

fn field(spec: &EthSpec, parent: &Header, header: &Header, merged: bool) -> &'static str {
    check_header(spec, parent, header, merged).unwrap_err().field
}

/// A valid child of `parent`, twelve seconds later, with no transactions.
fn child(spec: &EthSpec, parent: &Header, merged: bool) -> Header {
    let number = parent.number + 1;
    let timestamp = parent.timestamp + 12;
    let spec_id = spec.spec_at(number, timestamp, merged);
    let mut header = Header {
        parent_hash: parent.hash_slow(),
        number,
        timestamp,
        gas_limit: parent.gas_limit,
        ..Default::default()
    };
    if merged || spec.is_london(number) {
        header.base_fee_per_gas = Some(if spec.is_london(parent.number) {
            let base_fee = parent.base_fee_per_gas.unwrap();
            let params = BaseFeeParams::ethereum();
            calc_next_block_base_fee(parent.gas_used, parent.gas_limit, base_fee, params)
        } else {
            header.gas_limit = parent.gas_limit * 2;
            INITIAL_BASE_FEE
        });
    }
    if !merged {
        header.difficulty = calc_difficulty(spec, parent, timestamp);
    }
    if spec_id.is_enabled_in(SpecId::SHANGHAI) {
        header.withdrawals_root = Some(EMPTY_ROOT_HASH);
    }
    if spec_id.is_enabled_in(SpecId::CANCUN) {
        let params = spec.blob_params(timestamp).unwrap();
        header.blob_gas_used = Some(0);
        header.excess_blob_gas = Some(next_excess_blob_gas(parent, &params, spec_id).unwrap());
        header.parent_beacon_block_root = Some(B256::ZERO);
    }
    if spec_id.is_enabled_in(SpecId::PRAGUE) {
        header.requests_hash = Some(B256::ZERO);
    }
    if spec_id.is_enabled_in(SpecId::AMSTERDAM) {
        header.block_access_list_hash = Some(B256::ZERO);
    }
    header
}

/// Byzantium to Prague in a dozen blocks: London at 3, the merge after block 4,
/// Shanghai at block 7, Cancun at 8 and Prague at 9 (block n has time 12 n).
fn short_schedule() -> EthSpec {
    EthSpec::new(ChainConfig {
        homestead_block: Some(0),
        eip150_block: Some(0),
        eip155_block: Some(0),
        eip158_block: Some(0),
        byzantium_block: Some(0),
        constantinople_block: Some(0),
        petersburg_block: Some(0),
        istanbul_block: Some(0),
        berlin_block: Some(0),
        london_block: Some(3),
        terminal_total_difficulty: Some(U256::from(5 * 131_072)),
        shanghai_time: Some(84),
        cancun_time: Some(96),
        prague_time: Some(108),
        ..ChainConfig::default()
    })
}

fn genesis() -> Header {
    Header { gas_limit: 30_000_000, difficulty: U256::from(131_072), ..Default::default() }
}

#[test]
fn test_london_transition_mainnet_pair() {
    let spec = EthSpec::mainnet();
    let (parent, header) = (london_parent(), london_block());
    assert_eq!(header.parent_hash, parent.hash_slow());
    assert_eq!(check_header(&spec, &parent, &header, false), Ok(()));
    assert_eq!(calc_difficulty(&spec, &parent, header.timestamp), header.difficulty);

    let mut bad = header.clone();
    bad.base_fee_per_gas = Some(1_000_000_001);
    let error = check_header(&spec, &parent, &bad, false).unwrap_err();
    assert_eq!(error.to_string(), "base_fee_per_gas: expected 1000000000, got 1000000001");
    bad.base_fee_per_gas = None;
    assert_eq!(field(&spec, &parent, &bad, false), "base_fee_per_gas");
    // 30_029_122 is one gas inside the bound of the doubled parent limit 30_058_474.
    let mut bad = header.clone();
    bad.gas_limit = 30_029_121;
    assert_eq!(field(&spec, &parent, &bad, false), "gas_limit");
    let mut bad = header;
    bad.difficulty += U256::from(1);
    assert_eq!(field(&spec, &parent, &bad, false), "difficulty");
}

#[test]
fn test_merge_transition_mainnet_pair() {
    let spec = EthSpec::mainnet();
    let (parent, header) = (terminal_pow_block(), first_pos_block());
    assert_eq!(header.parent_hash, parent.hash_slow());
    assert_eq!(check_header(&spec, &parent, &header, true), Ok(()));
    assert_eq!(field(&spec, &parent, &header, false), "difficulty");

    let mut bad = header.clone();
    bad.nonce = B64::from(1_u64);
    assert_eq!(field(&spec, &parent, &bad, true), "nonce");
    let mut bad = header.clone();
    bad.ommers_hash = B256::ZERO;
    assert_eq!(field(&spec, &parent, &bad, true), "ommers_hash");
    let mut bad = header.clone();
    bad.difficulty = U256::from(1);
    assert_eq!(field(&spec, &parent, &bad, true), "difficulty");
    let mut bad = header;
    bad.withdrawals_root = Some(EMPTY_ROOT_HASH);
    let error = check_header(&spec, &parent, &bad, true).unwrap_err();
    assert_eq!(error.to_string(), "withdrawals_root: expected absent, got present");
}

#[test]
fn test_cancun_mainnet_blocks() {
    let spec = EthSpec::mainnet();
    let [first, second, third] = cancun_blocks();
    assert_eq!(check_header(&spec, &first, &second, true), Ok(()));
    assert_eq!(check_header(&spec, &second, &third, true), Ok(()));
    assert_eq!(third.blob_gas_used, Some(DATA_GAS_PER_BLOB));
    // Time forks need the merge.
    assert_eq!(field(&spec, &second, &third, false), "merged");

    let check = |edit: fn(&mut Header)| {
        let mut bad = third.clone();
        edit(&mut bad);
        check_header(&spec, &second, &bad, true).unwrap_err().to_string()
    };
    assert_eq!(
        check(|h| h.excess_blob_gas = Some(DATA_GAS_PER_BLOB)),
        "excess_blob_gas: expected 0, got 131072"
    );
    assert_eq!(
        check(|h| h.blob_gas_used = Some(1)),
        "blob_gas_used: expected a multiple of 131072, got 1"
    );
    assert_eq!(
        check(|h| h.blob_gas_used = Some(7 * DATA_GAS_PER_BLOB)),
        "blob_gas_used: expected at most 786432, got 917504"
    );
    assert_eq!(
        check(|h| h.parent_beacon_block_root = None),
        "parent_beacon_block_root: expected present, got absent"
    );
    assert_eq!(
        check(|h| h.requests_hash = Some(B256::ZERO)),
        "requests_hash: expected absent, got present"
    );
    assert_eq!(
        check(|h| h.block_access_list_hash = Some(B256::ZERO)),
        "block_access_list_hash: expected absent, got present"
    );
    assert_eq!(
        check(|h| h.withdrawals_root = None),
        "withdrawals_root: expected present, got absent"
    );
}

#[test]
fn test_short_schedule_chain_is_valid() {
    let spec = short_schedule();
    let mut parent = genesis();
    let mut total_difficulty = parent.difficulty;
    for _ in 0..12 {
        let merged = spec.is_merged_by_difficulty(total_difficulty);
        let header = child(&spec, &parent, merged);
        assert_eq!(check_header(&spec, &parent, &header, merged), Ok(()), "{}", header.number);
        total_difficulty += header.difficulty;
        parent = header;
    }
    assert_eq!(spec.spec_at(parent.number, parent.timestamp, true), SpecId::PRAGUE);
}

#[test]
fn test_rejects_broken_rules() {
    let spec = short_schedule();
    let parent = genesis();
    let good = child(&spec, &parent, false);
    let check = |edit: fn(&mut Header)| {
        let mut bad = good.clone();
        edit(&mut bad);
        check_header(&spec, &parent, &bad, false).unwrap_err().to_string()
    };
    assert_eq!(check(|h| h.number = 2), "number: expected 1, got 2");
    assert_eq!(check(|h| h.timestamp = 0), "timestamp: expected more than 0, got 0");
    assert_eq!(
        check(|h| h.extra_data = Bytes::from(vec![0; 33])),
        "extra_data: expected at most 32 bytes, got 33 bytes"
    );
    assert_eq!(
        check(|h| h.gas_used = h.gas_limit + 1),
        "gas_used: expected at most the gas limit 30000000, got 30000001"
    );
    assert_eq!(
        check(|h| h.gas_limit = 30_029_297),
        "gas_limit: expected more than 29970704 and less than 30029296, got 30029297"
    );
    assert_eq!(
        check(|h| h.gas_limit = 29_970_704).split(',').next(),
        Some("gas_limit: expected more than 29970704 and less than 30029296")
    );
    assert_eq!(
        check(|h| h.gas_limit = MAX_GAS_LIMIT + 1).split(',').next(),
        Some("gas_limit: expected at most 9223372036854775807")
    );
    assert_eq!(check(|h| h.base_fee_per_gas = Some(7)), "base_fee_per_gas: expected absent, got 7");
    assert_eq!(
        check(|h| h.withdrawals_root = Some(B256::ZERO)),
        "withdrawals_root: expected absent, got present"
    );
    assert_eq!(check(|h| h.slot_number = Some(1)), "slot_number: expected absent, got present");
    assert!(check(|h| h.difficulty = U256::ZERO).starts_with("difficulty: expected"));

    let mut parent_of_small = genesis();
    parent_of_small.gas_limit = 5000;
    let mut small = child(&spec, &parent_of_small, false);
    small.gas_limit = 4999;
    assert_eq!(
        check_header(&spec, &parent_of_small, &small, false).unwrap_err().to_string(),
        "gas_limit: expected at least 5000, got 4999"
    );
}

#[test]
fn test_time_forks_need_the_merge_and_amsterdam_commits_to_its_access_list() {
    let spec = short_schedule();
    let mut parent = genesis();
    parent.number = 6;
    parent.timestamp = 72;
    parent.base_fee_per_gas = Some(INITIAL_BASE_FEE);
    let header = child(&spec, &parent, true);
    assert_eq!(check_header(&spec, &parent, &header, true), Ok(()));
    assert_eq!(field(&spec, &parent, &header, false), "merged");

    // Amsterdam after Prague (block 9): from block 10 (time 120).
    let amsterdam = EthSpec::new(ChainConfig {
        amsterdam_time: Some(120),
        ..short_schedule().config().clone()
    });
    let mut prague = parent.clone();
    (prague.number, prague.timestamp) = (9, 108);
    prague.withdrawals_root = Some(EMPTY_ROOT_HASH);
    (prague.blob_gas_used, prague.excess_blob_gas) = (Some(0), Some(0));
    prague.parent_beacon_block_root = Some(B256::ZERO);
    prague.requests_hash = Some(B256::ZERO);
    let parent = prague;
    let mut with_list = child(&amsterdam, &parent, true);
    assert_eq!(amsterdam.spec_at(with_list.number, with_list.timestamp, true), SpecId::AMSTERDAM);
    assert_eq!(check_header(&amsterdam, &parent, &with_list, true), Ok(()));
    with_list.slot_number = Some(9);
    assert_eq!(
        check_header(&amsterdam, &parent, &with_list, true),
        Ok(()),
        "EIP-7843 may be there"
    );
    with_list.block_access_list_hash = None;
    let error = check_header(&amsterdam, &parent, &with_list, true).unwrap_err();
    assert_eq!(error.to_string(), "block_access_list_hash: expected present, got absent");
}

#[test]
fn test_dao_fork_extra_data() {
    let pro = EthSpec::new(ChainConfig {
        homestead_block: Some(0),
        dao_fork_block: Some(5),
        dao_fork_support: true,
        ..ChainConfig::default()
    });
    let mut parent = genesis();
    parent.number = 4;
    let mut header = child(&pro, &parent, false);
    assert_eq!(field(&pro, &parent, &header, false), "extra_data");
    header.extra_data = Bytes::from_static(DAO_FORK_EXTRA_DATA);
    assert_eq!(check_header(&pro, &parent, &header, false), Ok(()));

    // The rule covers blocks 5 to 14 only.
    parent.number = 13;
    let last = child(&pro, &parent, false);
    assert_eq!(field(&pro, &parent, &last, false), "extra_data");
    parent.number = 14;
    let after = child(&pro, &parent, false);
    assert_eq!(check_header(&pro, &parent, &after, false), Ok(()));

    // A chain that opposes the fork forbids the marker.
    let against = EthSpec::new(ChainConfig { dao_fork_support: false, ..pro.config().clone() });
    parent.number = 4;
    let mut header = child(&against, &parent, false);
    assert_eq!(check_header(&against, &parent, &header, false), Ok(()));
    header.extra_data = Bytes::from_static(DAO_FORK_EXTRA_DATA);
    assert_eq!(field(&against, &parent, &header, false), "extra_data");
}

#[test]
fn test_cancun_excess_blob_gas() {
    // go-ethereum's TestCalcExcessBlobGas (Cancun: target 3 blobs).
    let params = EthSpec::mainnet().blob_params(1_710_338_135).unwrap();
    let blob = DATA_GAS_PER_BLOB;
    let cases = [
        (0, 0, 0),
        (0, 1, 0),
        (0, 3, 0),
        (0, 4, blob),
        (1, 4, blob + 1),
        (1, 5, 2 * blob + 1),
        (3 * blob, 3, 3 * blob),
        (3 * blob, 2, 2 * blob),
        (3 * blob, 1, blob),
        (blob - 1, 2, 0),
    ];
    for (excess, blobs, expected) in cases {
        let parent = Header {
            excess_blob_gas: Some(excess),
            blob_gas_used: Some(blobs * blob),
            base_fee_per_gas: Some(1_000_000_000),
            ..Default::default()
        };
        assert_eq!(next_excess_blob_gas(&parent, &params, SpecId::CANCUN), Ok(expected));
    }
    // The first Cancun block's parent has no blob fields.
    assert_eq!(next_excess_blob_gas(&Header::default(), &params, SpecId::CANCUN), Ok(0));
}

#[test]
fn test_osaka_excess_blob_gas() {
    // go-ethereum's TestCalcBlobFeePostOsaka: BPO1 (9/14) and BPO3 (21/32) parents.
    let entry = |target, max, update_fraction| BlobParams {
        target_blob_count: target,
        max_blob_count: max,
        update_fraction,
        min_blob_fee: 1,
        max_blobs_per_tx: max,
        blob_base_cost: 0,
    };
    let mut blob_schedule = std::collections::BTreeMap::new();
    blob_schedule.insert("bpo1".to_string(), entry(9, 14, 8_832_827));
    blob_schedule.insert("bpo2".to_string(), entry(14, 21, 13_739_630));
    blob_schedule.insert("bpo3".to_string(), entry(21, 32, 20_609_697));
    let spec = EthSpec::new(ChainConfig {
        london_block: Some(0),
        cancun_time: Some(0),
        prague_time: Some(0),
        osaka_time: Some(0),
        bpo1_time: Some(1_754_836_608),
        bpo2_time: Some(1_754_934_912),
        bpo3_time: Some(1_755_033_216),
        blob_schedule,
        ..ChainConfig::default()
    });
    let cases = [
        (5_149_252, 1_310_720, 30, 1_754_904_528, 5_617_366),
        (19_251_039, 2_490_368, 50, 1_755_033_216, 20_107_103),
    ];
    for (excess, used, base_fee, timestamp, expected) in cases {
        let parent = Header {
            excess_blob_gas: Some(excess),
            blob_gas_used: Some(used),
            base_fee_per_gas: Some(base_fee),
            ..Default::default()
        };
        let params = spec.blob_params(timestamp).unwrap();
        assert_eq!(next_excess_blob_gas(&parent, &params, SpecId::OSAKA), Ok(expected));
    }

    // go-ethereum's TestCalcExcessBlobGasEIP7918: Prague values (6/9) under Osaka.
    let params = EthSpec::mainnet().blob_params(1_764_798_551).unwrap();
    let at_target = |base_fee| Header {
        excess_blob_gas: Some(0),
        blob_gas_used: Some(6 * DATA_GAS_PER_BLOB),
        base_fee_per_gas: Some(base_fee),
        ..Default::default()
    };
    let below_reserve = next_excess_blob_gas(&at_target(1_000_000_000), &params, SpecId::OSAKA);
    assert_eq!(below_reserve, Ok(6 * DATA_GAS_PER_BLOB * 3 / 9));
    assert_eq!(next_excess_blob_gas(&at_target(1), &params, SpecId::OSAKA), Ok(0));
    // Before Osaka the reserve price does not apply.
    let prague = EthSpec::mainnet().blob_params(1_746_612_311).unwrap();
    assert_eq!(next_excess_blob_gas(&at_target(1_000_000_000), &prague, SpecId::PRAGUE), Ok(0));
}

#[test]
fn test_hostile_values_do_not_panic() {
    let params = EthSpec::mainnet().blob_params(1_764_798_551).unwrap();
    let parent = Header {
        excess_blob_gas: Some(u64::MAX),
        blob_gas_used: Some(u64::MAX),
        ..Default::default()
    };
    assert_eq!(
        next_excess_blob_gas(&parent, &params, SpecId::OSAKA).unwrap_err().field,
        "parent excess_blob_gas"
    );
    let broken = BlobParams { update_fraction: 0, ..params };
    assert_eq!(check_blob_params(&broken).unwrap_err().field, "blob_schedule");
    let broken = BlobParams { target_blob_count: 10, max_blob_count: 9, ..params };
    assert_eq!(check_blob_params(&broken).unwrap_err().field, "blob_schedule");
    let broken = BlobParams { max_blob_count: u64::MAX, ..params };
    assert_eq!(check_blob_params(&broken).unwrap_err().field, "blob_schedule");

    // A parent base fee near u64::MAX: the u128 path keeps alloy's formula.
    let params = BaseFeeParams::ethereum();
    let full = next_base_fee(30_000_000, 30_000_000, u64::MAX, params);
    assert_eq!(full, u128::from(u64::MAX) + u128::from(u64::MAX) / 8);
    let empty = next_base_fee(0, 30_000_000, u64::MAX, params);
    assert_eq!(empty, u128::from(u64::MAX) - u128::from(u64::MAX) / 8);
    let at_threshold = u64::MAX / 2;
    for used in [0, 10_000_000, 15_000_000, 20_000_000, 30_000_000] {
        let alloy = calc_next_block_base_fee(used, 30_000_000, at_threshold, params);
        let wide = {
            let target = 15_000_000_u128;
            let base = u128::from(at_threshold);
            let used = u128::from(used);
            if used >= target {
                base + (base * (used - target) / (target * 8)).max(u128::from(used > target))
            } else {
                base - base * (target - used) / (target * 8)
            }
        };
        assert_eq!(u128::from(alloy), wide);
    }

    let mut parent = genesis();
    parent.number = u64::MAX;
    let header = Header { number: 0, ..genesis() };
    assert_eq!(field(&EthSpec::mainnet(), &parent, &header, false), "number");
}
