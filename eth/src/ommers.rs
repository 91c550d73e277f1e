//! The rules for a block's ommers (uncles).
//!
//! They follow go-ethereum's ethash `VerifyUncles` and the beacon engine's rule that
//! post-merge blocks have none.

use alloy_consensus::Header;
use alloy_primitives::B256;
use std::collections::{HashMap, HashSet};

use super::header::{HeaderError, check_header};
use super::spec::EthSpec;

/// The most ommers a block may include.
pub const MAX_OMMERS: usize = 2;

/// How many ancestors an ommer's parent may be found among.
pub const OMMER_ANCESTRY_DEPTH: usize = 7;

/// Checks the ommers of `header`.
///
/// `ancestors` are the most recent ancestors of `header`, newest first (its parent
/// first), each with the ommers it included; only the first [`OMMER_ANCESTRY_DEPTH`]
/// are used, and each must be the parent of the one before it. The caller has checked
/// `header.ommers_hash` against `ommers`.
///
/// A post-merge block (difficulty 0) may have none. Otherwise there are at most two,
/// each is new (not the block, not an ommer seen before in the window, not repeated),
/// not an ancestor, a child of an ancestor other than the parent, and a valid
/// pre-merge header against that ancestor (difficulty included).
pub fn check_ommers(
    spec: &EthSpec,
    header: &Header,
    ommers: &[Header],
    ancestors: &[(Header, Vec<Header>)],
) -> Result<(), HeaderError> {
    if header.difficulty.is_zero() && !ommers.is_empty() {
        let got = format!("{} ommers in a post-merge block", ommers.len());
        return Err(HeaderError::new("ommers", "none", got));
    }
    if ommers.len() > MAX_OMMERS {
        let expected = format!("at most {MAX_OMMERS}");
        return Err(HeaderError::new("ommers", expected, ommers.len()));
    }
    if ommers.is_empty() {
        return Ok(());
    }

    let mut seen = HashSet::new();
    let mut by_hash: HashMap<B256, &Header> = HashMap::new();
    let mut expected_hash = header.parent_hash;
    for (ancestor, included) in ancestors.iter().take(OMMER_ANCESTRY_DEPTH) {
        let hash = ancestor.hash_slow();
        if hash != expected_hash {
            return Err(HeaderError::new("ancestors", expected_hash, hash));
        }
        by_hash.insert(hash, ancestor);
        seen.extend(included.iter().map(Header::hash_slow));
        expected_hash = ancestor.parent_hash;
    }
    let own_hash = header.hash_slow();
    by_hash.insert(own_hash, header);
    seen.insert(own_hash);

    for ommer in ommers {
        let hash = ommer.hash_slow();
        if !seen.insert(hash) {
            return Err(HeaderError::new("ommers", "an ommer not included before", hash));
        }
        if by_hash.contains_key(&hash) {
            return Err(HeaderError::new("ommers", "an ommer that is not an ancestor", hash));
        }
        let parent = match by_hash.get(&ommer.parent_hash) {
            Some(parent) if ommer.parent_hash != header.parent_hash => *parent,
            _ => {
                let expected = "an ommer whose parent is an ancestor other than the parent";
                return Err(HeaderError::new("ommer parent_hash", expected, ommer.parent_hash));
            }
        };
        check_header(spec, parent, ommer, false).map_err(|error| HeaderError {
            field: "ommer",
            expected: format!("{} {}", error.field, error.expected),
            got: format!("{} in ommer {hash}", error.got),
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::difficulty::calc_difficulty;
    use alloy_consensus::proofs::calculate_ommers_root;
    use alloy_genesis::ChainConfig;
    use alloy_primitives::{Address, U256};

    fn byzantium() -> EthSpec {
        EthSpec::new(ChainConfig {
            homestead_block: Some(0),
            byzantium_block: Some(0),
            ..ChainConfig::default()
        })
    }

    /// A valid proof-of-work child of `parent` that includes `ommers`.
    fn block(spec: &EthSpec, parent: &Header, miner: u8, ommers: &[Header]) -> Header {
        let timestamp = parent.timestamp + 13 + u64::from(miner);
        Header {
            parent_hash: parent.hash_slow(),
            ommers_hash: calculate_ommers_root(ommers),
            beneficiary: Address::repeat_byte(miner),
            number: parent.number + 1,
            timestamp,
            gas_limit: parent.gas_limit,
            difficulty: calc_difficulty(spec, parent, timestamp),
            ..Default::default()
        }
    }

    /// A chain of `length` blocks after genesis, without ommers; genesis first.
    fn chain(spec: &EthSpec, length: usize) -> Vec<Header> {
        let genesis = Header {
            gas_limit: 8_000_000,
            difficulty: U256::from(1_000_000),
            ..Default::default()
        };
        let mut headers = vec![genesis];
        for _ in 0..length {
            let next = block(spec, headers.last().unwrap(), 0, &[]);
            headers.push(next);
        }
        headers
    }

    /// The ancestors of the block after `headers`, newest first, with no ommers.
    fn ancestors(headers: &[Header]) -> Vec<(Header, Vec<Header>)> {
        headers.iter().rev().take(OMMER_ANCESTRY_DEPTH).map(|h| (h.clone(), vec![])).collect()
    }

    fn error(
        spec: &EthSpec,
        header: &Header,
        ommers: &[Header],
        ancestors: &[(Header, Vec<Header>)],
    ) -> HeaderError {
        check_ommers(spec, header, ommers, ancestors).unwrap_err()
    }

    #[test]
    fn test_valid_ommers_up_to_seven_generations() {
        let spec = byzantium();
        let headers = chain(&spec, 7);
        // Uncles of block 2 (children of block 1) and of block 7 (children of block 6).
        let old = block(&spec, &headers[1], 1, &[]);
        let recent = block(&spec, &headers[6], 2, &[]);
        let ommers = [old, recent];
        let header = block(&spec, &headers[7], 0, &ommers);
        assert_eq!(check_ommers(&spec, &header, &ommers, &ancestors(&headers)), Ok(()));
        // One generation further is out of the window.
        let too_old = block(&spec, &headers[0], 3, &[]);
        let header = block(&spec, &headers[7], 0, std::slice::from_ref(&too_old));
        let got = error(&spec, &header, &[too_old], &ancestors(&headers));
        assert_eq!(got.field, "ommer parent_hash");
    }

    #[test]
    fn test_rejects_too_many_and_repeated_ommers() {
        let spec = byzantium();
        let headers = chain(&spec, 3);
        let uncles: Vec<_> = (1..=3).map(|m| block(&spec, &headers[1], m, &[])).collect();
        let header = block(&spec, &headers[3], 0, &uncles);
        let got = error(&spec, &header, &uncles, &ancestors(&headers));
        assert_eq!(got.to_string(), "ommers: expected at most 2, got 3");

        let twice = [uncles[0].clone(), uncles[0].clone()];
        let header = block(&spec, &headers[3], 0, &twice);
        let got = error(&spec, &header, &twice, &ancestors(&headers));
        assert_eq!(got.expected, "an ommer not included before");
    }

    #[test]
    fn test_rejects_ommer_included_by_an_ancestor() {
        let spec = byzantium();
        let mut headers = chain(&spec, 2);
        let uncle = block(&spec, &headers[1], 1, &[]);
        let with_uncle = block(&spec, &headers[2], 0, std::slice::from_ref(&uncle));
        headers.push(with_uncle);
        let mut window = ancestors(&headers);
        assert_eq!(
            check_ommers(&spec, &headers[3], std::slice::from_ref(&uncle), &window[1..]),
            Ok(())
        );
        window[0].1 = vec![uncle.clone()];
        let header = block(&spec, &headers[3], 0, std::slice::from_ref(&uncle));
        let got = error(&spec, &header, &[uncle], &window);
        assert_eq!(got.expected, "an ommer not included before");
    }

    #[test]
    fn test_rejects_ancestor_brother_and_unknown_parent() {
        let spec = byzantium();
        let headers = chain(&spec, 3);
        let window = ancestors(&headers);
        // The grandparent as an ommer.
        let header = block(&spec, &headers[3], 0, &headers[2..3]);
        let got = error(&spec, &header, &headers[2..3], &window);
        assert_eq!(got.expected, "an ommer that is not an ancestor");
        // A sibling of the block: its parent is the block's parent.
        let brother = block(&spec, &headers[3], 9, &[]);
        let header = block(&spec, &headers[3], 0, std::slice::from_ref(&brother));
        let got = error(&spec, &header, &[brother], &window);
        assert_eq!(got.field, "ommer parent_hash");
        // A child of a block outside the chain.
        let stranger = Header { beneficiary: Address::repeat_byte(7), ..headers[1].clone() };
        let orphan = block(&spec, &stranger, 1, &[]);
        let header = block(&spec, &headers[3], 0, std::slice::from_ref(&orphan));
        let got = error(&spec, &header, &[orphan], &window);
        assert_eq!(got.field, "ommer parent_hash");
    }

    #[test]
    fn test_rejects_invalid_ommer_header() {
        let spec = byzantium();
        let headers = chain(&spec, 3);
        let mut uncle = block(&spec, &headers[1], 1, &[]);
        uncle.difficulty += U256::from(1);
        let header = block(&spec, &headers[3], 0, std::slice::from_ref(&uncle));
        let got = error(&spec, &header, &[uncle], &ancestors(&headers));
        assert_eq!(got.field, "ommer");
        assert!(got.expected.starts_with("difficulty "));
    }

    #[test]
    fn test_rejects_ommers_after_the_merge_and_broken_ancestry() {
        let spec = byzantium();
        let headers = chain(&spec, 3);
        let uncle = block(&spec, &headers[1], 1, &[]);
        let mut header = block(&spec, &headers[3], 0, std::slice::from_ref(&uncle));
        let mut window = ancestors(&headers);
        window.swap(0, 1);
        let got = error(&spec, &header, std::slice::from_ref(&uncle), &window);
        assert_eq!(got.field, "ancestors");

        header.difficulty = U256::ZERO;
        let got = error(&spec, &header, &[uncle], &ancestors(&headers));
        assert_eq!(got.to_string(), "ommers: expected none, got 1 ommers in a post-merge block");
        assert_eq!(check_ommers(&spec, &header, &[], &[]), Ok(()));
    }
}
