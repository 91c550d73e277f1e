//! One door for every transaction: the same bad transactions sent to a
//! `--dev` node over JSON-RPC (`eth_sendRawTransaction`), and to a banking
//! stage in process through `submit_many` (what the load generator's
//! in-process mode, a pool rebuild and embedders use) and `submit_decoded`,
//! each get the same refusal; and a request that stands for no transaction
//! gets the same words from every method that takes one.

use std::sync::Arc;

use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use alloy_signer::SignerSync;
use alloy_signer_local::PrivateKeySigner;
use lanes_banking_stage::{BankingStage, BankingStageConfig, SubmitError};
use lanes_eth::genesis::{ChainSpec, dev_genesis};
use lanes_evm_adapter::{AdmissionLimits, EvmAdmission, EvmConfig, EvmExecutor, EvmTx};
use lanes_runtime::{Chain, TxError};
use serde_json::json;

use crate::validator::{DEV_KEYS, Validator, receiver};

/// Code that makes an account a contract (EIP-3607 refuses its sends).
const CODE: [u8; 10] = alloy_primitives::hex!("602a60005260206000f3");

fn tx(key: &str, chain_id: u64, gas: u64, max_fee: u128) -> Bytes {
    let signer: PrivateKeySigner = key.parse().unwrap();
    let tx = TxEip1559 {
        chain_id,
        nonce: 0,
        gas_limit: gas,
        max_fee_per_gas: max_fee,
        max_priority_fee_per_gas: 1,
        to: TxKind::Call(receiver(7)),
        value: U256::from(1),
        access_list: Default::default(),
        input: Bytes::new(),
    };
    let sig = signer.sign_hash_sync(&tx.signature_hash()).unwrap();
    let envelope: TxEnvelope = tx.into_signed(sig).into();
    envelope.encoded_2718().into()
}

fn address(key: &str) -> Address {
    key.parse::<PrivateKeySigner>().unwrap().address()
}

/// A stage's refusal in the words the node answers with.
fn reason(e: SubmitError) -> String {
    match e {
        SubmitError::Refused(TxError::Invalid(why)) | SubmitError::Invalid(why) => why,
        e => e.to_string(),
    }
}

#[test]
fn test_a_bad_transaction_gets_the_same_refusal_through_every_door() {
    let stranger = "0x1111111111111111111111111111111111111111111111111111111111111111";
    let gwei = 1_000_000_000;
    // (what is wrong, its bytes, a phrase the refusal holds, decodable)
    let cases = [
        ("cannot pay", tx(stranger, 31337, 21_000, 3 * gwei), "insufficient funds", true),
        ("below intrinsic gas", tx(DEV_KEYS[0], 31337, 20_000, 3 * gwei), "intrinsic gas", true),
        ("a sender with code", tx(DEV_KEYS[2], 31337, 21_000, 3 * gwei), "EIP-3607", true),
        ("over the block", tx(DEV_KEYS[0], 31337, 40_000_000, 3 * gwei), "block gas limit", true),
        ("under the base fee", tx(DEV_KEYS[0], 31337, 21_000, 7), "base fee", true),
        ("another chain", tx(DEV_KEYS[0], 1, 21_000, 3 * gwei), "wrong chain id", false),
    ];

    // Door 1: JSON-RPC on a --dev node.
    let dir = tempfile::tempdir().unwrap();
    let node = Validator::start(&dir.path().join("data"), &["--dev"]);
    node.result("anvil_setCode", json!([address(DEV_KEYS[2]), format!("0x{}", hex(&CODE))]));

    // Doors 2 and 3: a banking stage in process, on the same dev chain.
    let mut geth = dev_genesis();
    geth.alloc.get_mut(&address(DEV_KEYS[2])).unwrap().code = Some(CODE.into());
    let spec = ChainSpec::from_geth(geth).unwrap();
    let chain = Chain::create_with(
        dir.path().join("stage"),
        Default::default(),
        &spec.genesis,
        spec.bank_config(),
    )
    .unwrap();
    let executor =
        Arc::new(EvmExecutor::new(EvmConfig { spec: spec.spec, ..EvmConfig::new(31337) }));
    let rules = executor.rules();
    let admission = EvmAdmission::new(executor.clone(), AdmissionLimits::default());
    let stage = BankingStage::builder(executor, chain)
        .config(BankingStageConfig::default())
        .admission(Arc::new(admission))
        .start();

    for (what, raw, phrase, decodable) in cases {
        let (code, rpc, _) =
            node.error("eth_sendRawTransaction", json!([format!("0x{}", hex(&raw))]));
        // anvil's codes: -32000 for a gas limit under the intrinsic gas,
        // -32003 for the other refusals.
        let want = if what == "below intrinsic gas" { -32000 } else { -32003 };
        assert_eq!(code, want, "{what}: {rpc}");
        assert!(rpc.contains(phrase), "{what}: the RPC answered {rpc}");
        let many = stage.submit_many(vec![raw.clone()]).pop().unwrap().map_err(reason);
        let many = many.expect_err(what);
        // The two chains differ in what they count (the dev node's next base
        // fee has moved from the genesis'): the words before the figures agree.
        assert_eq!(words(&rpc), words(&many), "{what}: RPC {rpc:?}, submit_many {many:?}");
        assert!(many.contains(phrase), "{what}: submit_many answered {many}");
        if decodable {
            let decoded = EvmTx::decode(&raw, &rules).unwrap();
            let one = stage.submit_decoded(vec![decoded], Default::default()).pop().unwrap();
            let one = one.map_err(reason).expect_err(what);
            assert_eq!(one, many, "{what}: submit_decoded and submit_many");
        }
    }
    // None of them entered a pool.
    assert_eq!(node.result("txpool_status", json!([]))["pending"], "0x0");
    assert!(stage.queued().is_empty());
    node.stop();
}

/// A refusal's words before its first figure.
fn words(refusal: &str) -> &str {
    &refusal[..refusal.find(|c: char| c.is_ascii_digit()).unwrap_or(refusal.len())]
}

fn hex(bytes: &[u8]) -> String {
    alloy_primitives::hex::encode(bytes)
}

/// A request that stands for no transaction gets the same words from every
/// method that takes one: they share one function (`lanes_eth::tx_request`).
#[test]
fn test_a_request_that_stands_for_no_transaction_gets_the_same_refusal_from_every_method() {
    let dir = tempfile::tempdir().unwrap();
    let node = Validator::start(&dir.path().join("data"), &["--dev"]);
    let from = address(DEV_KEYS[0]);
    let to = receiver(7);
    let list = json!([{ "address": to, "storageKeys": [] }]);
    // (what is wrong, the request, the words of its refusal)
    let cases = [
        (
            "both kinds of fee",
            json!({ "from": from, "to": to, "gasPrice": "0x1", "maxFeePerGas": "0x2" }),
            "both gasPrice and (maxFeePerGas or maxPriorityFeePerGas) specified",
        ),
        (
            "a type its fields do not fit",
            json!({ "from": from, "to": to, "type": "0x0", "accessList": list }),
            "type 0 does not fit the request",
        ),
        (
            "a type there is not",
            json!({ "from": from, "to": to, "type": "0x9" }),
            "transaction type 9 is not one a request can ask for",
        ),
    ];
    for (what, request, words) in cases {
        let answers = [
            ("eth_sendTransaction", json!([request])),
            ("eth_call", json!([request, "latest"])),
            ("eth_estimateGas", json!([request])),
            ("eth_createAccessList", json!([request, "latest"])),
            ("debug_traceCall", json!([request, "latest", {}])),
            ("eth_simulateV1", json!([{ "blockStateCalls": [{ "calls": [request] }] }, "latest"])),
        ];
        for (method, params) in answers {
            let (_, message, _) = node.error(method, params);
            assert!(message.contains(words), "{what}: {method} answered {message:?}");
        }
    }
    assert_eq!(node.result("txpool_status", json!([]))["pending"], "0x0");
    node.stop();
}
