//! The ledger's file (`blocks.log`): any bytes, opened with `Ledger::open`
//! and every block read back with `Ledger::read` and `Ledger::block`. Each
//! must answer a block or an error, never panic. Errors must name the file
//! (and, for damage, the offset): `Corrupt` and `Io` are checked always;
//! set `LANES_FUZZ_STRICT_ERRORS=1` to also require it of every other error
//! (`Format` names the file but no offset, as a version is the whole
//! file's; `NotChained` answers a read past the last block).
//!
//! Input: byte 0 holds flags, the rest is the file. Flag bit 0 re-seals each
//! record's checksum (walking the frames as `Ledger::open` does) so that
//! mutations reach the payload's decoding and the chain checks instead of
//! stopping at the checksum. Seeds are real ledgers of 1 to 5 blocks.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use lanes_node::ledger::{Ledger, LedgerError, receipt_logs};
use libfuzzer_sys::fuzz_target;

const FRAME: usize = 16;

/// Rewrites each whole record's checksum to match its payload.
fn reseal(file: &mut [u8]) {
    let mut at = 0;
    while at + FRAME <= file.len() {
        let len = u32::from_le_bytes(file[at + 4..at + 8].try_into().expect("4 bytes")) as usize;
        let Some(end) = (at + FRAME).checked_add(len).filter(|&e| e <= file.len()) else { break };
        let sum = xxhash_rust::xxh3::xxh3_64(&file[at + FRAME..end]);
        file[at + 8..at + 16].copy_from_slice(&sum.to_le_bytes());
        at = end;
    }
}

fn strict() -> bool {
    static STRICT: OnceLock<bool> = OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("LANES_FUZZ_STRICT_ERRORS").is_some_and(|v| v == "1"))
}

/// Checks that `err` names the ledger's file and, for damage, an offset.
fn check_error(err: &LedgerError, file: &Path) {
    let text = err.to_string();
    let names_file = text.contains(&*file.to_string_lossy());
    match err {
        LedgerError::Corrupt { path, .. } => {
            assert_eq!(path, file, "{text}");
            assert!(names_file && text.contains(" at byte "), "no file or offset: {text}");
        }
        LedgerError::Io { .. } => assert!(names_file, "no file: {text}"),
        _ if strict() => {
            assert!(names_file && text.contains("byte"), "no file or offset: {text}")
        }
        _ => {}
    }
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static DIR: tempfile::TempDir = tempfile::tempdir().expect("a temp dir");
    }
    let Some((&flags, rest)) = data.split_first() else { return };
    let mut bytes = rest.to_vec();
    if flags & 1 != 0 {
        reseal(&mut bytes);
    }
    DIR.with(|dir| {
        let path = dir.path().join("blocks.log");
        std::fs::write(&path, &bytes).expect("writing the ledger file");
        let ledger = match Ledger::open_with(dir.path(), false) {
            Ok(ledger) => ledger,
            Err(e) => return check_error(&e, &path),
        };
        let last = ledger.last_appended();
        // What open kept is whole records: never more than the file held.
        let kept = std::fs::metadata(&path).expect("the file is there").len();
        assert!(kept <= bytes.len() as u64, "open grew the file");
        assert_eq!(ledger.head(), last, "every block found is served");
        // A ledger starts at block 0 or a fork block; before it, a read
        // says so.
        let first = ledger.first();
        if first > 0 {
            assert!(ledger.read(first - 1).is_err(), "block {} before the first", first - 1);
        }
        for n in first..=last.map_or(first, |l| l + 1) {
            match ledger.read(n) {
                Ok(b) => {
                    assert_eq!(b.block.header.number, n);
                    assert_eq!(ledger.appended_hash(n), Some(b.block.hash));
                    assert_eq!(ledger.number_of(&b.block.hash), Some(n), "by-hash index");
                    for (i, r) in b.receipts.iter().enumerate() {
                        let (bn, ti) = ledger.locate_tx(&r.tx_hash).expect("indexed");
                        // A later duplicate hash wins in the index.
                        assert!(bn >= n && (bn > n || ti as usize >= i));
                        let _ = receipt_logs(r);
                    }
                    let _ = ledger.bloom(n);
                    let served = ledger.block(n).expect("read once, reads again");
                    assert!(served.is_some());
                }
                // Past the last block (asked on purpose): not damage.
                Err(e) => assert!(last.is_none_or(|l| n > l), "block {n} of 0..={last:?}: {e}"),
            }
        }
    });
});
