//! Tests of the whole store: round trips, crash consistency, concurrent
//! readers, compaction and a model-based property test.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use proptest::prelude::*;

use crate::{
    AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, CommitError, CommitInfo, Entry,
    FormatError, HistoryError, Key, KeyHash, OpenError, ReadView, StorageError,
};

mod backing;
mod checkpoint;
mod revert;
mod slots;
mod spare;

type Model = BTreeMap<Key, Entry>;

fn small_config() -> AccountsDbConfig {
    AccountsDbConfig::default().with_segment_size(16 << 10).with_compact_in_background(false)
}

fn account(nonce: u64, balance: u64) -> AccountHeader {
    AccountHeader { nonce, balance: U256::from(balance), ..Default::default() }
}

fn addr(i: u8) -> Address {
    Address::repeat_byte(i)
}

fn slot(i: u8) -> B256 {
    B256::repeat_byte(i)
}

fn code(bytes: &[u8]) -> Entry {
    Entry::Code(keccak256(bytes), Bytes::copy_from_slice(bytes))
}

/// Everything the newest view sees, keyed for comparison.
fn contents(db: &AccountsDb) -> Model {
    seen(&db.view())
}

/// Everything `view` sees, keyed for comparison.
fn seen(view: &ReadView) -> Model {
    let mut all = Model::new();
    view.for_each(|e| drop(all.insert(e.key(), e))).unwrap();
    all
}

/// Applies a commit's changes to a model the way the store does.
fn apply(model: &mut Model, changes: &[Entry]) {
    for e in changes {
        if e.is_deletion() {
            model.remove(&e.key());
        } else {
            model.insert(e.key(), e.clone());
        }
    }
}

fn open(dir: &Path) -> AccountsDb {
    AccountsDb::open(dir, small_config()).unwrap()
}

#[test]
fn test_round_trip_overwrite_delete_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let c = code(b"\x60\x00\x60\x00\xf3");
    let Entry::Code(code_hash, ref code_bytes) = c else { unreachable!() };
    {
        let db = open(dir.path());
        assert_eq!(db.last_commit(), None);
        assert_eq!(db.get_account(&addr(1)).unwrap(), None);
        db.commit(
            1,
            slot(0xc1),
            &[
                Entry::Account(addr(1), account(1, 10)),
                Entry::Account(addr(2), AccountHeader { code_hash, ..account(1, 0) }),
                Entry::Storage(addr(2), slot(1), U256::from(5)),
                Entry::Storage(addr(2), slot(2), U256::from(6)),
                c.clone(),
            ],
        )
        .unwrap();
        assert_eq!(db.get_account(&addr(1)).unwrap(), Some(account(1, 10)));
        assert_eq!(db.get_storage(&addr(2), &slot(1)).unwrap(), U256::from(5));
        assert_eq!(db.get_code(&code_hash).unwrap().as_ref(), Some(code_bytes));
        assert_eq!(db.get_storage(&addr(2), &slot(9)).unwrap(), U256::ZERO);

        // Overwrite, delete a slot, delete an account, repeat a key (last wins).
        db.commit(
            2,
            slot(0xc2),
            &[
                Entry::Account(addr(1), account(2, 7)),
                Entry::Storage(addr(2), slot(1), U256::ZERO),
                Entry::Account(addr(3), account(0, 1)),
                Entry::Account(addr(3), AccountHeader::default()),
                Entry::Storage(addr(2), slot(2), U256::from(8)),
                Entry::Storage(addr(2), slot(2), U256::from(9)),
            ],
        )
        .unwrap();
    }
    let db = open(dir.path());
    assert_eq!(db.last_commit(), Some(CommitInfo { block_number: 2, commitment: slot(0xc2) }));
    assert_eq!(db.get_account(&addr(1)).unwrap(), Some(account(2, 7)));
    assert_eq!(db.get_account(&addr(3)).unwrap(), None);
    assert_eq!(db.get_storage(&addr(2), &slot(1)).unwrap(), U256::ZERO);
    assert_eq!(db.get_storage(&addr(2), &slot(2)).unwrap(), U256::from(9));
    assert_eq!(db.get_code(&code_hash).unwrap().as_ref(), Some(code_bytes));
    assert_eq!(contents(&db).len(), 4, "two accounts, one slot, one code");
}

#[test]
fn test_second_open_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let err = AccountsDb::open(dir.path(), small_config()).unwrap_err();
    assert!(matches!(err, OpenError::Locked { .. }), "{err}");
    assert!(err.to_string().contains("LOCK"));
    drop(db);
    open(dir.path());
}

#[test]
fn test_bad_commits_are_refused_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = AccountsDbConfig { max_code_len: 8, max_changes_per_commit: 3, ..small_config() };
    let db = AccountsDb::open(dir.path(), config).unwrap();
    db.commit(5, B256::ZERO, &[Entry::Account(addr(1), account(1, 1))]).unwrap();
    let err = db.commit(5, B256::ZERO, &[]).unwrap_err();
    assert!(matches!(err, CommitError::NotIncreasing { last: 5, block_number: 5 }), "{err}");
    let err = db.commit(6, B256::ZERO, &[code(&[1; 9])]).unwrap_err();
    assert!(matches!(err, CommitError::ValueTooLarge { len: 9, limit: 8, .. }), "{err}");
    let err = db.commit(6, B256::ZERO, &[Entry::Code(B256::ZERO, Bytes::from_static(b"x"))]);
    assert!(matches!(err, Err(CommitError::CodeHashMismatch { .. })));
    let four = vec![Entry::Account(addr(2), account(1, 1)); 4];
    let err = db.commit(6, B256::ZERO, &four).unwrap_err();
    assert!(matches!(err, CommitError::TooManyChanges { count: 4, limit: 3 }), "{err}");
    assert!(!err.is_fatal());
    assert_eq!(db.last_commit().unwrap().block_number, 5);
    assert_eq!(db.get_account(&addr(2)).unwrap(), None);
    db.commit(6, B256::ZERO, &four[..1]).unwrap();
}

#[test]
fn test_failed_flush_poisons_and_loses_nothing_committed() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    db.commit(1, B256::ZERO, &[Entry::Account(addr(1), account(1, 1))]).unwrap();
    *db.inner().fail_next_sync.lock() = Some(std::io::ErrorKind::StorageFull);
    let err = db.commit(2, B256::ZERO, &[Entry::Account(addr(1), account(2, 2))]).unwrap_err();
    assert!(matches!(err, CommitError::DiskFull { .. }), "{err}");
    assert!(err.to_string().contains(".seg"), "names the file: {err}");
    assert!(db.is_poisoned());
    // Nothing of the failed commit is visible, and no commit is accepted after.
    assert_eq!(db.get_account(&addr(1)).unwrap(), Some(account(1, 1)));
    let err = db.commit(3, B256::ZERO, &[]).unwrap_err();
    assert!(matches!(err, CommitError::Poisoned) && err.is_fatal());
    drop(db);
    // Reopen: block 1 is there. (Block 2 was written before the failed sync and
    // may be durable after all; either is allowed, a mix is not.)
    let db = open(dir.path());
    let block = db.last_commit().unwrap().block_number;
    let expected = if block == 1 { account(1, 1) } else { account(2, 2) };
    assert_eq!(db.get_account(&addr(1)).unwrap(), Some(expected));
}

/// A store with `blocks` commits over several segments; returns the model
/// after every commit (index 0: empty).
fn build_history(dir: &Path, blocks: u64, seed: u64) -> Vec<(Option<CommitInfo>, Model)> {
    let db = open(dir);
    let mut rng = seed;
    let mut next = move || {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        rng
    };
    let mut model = Model::new();
    let mut history = vec![(None, model.clone())];
    for block in 1..=blocks {
        let changes: Vec<Entry> = (0..40)
            .map(|_| {
                let r = next();
                let a = addr((r % 16) as u8);
                match r % 5 {
                    0 => Entry::Account(a, account(r % 3, r % 4)),
                    4 => code(&r.to_le_bytes()[..(r % 8) as usize]),
                    _ => Entry::Storage(a, slot((r >> 8) as u8 % 8), U256::from(r % 4)),
                }
            })
            .collect();
        let commitment = keccak256(block.to_le_bytes());
        let info = db.commit(block, commitment, &changes).unwrap();
        apply(&mut model, &changes);
        history.push((Some(info), model.clone()));
    }
    assert_eq!(contents(&db), model);
    history
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join(entry.file_name())).unwrap();
    }
}

/// The segment files in `dir`, oldest first.
fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut segs: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "seg"))
        .collect();
    segs.sort();
    segs
}

fn newest_segment(dir: &Path) -> PathBuf {
    segment_files(dir).pop().unwrap()
}

/// Bytes of the newest segment that hold data (up to the last non-zero byte).
fn used_len(path: &Path) -> u64 {
    let bytes = std::fs::read(path).unwrap();
    bytes.iter().rposition(|&b| b != 0).map_or(0, |p| p as u64 + 1)
}

/// Reopens a damaged copy and checks it holds exactly one of the last two
/// states; returns which (true: the last).
fn check_recovers(
    dir: &Path,
    history: &[(Option<CommitInfo>, Model)],
    what: &str,
) -> Result<bool, String> {
    let db = AccountsDb::open(dir, small_config()).map_err(|e| format!("{what}: {e}"))?;
    let got = (db.last_commit(), contents(&db));
    let n = history.len();
    let last = got == history[n - 1];
    if !last && got != history[n - 2] {
        return Err(format!("{what}: recovered state is neither of the last two commits"));
    }
    // And it keeps working: a new commit lands and survives a reopen.
    let next = got.0.map_or(1, |c| c.block_number + 1);
    db.commit(next, B256::ZERO, &[Entry::Account(addr(99), account(1, 1))]).unwrap();
    drop(db);
    let db = open(dir);
    assert_eq!(db.last_commit().unwrap().block_number, next);
    assert_eq!(db.get_account(&addr(99)).unwrap(), Some(account(1, 1)));
    Ok(last)
}

#[test]
fn test_truncated_last_commit_recovers_previous_or_last() {
    let base = tempfile::tempdir().unwrap();
    let history = build_history(base.path(), 30, 7);
    let seg = newest_segment(base.path());
    let end = used_len(&seg);
    // The last commit: its 40 changes take well over 1 KiB; cut at every 8th
    // byte of the last 2 KiB, and at a few unaligned offsets.
    let cuts: Vec<u64> =
        (end.saturating_sub(2048)..=end).step_by(8).chain([end - 1, end - 13]).collect();
    let mut saw = (false, false);
    for cut in cuts {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let f = std::fs::OpenOptions::new()
            .write(true)
            .open(dir.path().join(seg.file_name().unwrap()))
            .unwrap();
        f.set_len(cut).unwrap();
        drop(f);
        let last = check_recovers(dir.path(), &history, &format!("cut at {cut}")).unwrap();
        if last {
            saw.0 = true
        } else {
            saw.1 = true
        }
        assert_eq!(last, cut >= end, "cut at {cut} of {end}");
    }
    assert_eq!(saw, (true, true));
}

#[test]
fn test_flipped_bytes_in_last_commit_recover_previous() {
    let base = tempfile::tempdir().unwrap();
    let history = build_history(base.path(), 30, 11);
    let seg = newest_segment(base.path());
    let end = used_len(&seg);
    let bytes = std::fs::read(&seg).unwrap();
    let mut last_kept = 0;
    for at in (end.saturating_sub(1500)..end).step_by(7) {
        let dir = tempfile::tempdir().unwrap();
        copy_dir(base.path(), dir.path());
        let mut damaged = bytes.clone();
        damaged[at as usize] ^= 0x5a;
        std::fs::write(dir.path().join(seg.file_name().unwrap()), &damaged).unwrap();
        // A flip in zero padding between records changes no record: the last
        // commit stays. Anything else drops exactly the last commit.
        if check_recovers(dir.path(), &history, &format!("flip at {at}")).unwrap() {
            last_kept += 1;
        }
    }
    assert!(last_kept < 40, "most flips must drop the last commit ({last_kept} kept it)");
}

#[test]
fn test_a_segment_of_another_format_version_is_refused_and_kept() {
    let base = tempfile::tempdir().unwrap();
    let history = build_history(base.path(), 10, 3);
    // The newest segment as a later lanes would write it: version 3, its
    // header checksum right.
    let seg = newest_segment(base.path());
    let mut bytes = std::fs::read(&seg).unwrap();
    bytes[8..12].copy_from_slice(&3u32.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[..24]);
    bytes[24..32].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    let err = AccountsDb::open(base.path(), small_config()).unwrap_err();
    assert!(
        matches!(&err, OpenError::Format(FormatError { found: 3, reads: 2, path }) if *path == seg),
        "{err}"
    );
    assert!(err.to_string().contains("--reset"), "{err}");
    // Nothing was cut: the file is as we left it, and the version put back
    // opens the whole history.
    assert_eq!(std::fs::read(&seg).unwrap(), bytes);
    bytes[8..12].copy_from_slice(&2u32.to_le_bytes());
    let sum = xxhash_rust::xxh3::xxh3_64(&bytes[..24]);
    bytes[24..32].copy_from_slice(&sum.to_le_bytes());
    std::fs::write(&seg, &bytes).unwrap();
    assert!(check_recovers(base.path(), &history, "version restored").unwrap());
}

#[test]
fn test_damage_before_a_durable_commit_is_corruption_not_a_tail() {
    let base = tempfile::tempdir().unwrap();
    build_history(base.path(), 30, 5);
    // The oldest segment holds many commits followed by durable ones: flip a
    // byte in its first record.
    let first = crate::segment::segment_path(base.path(), 1);
    let mut bytes = std::fs::read(&first).unwrap();
    bytes[40] ^= 1;
    std::fs::write(&first, &bytes).unwrap();
    let err = AccountsDb::open(base.path(), small_config()).unwrap_err();
    match &err {
        OpenError::Storage(StorageError::Corrupted { file, offset, .. }) => {
            assert_eq!(file, &first);
            assert_eq!(*offset, 32, "the first record starts after the 32-byte header");
        }
        other => panic!("expected Corrupted, got {other}"),
    }
    assert!(err.to_string().contains("0000000001.seg"), "{err}");
    // Nothing was cut: the file is as we left it.
    assert_eq!(std::fs::read(&first).unwrap(), bytes);
}

#[test]
fn test_views_see_whole_commits_during_commits_and_compaction() {
    const KEYS: u8 = 24;
    let dir = tempfile::tempdir().unwrap();
    let config = small_config().with_compaction_live_percent(100).with_history_blocks(Some(0));
    let db = Arc::new(AccountsDb::open(dir.path(), config).unwrap());
    let all = |block: u64| -> Vec<Entry> {
        (0..KEYS)
            .flat_map(|i| {
                [
                    Entry::Account(addr(i), account(block, block + 1)),
                    Entry::Storage(addr(i), slot(i), U256::from(block + 1)),
                ]
            })
            .collect()
    };
    db.commit(1, B256::with_last_byte(1), &all(1)).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..3)
        .map(|_| {
            let (db, stop) = (db.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut checks = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let view = db.view();
                    let block = view.last_commit().unwrap().block_number;
                    for i in 0..KEYS {
                        let acc = view.get_account(&addr(i)).unwrap().unwrap();
                        assert_eq!(acc, account(block, block + 1), "key {i} at block {block}");
                        let value = view.get_storage(&addr(i), &slot(i)).unwrap();
                        assert_eq!(value, U256::from(block + 1));
                    }
                    checks += 1;
                }
                checks
            })
        })
        .collect();
    // A view held across everything keeps block 1 alive through compactions.
    let old = db.view();
    let mut compacted = 0;
    for block in 2..=300 {
        db.commit(block, B256::with_last_byte(block as u8), &all(block)).unwrap();
        if block % 10 == 0 {
            compacted += db.compact().unwrap().segments;
        }
    }
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        assert!(r.join().unwrap() > 0);
    }
    assert!(compacted > 5, "compaction must have run ({compacted} segments)");
    assert_eq!(old.get_account(&addr(3)).unwrap(), Some(account(1, 2)));
    assert_eq!(old.get_storage(&addr(3), &slot(3)).unwrap(), U256::from(2));
    let mut seen = 0;
    old.for_each(|_| seen += 1).unwrap();
    assert_eq!(seen, 2 * KEYS as usize);
    drop(old);
    // After all that, a reopen recovers the newest state.
    let stats_before = db.stats();
    let db = Arc::into_inner(db).unwrap();
    drop(db);
    let db = open(dir.path());
    assert_eq!(db.last_commit().unwrap().block_number, 300);
    assert_eq!(contents(&db), {
        let mut m = Model::new();
        apply(&mut m, &all(300));
        m
    });
    assert!(db.stats().segments <= stats_before.segments + 1);
}

#[test]
fn test_compaction_reclaims_space_and_drops_old_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config().with_history_blocks(Some(0));
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let mut model = Model::new();
    for block in 1..=200u64 {
        let i = (block % 50) as u8;
        let changes = if block % 3 == 0 {
            vec![
                Entry::Storage(addr(i), slot(1), U256::ZERO),
                Entry::Account(addr(i), Default::default()),
            ]
        } else {
            vec![
                Entry::Storage(addr(i), slot(1), U256::from(block)),
                Entry::Account(addr(i), account(block, 1)),
            ]
        };
        db.commit(block, B256::ZERO, &changes).unwrap();
        apply(&mut model, &changes);
    }
    let before = db.stats();
    let stats = db.compact().unwrap();
    let after = db.stats();
    assert!(stats.segments > 0 && stats.bytes_reclaimed > 0, "{stats:?}");
    assert!(stats.tombstones_dropped > 0, "{stats:?}");
    assert!(after.written_bytes < before.written_bytes, "{before:?} -> {after:?}");
    assert!(after.indexed_keys < before.indexed_keys, "dropped tombstones leave the index");
    assert_eq!(contents(&db), model);
    drop(db);
    let db = AccountsDb::open(dir.path(), config).unwrap();
    assert_eq!(contents(&db), model);
    assert_eq!(db.last_commit().unwrap().block_number, 200);
}

/// Kept blocks read exactly the state after them, across compaction and a
/// reopen; blocks past the limit answer `Pruned`; a key written at every
/// block reads right at every block.
#[test]
fn test_kept_blocks_read_their_state_through_compaction_and_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config().with_history_blocks(Some(120));
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let mut model = Model::new();
    let mut states = vec![Model::new()];
    for block in 1..=400u64 {
        let i = (block % 50) as u8;
        let mut changes = vec![
            Entry::Storage(addr(200), slot(0), U256::from(block)),
            Entry::Account(addr(i), account(block, 1)),
        ];
        if block % 3 == 0 {
            changes.push(Entry::Storage(addr(i), slot(1), U256::ZERO));
        } else {
            changes.push(Entry::Storage(addr(i), slot(1), U256::from(block)));
        }
        db.commit(block, B256::with_last_byte(block as u8), &changes).unwrap();
        apply(&mut model, &changes);
        states.push(model.clone());
    }
    let check = |db: &AccountsDb| {
        assert_eq!(db.view().history_range(), Some((280, 400)));
        for block in 280..=400u64 {
            let view = db.view_at(block).unwrap();
            assert_eq!(view.last_commit().unwrap().block_number, block);
            assert_eq!(seen(&view), states[block as usize], "block {block}");
            assert_eq!(view.get_storage(&addr(200), &slot(0)).unwrap(), U256::from(block));
        }
        assert_eq!(db.view_at(279).unwrap_err(), HistoryError::Pruned { block: 279, oldest: 280 });
        assert_eq!(db.view_at(401).unwrap_err(), HistoryError::Ahead { block: 401, newest: 400 });
    };
    check(&db);
    let before = db.stats();
    let stats = db.compact().unwrap();
    assert!(stats.segments > 0, "segments dead for every kept block go: {stats:?}");
    assert!(db.stats().written_bytes < before.written_bytes);
    check(&db);
    drop(db);
    let db = AccountsDb::open(dir.path(), config).unwrap();
    check(&db);
}

/// `truncate_after` takes the database back to a kept block durably: it
/// opens there, with the history up to it, and commits go on from it; a
/// crash part way (a prefix of the log deleted) opens at a block between.
#[test]
fn test_truncate_after_goes_back_to_a_kept_block_and_commits_go_on() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let mut model = Model::new();
    let mut states = vec![Model::new()];
    for block in 1..=150u64 {
        let i = (block % 20) as u8;
        let changes = vec![
            Entry::Account(addr(i), account(block, 1)),
            Entry::Storage(addr(i), slot(i), U256::from(block)),
            Entry::Storage(addr(99), slot(0), U256::from(block)),
        ];
        db.commit(block, B256::with_last_byte(block as u8), &changes).unwrap();
        apply(&mut model, &changes);
        states.push(model.clone());
    }
    assert!(db.stats().segments > 3, "the test spans segments");
    drop(db);

    // A crash while truncating: the newest segment is gone, nothing else.
    let newest = newest_segment(dir.path());
    std::fs::remove_file(&newest).unwrap();
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let at = db.last_commit().unwrap().block_number;
    assert!((40..150).contains(&at), "a prefix of the log: block {at}");
    assert_eq!(contents(&db), states[at as usize]);
    drop(db);

    let info = AccountsDb::truncate_after(dir.path(), config.clone(), 40).unwrap();
    assert_eq!(info.block_number, 40);
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    assert_eq!(db.last_commit(), Some(info));
    assert_eq!(contents(&db), states[40]);
    assert_eq!(db.view().history_range(), Some((1, 40)));
    assert_eq!(seen(&db.view_at(17).unwrap()), states[17]);
    let next = [Entry::Storage(addr(99), slot(0), U256::from(7))];
    db.commit(41, B256::ZERO, &next).unwrap();
    drop(db);
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    assert_eq!(db.get_storage(&addr(99), &slot(0)).unwrap(), U256::from(7));
    assert_eq!(seen(&db.view_at(40).unwrap()), states[40]);
    drop(db);
    let err = AccountsDb::truncate_after(dir.path(), config.with_history_blocks(Some(5)), 20);
    assert!(matches!(err, Err(OpenError::History(HistoryError::Pruned { oldest: 36, .. }))));
}

/// A torn last commit leaves its block out of the history too: a kill -9
/// mid-commit reads back exactly the blocks that were durable.
#[test]
fn test_a_torn_commit_leaves_history_at_the_last_durable_block() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    for block in 0..=5u64 {
        db.commit(block, B256::ZERO, &[Entry::Account(addr(1), account(block, 1))]).unwrap();
    }
    drop(db);
    let seg = dir.path().join("0000000001.seg");
    let bytes = std::fs::read(&seg).unwrap();
    let end = bytes.iter().rposition(|&b| b != 0).unwrap() + 1;
    let file = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    file.set_len((end - 8) as u64).unwrap();
    drop(file);
    let db = open(dir.path());
    assert_eq!(db.view().history_range(), Some((0, 4)));
    assert_eq!(db.view_at(2).unwrap().get_account(&addr(1)).unwrap(), Some(account(2, 1)));
    assert!(matches!(db.view_at(5), Err(HistoryError::Ahead { newest: 4, .. })));
    db.commit(5, B256::ZERO, &[Entry::Account(addr(1), account(9, 1))]).unwrap();
    assert_eq!(db.view_at(4).unwrap().get_account(&addr(1)).unwrap(), Some(account(4, 1)));
    assert_eq!(db.view_at(5).unwrap().get_account(&addr(1)).unwrap(), Some(account(9, 1)));
}

#[derive(Clone, Debug)]
enum Op {
    Commit(Vec<(u8, u8, u8, u8)>),
    Reopen,
    Compact,
    Checkpoint,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => prop::collection::vec((0u8..4, 0u8..12, 0u8..4, 0u8..4), 0..30).prop_map(Op::Commit),
        // More changes than a commit looks up at once, keys repeating across chunks.
        1 => prop::collection::vec((0u8..4, 0u8..12, 0u8..4, 0u8..4), 129..200).prop_map(Op::Commit),
        1 => Just(Op::Reopen),
        1 => Just(Op::Compact),
        1 => Just(Op::Checkpoint),
    ]
}

fn to_entry((kind, a, s, v): (u8, u8, u8, u8)) -> Entry {
    match kind {
        0 => Entry::Account(addr(a), account(u64::from(v), u64::from(s))),
        1 => code(&[a, v]),
        _ => Entry::Storage(addr(a), slot(s), U256::from(v)),
    }
}

/// Blocks the property test keeps behind the newest.
const KEPT: u64 = 6;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn test_random_commits_and_reopens_match_a_btreemap(ops in prop::collection::vec(op(), 1..40)) {
        let dir = tempfile::tempdir().unwrap();
        let config = AccountsDbConfig::default()
            .with_segment_size(4096)
            .with_compaction_live_percent(70)
            .with_history_blocks(Some(KEPT));
        let mut db = AccountsDb::open(dir.path(), config.clone()).unwrap();
        let mut model = Model::new();
        let mut states = vec![Model::new()];
        let mut block = 0;
        for op in ops {
            match op {
                Op::Commit(changes) => {
                    block += 1;
                    let changes: Vec<Entry> = changes.into_iter().map(to_entry).collect();
                    db.commit(block, B256::with_last_byte(block as u8), &changes).unwrap();
                    apply(&mut model, &changes);
                    states.push(model.clone());
                }
                Op::Reopen => {
                    drop(db);
                    db = AccountsDb::open(dir.path(), config.clone()).unwrap();
                }
                Op::Compact => drop(db.compact().unwrap()),
                Op::Checkpoint => drop(db.checkpoint().unwrap()),
            }
            prop_assert_eq!(&contents(&db), &model);
            prop_assert_eq!(db.last_commit().map(|c| c.block_number), (block > 0).then_some(block));
            for (b, state) in states.iter().enumerate().skip(1) {
                let b = b as u64;
                match db.view_at(b) {
                    Ok(view) => prop_assert_eq!(&seen(&view), state, "block {}", b),
                    Err(e) => prop_assert_eq!(e, HistoryError::Pruned { block: b, oldest: block - KEPT }),
                }
                prop_assert_eq!(db.view_at(b).is_ok(), b + KEPT >= block);
            }
            for (key, entry) in &model {
                if let (Key::Storage(a, s), Entry::Storage(_, _, v)) = (key, entry) {
                    prop_assert_eq!(db.get_storage(a, s).unwrap(), *v);
                }
            }
        }
    }
}

/// `prefetch` answers nothing, so what it must not do is fail or change an
/// answer: on an old view whose keys were since overwritten, deleted and
/// compacted away, and for keys that never existed.
#[test]
fn test_prefetch_on_an_old_view_changes_no_read() {
    let dir = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let first: Vec<Entry> = (1..=40u8)
        .flat_map(|i| {
            [
                Entry::Account(addr(i), account(1, i.into())),
                Entry::Storage(addr(i), slot(1), U256::from(i)),
            ]
        })
        .collect();
    db.commit(1, B256::ZERO, &first).unwrap();
    let old = db.view();
    let old_contents = contents(&db);
    for block in 2..=60u64 {
        let i = (block % 40 + 1) as u8;
        let changes = if block % 2 == 0 {
            vec![
                Entry::Account(addr(i), Default::default()),
                Entry::Storage(addr(i), slot(1), U256::ZERO),
            ]
        } else {
            vec![
                Entry::Account(addr(i), account(block, 2)),
                Entry::Storage(addr(i), slot(1), U256::from(block)),
            ]
        };
        db.commit(block, B256::ZERO, &changes).unwrap();
    }
    db.compact().unwrap();
    let keys: Vec<Key> = (0..=60u8)
        .flat_map(|i| {
            [Key::Account(addr(i)), Key::Storage(addr(i), slot(1)), Key::Storage(addr(i), slot(2))]
        })
        .collect();
    let hashes: Vec<KeyHash> = keys.iter().map(Key::hash64).collect();
    old.prefetch(&hashes);
    db.view().prefetch(&hashes);
    for i in 0..=60u8 {
        let want = old_contents.get(&Key::Account(addr(i))).cloned();
        assert_eq!(old.get_account(&addr(i)).unwrap().map(|h| Entry::Account(addr(i), h)), want);
        let slot_want =
            old_contents.get(&Key::Storage(addr(i), slot(1))).map_or(U256::ZERO, |e| match e {
                Entry::Storage(_, _, v) => *v,
                _ => unreachable!(),
            });
        assert_eq!(old.get_storage(&addr(i), &slot(1)).unwrap(), slot_want);
    }
}

/// Compaction can delete the segment that held the newest block's own
/// commit record (one block kept); the maintenance commit names that block,
/// so a reopen still keeps it, and only it.
#[test]
fn test_history_after_compaction_deletes_the_newest_blocks_commit() {
    let dir = tempfile::tempdir().unwrap();
    let config = AccountsDbConfig::default()
        .with_segment_size(4096)
        .with_compaction_live_percent(90)
        .with_history_blocks(Some(0));
    let accounts = |tag: u8, n: u8, nonce: u64| -> Vec<Entry> {
        let address = |i: u8| {
            let mut a = [0u8; 20];
            (a[0], a[1]) = (tag, i);
            Address::from(a)
        };
        (0..n).map(|i| Entry::Account(address(i), account(nonce, 1))).collect()
    };
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    db.commit(1, B256::with_last_byte(1), &accounts(1, 30, 1)).unwrap();
    db.commit(2, B256::with_last_byte(2), &accounts(2, 25, 2)).unwrap();
    db.commit(3, B256::with_last_byte(3), &accounts(2, 4, 3)).unwrap();
    db.commit(4, B256::with_last_byte(4), &accounts(3, 10, 4)).unwrap();
    db.commit(5, B256::with_last_byte(5), &accounts(3, 10, 5)).unwrap();
    let want = contents(&db);
    db.compact().unwrap();
    db.compact().unwrap();
    assert_eq!(db.view().history_range(), Some((5, 5)));
    drop(db);
    let db = AccountsDb::open(dir.path(), config).unwrap();
    assert_eq!(db.view().history_range(), Some((5, 5)));
    assert_eq!(seen(&db.view_at(5).unwrap()), want);
    assert!(matches!(db.view_at(1), Err(HistoryError::Pruned { oldest: 5, .. })));
}

/// A view of an older block keeps compaction from dropping a tombstone it
/// reads past, even once that block is no longer kept.
#[test]
fn test_a_view_of_an_older_block_keeps_its_tombstones() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config().with_segment_size(4096).with_history_blocks(Some(2));
    let db = AccountsDb::open(dir.path(), config).unwrap();
    let filler = |nonce: u64| (0..10u8).map(move |i| Entry::Account(addr(i), account(nonce, 1)));
    let k = addr(99);
    let mut first: Vec<Entry> = filler(1).collect();
    first.push(Entry::Account(k, account(77, 1)));
    db.commit(1, B256::ZERO, &first).unwrap();
    let mut second: Vec<Entry> = filler(2).collect();
    second.push(Entry::Account(k, AccountHeader::default()));
    db.commit(2, B256::ZERO, &second).unwrap();
    let old = db.view_at(1).unwrap();
    let later: Vec<Entry> =
        (0..20u8).map(|i| Entry::Account(addr(100 + i), account(10, 1))).collect();
    db.commit(10, B256::ZERO, &later).unwrap();
    db.compact().unwrap();
    assert_eq!(old.get_account(&k).unwrap(), Some(account(77, 1)));
}
