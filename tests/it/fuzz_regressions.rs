//! Inputs the fuzz targets in `fuzz/` (run by `scripts/fuzz.sh`) crashed on,
//! replayed as plain tests: each inlines the input and checks what the
//! target checks.

use std::time::Duration;

use alloy_primitives::{Address, B256};
use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};

/// An input as runs of non-zero bytes (offset, hex) over zeros.
fn sparse(len: usize, runs: &[(usize, &str)]) -> Vec<u8> {
    let mut bytes = vec![0; len];
    for (at, hex) in runs {
        let run = alloy_primitives::hex::decode(hex).expect("hex");
        bytes[*at..*at + run.len()].copy_from_slice(&run);
    }
    bytes
}

/// `accounts_db_recovery`, artifact `oom-87f081089e0bfcc5652a4c039ab0d7c35e7dab9e`
/// (one 4096-byte segment, checksums re-sealed): a segment header whose
/// checksum is right but which records a file size of 1 TiB. Recovery grew
/// the newest segment to that size and mapped it with every page read in:
/// out of memory. Segment offsets are u32, so no segment is over 4 GiB; such
/// a header is now damage like any other, and open answers at once.
#[test]
fn test_fuzz_segment_header_recording_a_huge_size_is_refused() {
    let mut seg = sparse(
        4099,
        &[
            (
                0,
                "4c414e45535345470200000001000000001000ffff0000000910db27a07eeeb2bc5290cdc7\
                 5927137000000001000000ffffffffffffffffffffffffffffffff00000000010101010101\
                 01010101010101010101010101010100000000000000e803",
            ),
            (
                128,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470762f8146ec\
                 9ac3646800000002000000ffffffffffffffffffffffffffffffff00000000010101010101\
                 0101010101010101010101010101",
            ),
            (247, "0107"),
            (
                280,
                "414384613c74bddf3d00000003000000ffffffffffffffffffffffffffffffff0000000013\
                 56562a3a026853b9da12344a90a0cfe0df352ec730914eac11c69c7b90a4f5050000006000\
                 6000a0000000cb57f0626cc19b584000000004000000010000000000000001",
            ),
            (
                424,
                "030000000000000045d2e8fb9c20af77b8f749342442dd4970000000010000002000000001\
                 00000020000000010000000100000001010101010101010101010101010101010101010200\
                 000000000000d007",
            ),
            (
                536,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470229d6e096a\
                 69b5f94800000082000000a000000001000000a00000000100000001000000010101010101\
                 0101010101010101010101010101",
            ),
            (
                655,
                "013d3095ebb8926c077000000001000000ffffffffffffffffffffffffffffffff00000000\
                 02020202020202020202020202020202020202020300000000000000b80b",
            ),
            (
                752,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a47034503e74e1\
                 886de54000000004000000020000000000000002",
            ),
            (
                847,
                "010300000000000000d6c455a02b35e561d4af06de39916d9828000000810000009002000001\
                 000000900200000100000001000000020202020202020202020202020202020202020273e2\
                 173be12ee557294000000004000000030000000000000003",
            ),
            (984, "020100000000000000c2cc41053ffc58ab"),
            (2935, "f6ff"),
            (3455, "01"),
            (3816, "40"),
        ],
    );
    // The header's checksum, as the fuzz target re-seals it.
    let sum = xxhash_rust::xxh3::xxh3_64(&seg[..24]);
    seg[24..32].copy_from_slice(&sum.to_le_bytes());
    let recorded = u64::from_le_bytes(seg[16..24].try_into().unwrap());
    assert_eq!(recorded, 0xff_ff00_1000, "about 1 TiB recorded");

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("0000000001.seg");
    std::fs::write(&path, &seg).unwrap();
    let config = AccountsDbConfig::default().with_segment_size(4096).with_sync(false);
    let (done, wait) = std::sync::mpsc::channel();
    let db_dir = dir.path().to_owned();
    std::thread::spawn(move || {
        let _ = done.send(AccountsDb::open(&db_dir, config).map(drop).map_err(|e| e.to_string()));
    });
    let opened = wait.recv_timeout(Duration::from_secs(60)).expect("open answers at once");
    if let Err(e) = opened {
        assert!(e.contains("0000000001.seg"), "names the file: {e}");
    }
    let len = std::fs::metadata(&path).map_or(0, |m| m.len());
    assert!(len <= 1 << 20, "the segment was grown to {len} bytes");
}

/// What the `accounts_db_recovery` target's re-seal flag does to a segment:
/// the header checksum, each record's checksum and each commit record's
/// digest of the records before it made to match the bytes.
fn reseal(seg: &mut [u8]) {
    use xxhash_rust::xxh3::{Xxh3, xxh3_64};
    let sum = xxh3_64(&seg[..24]);
    seg[24..32].copy_from_slice(&sum.to_le_bytes());
    let (mut at, mut sums) = (32, Vec::new());
    while at + 16 <= seg.len() {
        let len = u32::from_le_bytes(seg[at + 8..at + 12].try_into().unwrap()) as usize;
        let Some(end) = (at + 16).checked_add(len).filter(|&e| len > 0 && e <= seg.len()) else {
            break;
        };
        let commit = seg[at + 12] & 0x7f == 4;
        if commit && len >= 64 {
            let mut digest = Xxh3::new();
            sums.iter().for_each(|s: &u64| digest.update(&s.to_le_bytes()));
            seg[at + 72..at + 80].copy_from_slice(&digest.digest().to_le_bytes());
            sums.clear();
        }
        let sum = xxh3_64(&seg[at + 8..end]);
        seg[at..at + 8].copy_from_slice(&sum.to_le_bytes());
        if !commit {
            sums.push(sum);
        }
        at = end.next_multiple_of(8);
    }
}

/// `accounts_db_recovery`, artifact `crash-bf0d0fff03996af8294007c3f4214d7f84150641`
/// (one segment, re-sealed): commits, then a zero record header, then stale
/// records, among them valid commit records of old sequence numbers.
/// Recovery stopped at the zero header and kept the database without cutting
/// what lay after it; the next commit landed in front of the stale records,
/// and the database then refused to open ("reserved header bytes not zero",
/// with a stale commit after it: corrupted). Now bytes after the zero header
/// are damage at open: here, with durable-looking commits after it, open
/// refuses at once (and changes nothing), naming the file and offset.
#[test]
fn test_fuzz_stale_records_after_a_zero_header_are_damage() {
    let mut seg = sparse(
        3054,
        &[
            (
                0,
                "4c414e4553534547020000000100000000100000000000000910db27a07eeeb2bc5290cdc7\
                 5927137000000001000000ffffffffffffffffffffffffffffffff00000000010101010101\
                 01010101010101010101010101010100000000000000e803",
            ),
            (
                128,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a47012d1124e8f\
                 1ca8924000000004000000010000000000000001",
            ),
            (224, "010000000000000029bd9580f09d9549"),
            (
                501,
                "0300104c414e4553534547020000000100000000100000000000000910db27a07eeeb2e71f\
                 a6c1206f0be06800000002000000ffffffffffffffffffffffffffffffff00000000010101\
                 0101010101010101010101010101010101",
            ),
            (624, "01"),
            (
                656,
                "962b9d2fe4d24e426800000002000000ffffffffffffffffffffffffffffffff0000000001\
                 01010101010101010101010101010101010101",
            ),
            (743, "0101"),
            (
                776,
                "3f6d6b0b00f5e4d36800000002000000ffffffffffffffffffffffffffffffff0000000001\
                 01010101010101010101010101010101010101",
            ),
            (863, "0201"),
            (
                896,
                "45fa5c5039f0d0426800000002000000ffffffffffffffffffffffffffffffff0000000001\
                 01010101010101010101010101010101010101",
            ),
            (983, "0301"),
            (1016, "15dc65da399da7624000000004000000010000000000000001"),
            (
                1080,
                "0400000000000000ff94b877519c9b3f7afc4787d3e1b0b26800000002000000ffffffffff\
                 ffffffffffffffffffffff000000000202020202020202020202020202020202020202",
            ),
            (1184, "02"),
            (
                1216,
                "0cfd272831bf056a6800000002000000ffffffffffffffffffffffffffffffff0000000002\
                 02020202020202020202020202020202020202",
            ),
            (1303, "0102"),
            (
                1336,
                "4fa3af984a81489f6800000002000000ffffffffffffffffffffffffffffffff0000000002\
                 02020202020202020202020202020202020202",
            ),
            (1423, "0202"),
            (
                1456,
                "1665a3ff471598956800000002000000ffffffffffffffffffffffffffffffff0000000002\
                 02020202020202020202020202020202020202",
            ),
            (1543, "0302"),
            (1576, "58e44070191938434000000004000000020000000000000002"),
            (
                1639,
                "010400000000000000685200906d9d89d2a73da3e87f2888a56800000002000000ffffffff\
                 ffffffffffffffffffffffff000000000303030303030303030303030303030303030303",
            ),
            (1744, "03"),
            (
                1776,
                "3d0c81de926e68856800000002000000ffffffffffffffffffffffffffffffff0000000003\
                 03030303030303030303030303030303030303",
            ),
            (2011, "2e"),
            (2128, "04000000010000000000000001"),
            (2180, "010000000000000029bd9580f09d9549"),
            (2612, "2e"),
            (3022, "0103"),
        ],
    );
    reseal(&mut seg);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0000000001.seg"), &seg).unwrap();
    let config = AccountsDbConfig::default().with_segment_size(4096).with_sync(false);
    match AccountsDb::open(dir.path(), config.clone()) {
        Err(e) => {
            let text = e.to_string();
            assert!(text.contains("0000000001.seg") && text.contains("offset 240"), "{text}");
        }
        Ok(db) => commit_and_reopen(db, &config),
    }
}

/// Commits once more on `db` (just recovered); the commit must reopen.
fn commit_and_reopen(db: AccountsDb, config: &AccountsDbConfig) {
    use alloy_primitives::{Address, B256, U256};
    use lanes_accounts_db::{AccountHeader, AccountsRead, Entry};
    let dir = db.dir().to_owned();
    let next = db.last_commit().map_or(1, |c| c.block_number + 1);
    let alice = Address::repeat_byte(0xa1);
    let header = AccountHeader { nonce: 7, balance: U256::from(9), ..Default::default() };
    let slot = B256::with_last_byte(3);
    let changes = [Entry::Account(alice, header), Entry::Storage(alice, slot, U256::from(5))];
    let info = db.commit(next, B256::repeat_byte(0xcc), &changes).expect("a commit");
    drop(db);
    let db = AccountsDb::open(&dir, config.clone()).expect("the commit after recovery reopens");
    assert_eq!(db.last_commit(), Some(info));
    assert_eq!(db.get_account(&alice).unwrap(), Some(header));
    assert_eq!(db.get_storage(&alice, &slot).unwrap(), U256::from(5));
}

/// What the artifact above stands for, as a crash makes it: commit 2 was in
/// flight, and the page holding its first record header never reached the
/// disk while a later one (with its commit record) did. Recovery keeps
/// commit 1 and must cut commit 2's stale bytes: before the fix the next
/// commit landed in front of them and the database no longer opened.
#[test]
fn test_fuzz_torn_commit_after_a_zero_header_is_cut_before_the_next_commit() {
    use alloy_primitives::{Address, B256, U256};
    use lanes_accounts_db::Entry;
    let dir = tempfile::tempdir().unwrap();
    let config = AccountsDbConfig::default().with_segment_size(4096).with_sync(false);
    let path = dir.path().join("0000000001.seg");
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let one = [Entry::Storage(Address::repeat_byte(1), B256::ZERO, U256::from(1))];
    db.commit(1, B256::repeat_byte(1), &one).unwrap();
    drop(db);
    let bytes = std::fs::read(&path).unwrap();
    let end1 = (bytes.iter().rposition(|&b| b != 0).unwrap() + 1).next_multiple_of(8);
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let two: Vec<Entry> = (0..6u8)
        .map(|i| Entry::Storage(Address::repeat_byte(2), B256::with_last_byte(i), U256::from(2)))
        .collect();
    db.commit(2, B256::repeat_byte(2), &two).unwrap();
    drop(db);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[end1..end1 + 16].fill(0); // commit 2's first record header, lost
    std::fs::write(&path, &bytes).unwrap();

    let db = AccountsDb::open(dir.path(), config.clone()).expect("a torn commit is cut");
    assert_eq!(db.last_commit().map(|c| c.block_number), Some(1));
    commit_and_reopen(db, &config);
}

/// `rpc_params`, artifact `crash-e9fa12062dfd55fdd10f17fb74702e970c33f2c7`:
/// `eth_call` with a `maxFeePerGas` near 2^128 (request below, as the target
/// built it). gas * price overflowed u128, which revm checks only with the
/// balance check that calls turn off; without it revm panics (in a node
/// thread). `debug_traceCall` and a value near 2^256 did the same. Each is
/// now refused as invalid input, and the node goes on.
#[test]
fn test_fuzz_call_whose_cost_overflows_is_refused() {
    use serde_json::json;
    let dir = tempfile::tempdir().unwrap();
    let v = crate::validator::Validator::start(&dir.path().join("data"), &["--dev"]);
    let huge = "0xffff383862613665637a663666383864";
    let max = format!("{:#x}", alloy_primitives::U256::MAX);
    let calls = [
        // The artifact's request, verbatim.
        (
            "eth_call",
            json!([{"maxFeePerGas": huge}, "0x1", {"m": false, "ck\":\"0": "0x15d34aaf54267db7d7c367839aaf71a00a2c6a65"}, "0x746f426c6f636b223a226c6174657374222c2261646472657373223a223078373039"]),
        ),
        ("eth_call", json!([{"maxFeePerGas": huge}, "latest"])),
        ("eth_estimateGas", json!([{"gasPrice": huge}])),
        ("eth_createAccessList", json!([{"gasPrice": huge}, "latest"])),
        ("debug_traceCall", json!([{"gasPrice": huge}, "latest", {"tracer": "callTracer"}])),
        ("eth_call", json!([{"value": max, "gasPrice": "0x1"}, "latest"])),
    ];
    for (method, params) in calls {
        let answer = v.call(method, params.clone());
        let Some(error) = answer.get("error") else { continue }; // e.g. too many params
        assert_ne!(error["code"], json!(-32603), "{method} {params}: {answer}");
    }
    let (code, message, _) = v.error("eth_call", json!([{"maxFeePerGas": huge}, "latest"]));
    assert!(message.contains("overflow"), "{code} {message}");
    assert_eq!(v.result("eth_chainId", json!([])), "0x7a69", "the node goes on");
    v.stop();
}

/// `accounts_db_recovery`, artifact `crash-cd0b0acbf706955bfb91c8afc0f97d9ff7271643`
/// (re-sealed): segment 1 holds commits, a zero record header, then stale
/// records; segment 2 is all zero. Recovery deleted segment 2 (no valid
/// header, no commit) and made segment 1 the last, but left its stale bytes,
/// so the next commit landed in front of them and the database no longer
/// opened. Now the last segment, whichever it ends up being, is checked to
/// be zero after its last commit record: cut, or refused as damage.
#[test]
fn test_fuzz_stale_records_in_a_segment_that_becomes_the_last_are_damage() {
    let mut seg1 = sparse(
        4096,
        &[
            (
                0,
                "4c414e4553534547020000000100000000100000000000000910db27a07eeeb2e71fa6c120\
                 6f0be06800000002000000ffffffffffffffffffffffffffffffff00000000010101010101\
                 0101010101010101010101010101",
            ),
            (120, "01"),
            (
                152,
                "962b9d2fe4d24e426800000002000000ffffffffffffffffffffffffffffffff0000000001\
                 01010101010101010101010101010101010101",
            ),
            (239, "0101"),
            (
                272,
                "3f6d6b0b00f5e4d36800000002000000ffffffffffffffffffffffffffffffff0000000001\
                 01010101010101010101010101010101010101",
            ),
            (359, "0201"),
            (
                392,
                "45fa5c5039f0d0426800000002000000ffffffffffffffffffffffffffffffff0000000001\
                 01010101010101010101010101010101010101",
            ),
            (479, "0301"),
            (512, "1496d89589db16be4000000004000000050000000000000005"),
            (
                575,
                "0404000000000000004610a919ae1abe0f65838c40802dfe36680000000200000020000000\
                 010000002000000001000000010000000101010101010101010101010101010101010101",
            ),
            (680, "06"),
            (
                712,
                "c87cf8ae9278454b6800000002000000980000000100000098000000010000000100000001\
                 01010101010101010101010101010101010101",
            ),
            (799, "0106"),
            (
                832,
                "c91d91b3e3b3f0986800000002000000100100000100000010010000010000000100000001\
                 01010101010101010101010101010101010101",
            ),
            (919, "0206"),
            (
                952,
                "fe25f602e0ffe5656800000002000000880100000100000088010000010000000100000001\
                 01010101010101010101010101010101010101",
            ),
            (1039, "0306"),
            (1072, "89d72227c612a9d34000000004000000060000000000000006"),
            (
                1135,
                "050400000000000000a47527035239b2c6a0acbb82f606d076680000000200000050020000\
                 010000005002000001000000010000000202020202020202020202020202020202020202",
            ),
            (1240, "07"),
            (
                1272,
                "a5484a80942548d36800000002000000c802000001000000c8020000010000000100000002\
                 02020202020202020202020202020202020202",
            ),
            (1359, "0107"),
            (
                1392,
                "7a9eebc27b14f9f36800000002000000400300000100000040030000010000000100000002\
                 02020202020202020202020202020202020202",
            ),
            (1479, "0207"),
            (
                1512,
                "d996c6c22c9ebad36800000002000000b803000001000000b8030000010000000100000002\
                 02020202020202020202020202020202020202",
            ),
            (1599, "0307"),
            (1632, "852668b399f2bc724000000004000000070000000000000007"),
            (1695, "060400000000000000bd8e23b66e69b74c"),
            (
                1856,
                "4c414e455353454702000000020000000010000000000000594442dd8e289753c09ef7f1f5\
                 b4f68868000000020000008004000001000000800400000100000001000000030303030303\
                 0303030303030303030303030303",
            ),
            (1976, "08"),
            (
                2008,
                "4b8d859986cabaaf6800000002000000f804000001000000f8040000010000000100000003\
                 03030303030303030303030303030303030303",
            ),
            (2095, "0108"),
            (
                2128,
                "76b8cacfcef75d206800000002000000700500000100000070050000010000000100000003\
                 03030303030303030303030303030303030303",
            ),
            (2215, "0208"),
            (
                2248,
                "58519de3388fc1cf6800000002000000e805000001000000e8050000010000000100000003\
                 03030303030303030303030303030303030303",
            ),
            (2335, "0308"),
            (2368, "ed5802b2ec2a27e74000000004000000080000000000000008"),
            (
                2431,
                "0704000000000000008e38f5fd321504d9d4043516a2471da66800000002000000b0060000\
                 01000000b006000001000000010000000404040404040404040404040404040404040404",
            ),
            (2536, "09"),
            (
                2568,
                "d4765d4570b8772a6800000002000000280700000100000028070000010000000100000004\
                 04040404040404040404040404040404040404",
            ),
            (2655, "0109"),
            (
                2688,
                "9962e7f66e1860846800000002000000a007000001000000a0070000010000000100000004\
                 04040404040404040404040404040404040404",
            ),
            (2775, "0209"),
            (
                2808,
                "e7fd846f7edece3f6800000002000000180800000100000018080000010000000100000004\
                 04040404040404040404040404040404040404",
            ),
            (2895, "0309"),
            (2928, "9886ce1cc9fe44f9400000000400000009002e000000000009"),
            (
                2991,
                "080400000000000000c4d90a73c2c47bcc0ffd6a580c297db36800000002000000e0080000\
                 01000000e00800000100000001",
            ),
            (3096, "0a"),
            (3128, "4fbe3950ec1dbcf768000000020000005809000001000000580900000100000001"),
            (3215, "010a"),
            (3248, "fdf60dc9d10b2ff06800000002000000d009000001000000d00900000100000001"),
            (3335, "020a"),
            (3368, "f760e8414bd42d316800000002000000480a000001000000480a00000100000001"),
            (3455, "030a"),
            (3488, "ccc21527f5c526fe40000000040000000a000000000000000a"),
            (3551, "0904000000000000000b29931d578b3621"),
        ],
    );
    let mut seg2 = vec![0u8; 1856];
    reseal(&mut seg1);
    reseal(&mut seg2);
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0000000001.seg"), &seg1).unwrap();
    std::fs::write(dir.path().join("0000000002.seg"), &seg2).unwrap();
    let config = AccountsDbConfig::default().with_segment_size(4096).with_sync(false);
    match AccountsDb::open(dir.path(), config.clone()) {
        Err(e) => assert!(e.to_string().contains("0000000001.seg"), "{e}"),
        Ok(db) => commit_and_reopen(db, &config),
    }
}

/// `ledger_records` (issue 55/61; first byte: flags, bit 0 re-seals each
/// record's checksum): one whole record whose block number is
/// 15,175,406,976,294,191,104. The ledger opened with that as its first
/// and last block, and reading block 0 then failed as "block 0 does not
/// follow block 15175406976294191104". The input's records are of an
/// older format this build refuses first; the same record written by this
/// build is refused too: a number past 2^53 is damage, named with the file
/// and offset. (A read before a forked ledger's first block says so:
/// `Ledger`'s own tests.)
#[test]
fn test_fuzz_ledger_record_with_a_block_number_no_chain_reaches_is_refused() {
    let input = alloy_primitives::hex::decode(
        "014c4e42330c0100001f1c1e117b1fcb6b000000003ee099d2000000000000000000000000000000000000000000000000000000000000000000f1536500000000000000000000000000000000000000000000000000ca9a3b0000000080c3c90100000000000000000000000056e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b42156e81f171bcc55a6ff8345e692c0f86e5b48e01b996cadc001622fb5e363b421aca2f6468ea1a3fa83c80c10eb38a4faacad8f9d657aa0e1077829da3de8d05cc5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a4700000000006bda28ebfafb72f92fea58b487b74a49bd577891230c333961cfe3b2650ee6b000000000000000000000000",
    )
    .unwrap();
    let (flags, rest) = input.split_first().unwrap();
    assert_eq!(*flags & 1, 1, "the checksums re-sealed");
    let mut file = rest.to_vec();
    // Re-sealed as the target does: each whole record's checksum over its payload.
    let mut at = 0;
    while at + 16 <= file.len() {
        let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().unwrap()) as usize;
        let Some(end) = (at + 16).checked_add(len).filter(|&e| e <= file.len()) else { break };
        let sum = xxhash_rust::xxh3::xxh3_64(&file[at + 16..end]);
        file[at + 8..at + 16].copy_from_slice(&sum.to_le_bytes());
        at = end;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("blocks.log");
    std::fs::write(&path, &file).unwrap();
    // Its records are of format version 3: this build refuses the file
    // before reading a number, naming it.
    let Err(e) = lanes_node::ledger::Ledger::open_with(dir.path(), false) else {
        panic!("an older format's file opened")
    };
    assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}");
    // The same record in this build's format: a block numbered past 2^53.
    let far = tempfile::tempdir().unwrap();
    let ledger = lanes_node::ledger::Ledger::open_with(far.path(), false).unwrap();
    let mut block = lanes_runtime::Block::default();
    block.header.number = 15_175_406_976_294_191_104;
    ledger.append(&block, &[], None).unwrap();
    drop(ledger);
    let path = far.path().join("blocks.log");
    let written = std::fs::read(&path).unwrap();
    let Err(e) = lanes_node::ledger::Ledger::open_with(far.path(), false) else {
        panic!("a block numbered past 2^53 opened")
    };
    let text = e.to_string();
    assert!(
        text.contains(&*path.to_string_lossy())
            && text.contains("at byte 0")
            && text.contains("2^53"),
        "{text}"
    );
    assert_eq!(std::fs::read(&path).unwrap(), written, "nothing of the file was cut");
}

/// `accounts_db_recovery`, artifact `crash-40f32c6d7cb0cbb98cfdefa167a3d5d731602ef4`
/// (one 2,565-byte segment, re-sealed): a valid header, then a record with
/// no commit record after it. Recovery cuts that tail and deletes the
/// segment, which holds no commit; counting the log it had scanned (for the
/// index checkpoint) then took the scan's start from nothing: an overflow
/// panic. Now the database opens empty and commits.
#[test]
fn test_fuzz_a_log_cut_to_nothing_opens_empty_and_commits() {
    let mut seg = sparse(
        2565,
        &[
            (0, "4c414e455353454702"),
            (12, "01"),
            (17, "10"),
            (24, "0910db27a07eeeb2bc5290cdc759271370"),
            (44, "01"),
            (48, "ffffffffffffffffffffffffffffffff"),
            (68, "010101010101010101010101010101010101010101"),
            (96, "e803"),
        ],
    );
    reseal(&mut seg);
    let (last, replayed) = opens_and_commits(&seg);
    assert_eq!((last, replayed), (None, 0));
}

/// Opens `seg` as the only segment of a database, commits the block after
/// the one it recovered and reopens; returns the block recovered at first
/// and the log bytes that first open replayed.
fn opens_and_commits(seg: &[u8]) -> (Option<u64>, u64) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("0000000001.seg"), seg).unwrap();
    let db = AccountsDb::open(dir.path(), AccountsDbConfig::default()).expect("opens");
    let last = db.last_commit().map(|c| c.block_number);
    let replayed = db.stats().replayed_at_open;
    let next = last.map_or(1, |n| n + 1);
    let who = Address::repeat_byte(7);
    let header = AccountHeader { nonce: 1, ..Default::default() };
    db.commit(next, B256::ZERO, &[Entry::Account(who, header)]).expect("commits");
    drop(db);
    let db = AccountsDb::open(dir.path(), AccountsDbConfig::default()).unwrap();
    assert_eq!(db.last_commit().map(|c| c.block_number), Some(next));
    assert_eq!(db.get_account(&who).unwrap(), Some(header));
    (last, replayed)
}

/// `accounts_db_recovery`, artifact `crash-a49332b9da06b644cf34d605285286e3c29f29cc`
/// (one 988-byte segment, re-sealed): commits, the last of them numbered
/// `u64::MAX`. Recovery kept it, and the next commit, numbered one more,
/// overflowed: a panic. Now a commit at the limit is damage (here the
/// segment's tail, cut): the database opens at the commit before and takes
/// a commit.
#[test]
fn test_fuzz_a_commit_numbered_u64_max_is_damage() {
    let mut seg = sparse(
        988,
        &[
            (0, "4c414e45535345470200000001"),
            (17, "10"),
            (
                24,
                "0910db27a07eeeb2bc5290cdc75927137000000001000000ffffffffffffffffffffffffffffffff",
            ),
            (68, "010101010101010101010101010101010101010101"),
            (96, "e803"),
            (
                128,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470762f8146ec9ac364\
                 6800000002000000ffffffffffffffffffffffffffffffff",
            ),
            (196, "0101010101010101010101010101010101010101"),
            (247, "0107"),
            (280, "414384613c74bddf3d00000003000000ffffffffffffffffffffffffffffffff"),
            (
                316,
                "1356562a3a026853b91234da4a90a0cfe0df352ec730914eac11c69c7b90a4f50500000060006000\
                 a0000000cb57f0626cc19b58400000000400000001",
            ),
            (384, "01"),
            (424, "03"),
            (
                432,
                "45d2e8fb9c20af77b8f749342442dd49700000000100000020000000010000002000000001000000\
                 01000000010101010101010101010101010101010101010102",
            ),
            (504, "d007"),
            (
                536,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470229d6e096a69b5f9\
                 4800000082000000e000000001",
            ),
            (653, "ad00003d3095ebb8926c077000000001000000ffffffffffffffffffffffffffffffff"),
            (692, "020202020202020202020202020202020202020203"),
            (720, "b80b"),
            (734, "40"),
            (
                752,
                "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a47034503e74e1886de5\
                 4000000004000000ffffffffffffffff02",
            ),
            (847, "0103"),
            (856, "d6c455a02b35e561d4af06de"),
            (879, "71"),
            (973, "02020202020202"),
        ],
    );
    reseal(&mut seg);
    let (last, _) = opens_and_commits(&seg);
    assert!(last.is_some(), "the commits before the one at the limit are kept");
}
