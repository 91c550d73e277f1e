//! `eth_sendRawTransaction`'s decoding: [`EvmTx::decode`] (EIP-2718
//! decoding, the rules' checks, sender recovery), under the rules the first
//! byte picks. A transaction it accepts re-encodes to the same bytes, decodes
//! again to the same transaction, and (unless impersonated) its sender is
//! the one alloy's own recovery finds.
#![no_main]

use alloy_consensus::transaction::SignerRecoverable;
use lanes_evm_adapter::{EvmTx, IMPERSONATED_TAG, TxRules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&flags, raw)) = data.split_first() else { return };
    let rules = TxRules {
        chain_id: if flags & 1 == 0 { 31337 } else { 1 },
        allow_unprotected: flags & 2 != 0,
        allow_impersonated: flags & 4 != 0,
        ..TxRules::new(0)
    };
    let Ok(tx) = EvmTx::decode(raw, &rules) else { return };
    assert_eq!(tx.encoded().as_ref(), raw, "an accepted transaction keeps its bytes");
    let again = EvmTx::decode(tx.encoded(), &rules).expect("its own bytes decode again");
    assert_eq!(again, tx);
    if !raw.starts_with(&IMPERSONATED_TAG) {
        let alloy = tx.envelope().recover_signer().expect("alloy recovers what lanes did");
        assert_eq!(alloy, tx.sender(), "lanes and alloy recover the same sender");
    }
});
