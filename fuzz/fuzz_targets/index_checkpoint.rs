//! accounts_db's index checkpoint, the on-disk part of the index
//! (`index.ckpt`): a real database's checkpoint with the input's edits,
//! opened beside its intact segments, every key read back, one more commit
//! and a reopen. Nothing may panic; errors name the file (and, for damage,
//! the offset). Without re-sealing, every read that answers answers right
//! (a checksum covers every byte), and the reopen after it does too.
//!
//! Input: byte 0 holds flags: bit 0 re-seals the checksums (each block's
//! and the meta's) after the edits, so they reach what lies behind them;
//! bit 1 cuts the file to the length in the next 4 bytes (LE, modulo its
//! length). The rest are edits of 5 bytes: an offset (u32 LE, modulo the
//! file's length) and a byte XORed in there.
#![no_main]

use std::path::{Path, PathBuf};

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{
    AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry, OpenError, StorageError,
};
use libfuzzer_sys::fuzz_target;
use xxhash_rust::xxh3::xxh3_64;

const BLOCK: usize = 4096;
/// Bytes after the meta: its checksum, its length and the end magic.
const TAIL: usize = 24;

fn config() -> AccountsDbConfig {
    AccountsDbConfig::default().with_segment_size(1 << 20).with_sync(false)
}

/// A database of a few thousand keys with a checkpoint of all of them: its
/// files and what it holds.
struct Template {
    files: Vec<(String, Vec<u8>)>,
    entries: Vec<Entry>,
}

fn template() -> Template {
    let dir = tempfile::tempdir().expect("a temp dir");
    let db = AccountsDb::open(dir.path(), config()).expect("a new database");
    let mut n = 0u64;
    for block in 1..=24u64 {
        let changes: Vec<Entry> = (0..200)
            .map(|i| {
                n += 1;
                let who = Address::from_word(B256::from(U256::from(n % 700)));
                if i % 5 == 0 {
                    let header =
                        AccountHeader { nonce: n, balance: U256::from(n), ..Default::default() };
                    Entry::Account(who, header)
                } else {
                    Entry::Storage(who, B256::from(U256::from(n)), U256::from(n * 3 + block))
                }
            })
            .collect();
        db.commit(block, B256::repeat_byte(block as u8), &changes).expect("a commit");
    }
    assert!(db.checkpoint().expect("a checkpoint"), "a checkpoint is written");
    let mut entries = Vec::new();
    db.view().for_each(|e| entries.push(e)).expect("the template reads back");
    drop(db);
    let mut files = Vec::new();
    for file in std::fs::read_dir(dir.path()).expect("the template's files") {
        let path = file.expect("a dir entry").path();
        let name = path.file_name().expect("a name").to_string_lossy().into_owned();
        if name.ends_with(".seg") || name == "index.ckpt" {
            files.push((name, std::fs::read(&path).expect("a template file")));
        }
    }
    assert!(files.iter().any(|(n, _)| n == "index.ckpt"), "the template has a checkpoint");
    Template { files, entries }
}

/// Rewrites each block's checksum and the meta's, as a writer would have.
fn reseal(ckpt: &mut [u8]) {
    if ckpt.len() < BLOCK + TAIL {
        return;
    }
    let end = ckpt.len();
    let meta_len = u64::from_le_bytes(ckpt[end - 16..end - 8].try_into().expect("8 bytes"));
    let Some(meta_at) = (end - TAIL).checked_sub(meta_len as usize) else { return };
    let mut at = BLOCK;
    while at + BLOCK <= meta_at {
        let sum = xxh3_64(&ckpt[at + 8..at + BLOCK]);
        ckpt[at..at + 8].copy_from_slice(&sum.to_le_bytes());
        at += BLOCK;
    }
    let sum = xxh3_64(&ckpt[meta_at..end - TAIL]);
    ckpt[end - TAIL..end - 16].copy_from_slice(&sum.to_le_bytes());
}

fn check_open_error(err: &OpenError, dir: &Path) {
    let text = err.to_string();
    assert!(text.contains(&*dir.to_string_lossy()), "no file: {text}");
    if let OpenError::Storage(StorageError::Corrupted { file, .. }) = err {
        assert!(file.starts_with(dir) && text.contains(" at offset "), "no offset: {text}");
    }
    assert!(!matches!(err, OpenError::Locked { .. }), "nothing else holds the dir: {text}");
}

fn check_read_error(err: &StorageError, dir: &Path) {
    let text = err.to_string();
    assert!(text.contains(&*dir.to_string_lossy()), "no file: {text}");
    if let StorageError::Corrupted { .. } = err {
        assert!(text.contains(" at offset "), "no offset: {text}");
    }
}

/// Reads every key the template holds; `exact`: each answer must be its value.
fn read_all(db: &AccountsDb, entries: &[Entry], dir: &Path, exact: bool) {
    for e in entries {
        let read = match e {
            Entry::Account(a, h) => db.get_account(a).map(|got| got.as_ref() == Some(h)),
            Entry::Storage(a, s, v) => db.get_storage(a, s).map(|got| got == *v),
            Entry::Code(h, c) => db.get_code(h).map(|got| got.as_ref() == Some(c)),
        };
        match read {
            Ok(same) => assert!(same || !exact, "{e:?} read back otherwise"),
            Err(err) => check_read_error(&err, dir),
        }
    }
}

fn write_files(dir: &PathBuf, template: &Template, ckpt: &[u8]) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).expect("a db dir");
    for (name, bytes) in &template.files {
        let bytes = if name == "index.ckpt" { ckpt } else { bytes };
        std::fs::write(dir.join(name), bytes).expect("writing");
    }
}

fuzz_target!(|data: &[u8]| {
    thread_local! {
        static ROOT: tempfile::TempDir = tempfile::tempdir().expect("a temp dir");
        static TEMPLATE: Template = template();
    }
    let Some((&flags, mut rest)) = data.split_first() else { return };
    TEMPLATE.with(|template| {
        let (_, original) =
            template.files.iter().find(|(n, _)| n == "index.ckpt").expect("a checkpoint");
        let mut ckpt = original.clone();
        if flags & 2 != 0 {
            let [a, b, c, d, tail @ ..] = rest else { return };
            ckpt.truncate(u32::from_le_bytes([*a, *b, *c, *d]) as usize % (ckpt.len() + 1));
            rest = tail;
        }
        if !ckpt.is_empty() {
            for edit in rest.chunks_exact(5) {
                let at = u32::from_le_bytes(edit[..4].try_into().expect("4 bytes")) as usize;
                let len = ckpt.len();
                ckpt[at % len] ^= edit[4];
            }
        }
        let resealed = flags & 1 != 0;
        if resealed {
            reseal(&mut ckpt);
        }
        ROOT.with(|root| {
            let dir = root.path().join("db");
            write_files(&dir, template, &ckpt);
            let db = match AccountsDb::open(&dir, config()) {
                Ok(db) => db,
                Err(e) => return check_open_error(&e, &dir),
            };
            read_all(&db, &template.entries, &dir, !resealed);
            let last = db.last_commit().map_or(0, |c| c.block_number);
            let alice = Address::repeat_byte(0xa1);
            let header = AccountHeader { nonce: 7, balance: U256::from(9), ..Default::default() };
            let next = last.saturating_add(1);
            let committed =
                db.commit(next, B256::repeat_byte(0xcc), &[Entry::Account(alice, header)]);
            if let Err(e) = &committed {
                assert!(!e.to_string().is_empty());
            }
            drop(db);
            let db = match AccountsDb::open(&dir, config()) {
                Ok(db) => db,
                Err(e) if resealed => return check_open_error(&e, &dir),
                Err(e) => {
                    panic!("a checkpoint that fails its checksums is set aside, not fatal: {e}")
                }
            };
            if !resealed {
                read_all(&db, &template.entries, &dir, true);
                if committed.is_ok() {
                    assert_eq!(db.get_account(&alice).expect("reads"), Some(header));
                }
            }
        });
    });
});
