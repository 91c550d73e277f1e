//! Prague's execution-layer requests (EIP-7685): deposits read from the
//! deposit contract's logs (EIP-6110); withdrawal and consolidation requests
//! come from system calls (EIP-7002, EIP-7251) in the importer.

use alloy_primitives::{Address, B256, Bytes, b256};

/// topic 0 of the deposit contract's `DepositEvent(bytes,bytes,bytes,bytes,bytes)`.
pub const DEPOSIT_EVENT_TOPIC: B256 =
    b256!("0x649bbc62d0e31342afea4e5cd82d4049e7e1ee912fc0889aa790803be39038c5");

/// The ABI layout of a deposit event's data: five dynamic `bytes`, each at a
/// fixed offset with a fixed length (pubkey, withdrawal credentials,
/// amount, signature, index).
const FIELDS: [(usize, usize); 5] = [(160, 48), (256, 32), (320, 8), (384, 96), (512, 8)];
const EVENT_LEN: usize = 576;

/// The deposit requests (concatenated, without their type byte) of the logs
/// `contract` emitted, in order; an event whose layout is not the deposit
/// contract's makes the block invalid (EIP-6110).
pub fn deposit_requests<'a>(
    contract: Address,
    logs: impl IntoIterator<Item = &'a (Address, Vec<B256>, Bytes)>,
) -> Result<Bytes, String> {
    let mut out = Vec::new();
    for (address, topics, data) in logs {
        if *address != contract || topics.first() != Some(&DEPOSIT_EVENT_TOPIC) {
            continue;
        }
        if data.len() != EVENT_LEN {
            return Err(format!("a deposit event of {} bytes, not {EVENT_LEN}", data.len()));
        }
        for (i, (offset, len)) in FIELDS.iter().enumerate() {
            let word = |at: usize| -> usize {
                let w = &data[at..at + 32];
                if w[..24].iter().any(|b| *b != 0) {
                    return usize::MAX;
                }
                u64::from_be_bytes(w[24..].try_into().expect("eight bytes")) as usize
            };
            if word(32 * i) != *offset || word(*offset) != *len {
                return Err(format!("deposit event field {i} is not at its place in the layout"));
            }
            out.extend_from_slice(&data[offset + 32..offset + 32 + len]);
        }
    }
    Ok(out.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(fill: u8) -> Bytes {
        let mut data = vec![0u8; EVENT_LEN];
        for (i, (offset, len)) in FIELDS.iter().enumerate() {
            data[32 * i + 24..32 * i + 32].copy_from_slice(&(*offset as u64).to_be_bytes());
            data[offset + 24..offset + 32].copy_from_slice(&(*len as u64).to_be_bytes());
            data[offset + 32..offset + 32 + len].fill(fill + i as u8);
        }
        data.into()
    }

    #[test]
    fn test_deposits_are_the_fields_concatenated_and_bad_layouts_refused() {
        let contract = Address::repeat_byte(0xde);
        let logs = vec![
            (contract, vec![DEPOSIT_EVENT_TOPIC], event(1)),
            (Address::repeat_byte(1), vec![DEPOSIT_EVENT_TOPIC], event(9)), // another emitter
            (contract, vec![B256::ZERO], event(9)),                         // another event
        ];
        let requests = deposit_requests(contract, &logs).unwrap();
        assert_eq!(requests.len(), 48 + 32 + 8 + 96 + 8);
        assert!(requests[..48].iter().all(|b| *b == 1) && requests[48..80].iter().all(|b| *b == 2));
        let mut bad = event(1).to_vec();
        bad[31] = 0; // pubkey offset
        let logs = vec![(contract, vec![DEPOSIT_EVENT_TOPIC], Bytes::from(bad))];
        assert!(deposit_requests(contract, &logs).is_err());
        let short = vec![(contract, vec![DEPOSIT_EVENT_TOPIC], Bytes::from(vec![0; 64]))];
        assert!(deposit_requests(contract, &short).is_err());
    }
}
