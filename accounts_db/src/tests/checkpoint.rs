//! Index checkpoints: open reads one and replays only the log after it, and
//! anything that makes one unfit (damage, a torn or stale file, a log cut
//! back, compaction since) falls back to the whole log, never a wrong state.

use super::*;
use crate::db::checkpoint::FILE;

/// A few hundred keys over several segments, with overwrites, deletions
/// and code, committed as blocks `from..to`; returns the model.
fn blocks(db: &AccountsDb, model: &mut Model, from: u64, to: u64) {
    for block in from..to {
        let b = block as u8;
        let mut changes: Vec<Entry> = (0..40u8)
            .map(|i| Entry::Storage(addr(i), slot(b % 7), U256::from(block * 100 + u64::from(i))))
            .collect();
        changes.push(Entry::Account(addr(b), account(block, block)));
        changes.push(code(&[b, 1, 2]));
        if block % 5 == 0 {
            changes.push(Entry::Storage(addr(3), slot((b + 1) % 7), U256::ZERO));
            changes.push(Entry::Account(addr(b.wrapping_sub(3)), AccountHeader::default()));
        }
        db.commit(block, B256::with_last_byte(b), &changes).unwrap();
        apply(model, &changes);
    }
}

fn config() -> AccountsDbConfig {
    small_config().with_history_blocks(Some(8))
}

fn reopened(dir: &Path, model: &Model, block: u64) -> AccountsDb {
    let db = AccountsDb::open(dir, config()).unwrap();
    assert_eq!(&contents(&db), model);
    assert_eq!(db.last_commit().map(|c| c.block_number), Some(block));
    db
}

#[test]
fn test_open_reads_the_checkpoint_and_replays_only_what_came_after() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    assert!(!db.checkpoint().unwrap(), "nothing to checkpoint before the first commit");
    blocks(&db, &mut model, 1, 40);
    let whole = db.stats().written_bytes;
    let at_checkpoint = model.clone();
    assert!(db.checkpoint().unwrap());
    let history = seen(&db.view_at(36).unwrap());
    blocks(&db, &mut model, 40, 44);
    drop(db);

    let db = reopened(dir.path(), &model, 43);
    let replayed = db.stats().replayed_at_open;
    assert!(replayed > 0 && replayed < whole / 4, "replayed {replayed} of {whole}");
    // Kept blocks from before the checkpoint still read as they were.
    assert_eq!(seen(&db.view_at(36).unwrap()), history);
    assert_ne!(at_checkpoint, model);
    // Commits go on, and a reopen without the checkpoint agrees.
    blocks(&db, &mut model, 44, 46);
    drop(db);
    std::fs::remove_file(dir.path().join(FILE)).unwrap();
    let db = reopened(dir.path(), &model, 45);
    assert!(db.stats().replayed_at_open > db.stats().written_bytes * 9 / 10);
    drop(db);
    // Opened with the whole log to replay and closed at once, the dead
    // records it found perhaps not counted yet: the close leaves a
    // checkpoint of everything, with those records in it to count.
    let small = config().with_checkpoint_bytes(Some(64 << 10));
    drop(AccountsDb::open(dir.path(), small).unwrap());
    let db = reopened(dir.path(), &model, 45);
    assert_eq!(db.stats().replayed_at_open, 0, "the close left a checkpoint of everything");
    drop(db);
    // Counted after the next open (at once: no thread), the live bytes are
    // those the whole log gives.
    let counted = || {
        let no_thread = config()
            .with_checkpoint_bytes(None)
            .with_index_memory_bytes(None)
            .with_compact_in_background(false);
        AccountsDb::open(dir.path(), no_thread).unwrap().stats()
    };
    let from_checkpoint = counted();
    assert_eq!(from_checkpoint.replayed_at_open, 0);
    std::fs::remove_file(dir.path().join(FILE)).unwrap();
    let from_log = counted();
    assert!(from_log.replayed_at_open > from_log.written_bytes * 9 / 10);
    assert!(from_log.live_bytes < from_log.written_bytes / 2, "overwrites left dead records");
    assert_eq!(from_checkpoint.live_bytes, from_log.live_bytes);
}

#[test]
fn test_a_damaged_torn_or_stale_checkpoint_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    blocks(&db, &mut model, 1, 30);
    db.checkpoint().unwrap();
    blocks(&db, &mut model, 30, 33);
    drop(db);
    let path = dir.path().join(FILE);
    let good = std::fs::read(&path).unwrap();
    let whole = {
        let db = reopened(dir.path(), &model, 32);
        assert!(db.stats().replayed_at_open < db.stats().written_bytes / 4);
        db.stats().written_bytes
    };
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x10;
    let cases: [(&str, Vec<u8>); 4] = [
        ("a flipped byte", flipped),
        ("torn", good[..good.len() * 2 / 3].to_vec()),
        ("empty", Vec::new()),
        ("another file", b"LNSIDXCK not a checkpoint".to_vec()),
    ];
    for (what, bytes) in cases {
        std::fs::write(&path, bytes).unwrap();
        let db = reopened(dir.path(), &model, 32);
        assert!(db.stats().replayed_at_open > whole * 9 / 10, "{what}: the whole log replayed");
    }
    // A half-written checkpoint (the process died writing it) is ignored.
    std::fs::write(&path, &good).unwrap();
    std::fs::write(dir.path().join("index.ckpt.tmp"), &good[..100]).unwrap();
    let db = reopened(dir.path(), &model, 32);
    assert!(db.stats().replayed_at_open < whole / 4);
    drop(db);

    // Cut back to block 28 and written again up to past the checkpoint's
    // block: the old checkpoint must not come back.
    AccountsDb::truncate_after(dir.path(), config(), 28).unwrap();
    std::fs::write(&path, &good).unwrap(); // as if the delete had been lost
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    let mut model = contents(&db);
    let other = |block: u64| {
        vec![Entry::Storage(addr(9), slot(1), U256::from(block + 7_000)), code(&[block as u8])]
    };
    for block in 29..40 {
        db.commit(block, B256::with_last_byte(block as u8 ^ 0xff), &other(block)).unwrap();
        apply(&mut model, &other(block));
    }
    drop(db);
    reopened(dir.path(), &model, 39);
}

#[test]
fn test_compaction_after_a_checkpoint_deletes_what_it_points_into() {
    let dir = tempfile::tempdir().unwrap();
    let config = config().with_history_blocks(Some(2)).with_compaction_live_percent(90);
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let mut model = Model::new();
    blocks(&db, &mut model, 1, 30);
    db.checkpoint().unwrap();
    // Overwrite nearly everything, delete some, then compact the old segments.
    for block in 30..60u64 {
        let mut changes: Vec<Entry> = (0..40u8)
            .flat_map(|i| (0..7).map(move |s| (i, s)))
            .filter(|(i, s)| (u64::from(*i) + u64::from(*s)) % 3 != block % 3)
            .map(|(i, s)| Entry::Storage(addr(i), slot(s), U256::from(block)))
            .collect();
        changes.push(Entry::Account(addr(block as u8 % 40), AccountHeader::default()));
        db.commit(block, B256::with_last_byte(block as u8), &changes).unwrap();
        apply(&mut model, &changes);
    }
    let stats = db.compact().unwrap();
    assert!(stats.segments > 0, "{stats:?}");
    drop(db);
    let db = AccountsDb::open(dir.path(), config).unwrap();
    assert!(db.stats().replayed_at_open < db.stats().written_bytes);
    assert_eq!(contents(&db), model);
}

#[test]
fn test_commits_during_a_checkpoint_are_replayed_over_it() {
    let dir = tempfile::tempdir().unwrap();
    let db = Arc::new(AccountsDb::open(dir.path(), config()).unwrap());
    let mut model = Model::new();
    blocks(&db, &mut model, 1, 10);
    let done = Arc::new(AtomicBool::new(false));
    let written = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let checkpoints = {
        let (db, done, written) = (db.clone(), done.clone(), written.clone());
        std::thread::spawn(move || {
            while !done.load(Ordering::Acquire) {
                written.fetch_add(usize::from(db.checkpoint().unwrap()), Ordering::AcqRel);
            }
        })
    };
    // Commits go on until checkpoints were written beside them, however
    // late that thread first runs.
    let mut next = 10;
    while next < 120 || (written.load(Ordering::Acquire) < 2 && next < 100_000) {
        blocks(&db, &mut model, next, next + 1);
        next += 1;
    }
    done.store(true, Ordering::Release);
    checkpoints.join().unwrap();
    assert!(written.load(Ordering::Acquire) >= 2, "{next} blocks");
    drop(Arc::into_inner(db).unwrap());
    reopened(dir.path(), &model, next - 1);
}

#[test]
fn test_a_checkpoint_over_a_torn_log_is_not_used() {
    let dir = tempfile::tempdir().unwrap();
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    let mut model = Model::new();
    blocks(&db, &mut model, 1, 20);
    let before = model.clone();
    blocks(&db, &mut model, 20, 21);
    db.checkpoint().unwrap();
    drop(db);
    // The checkpoint's own commit is torn away (as a lost write would).
    let seg = newest_segment(dir.path());
    let len = used_len(&seg);
    let file = std::fs::OpenOptions::new().write(true).open(&seg).unwrap();
    use std::os::unix::fs::FileExt;
    file.write_all_at(&[0xee; 8], len - 40).unwrap();
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    assert_eq!(contents(&db), before);
    assert_eq!(db.last_commit().map(|c| c.block_number), Some(19));
}

#[test]
fn test_a_damaged_block_fails_its_reads_and_the_next_open_rebuilds() {
    let dir = tempfile::tempdir().unwrap();
    let mut model = Model::new();
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    blocks(&db, &mut model, 1, 30);
    assert!(db.checkpoint().unwrap());
    drop(db);
    // A byte of the first block of pairs (after the 4 KiB first page).
    let path = dir.path().join(FILE);
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[4096 + 200] ^= 0x01;
    std::fs::write(&path, &bytes).unwrap();
    let db = AccountsDb::open(dir.path(), config()).unwrap();
    assert_eq!(db.stats().replayed_at_open, 0, "the damage is not read at open");
    let mut errors = Vec::new();
    db.view().for_each(|_| {}).unwrap_or_else(|e| errors.push(e.to_string()));
    assert_eq!(errors.len(), 1, "a full scan reads every block");
    assert!(errors[0].contains("index.ckpt") && errors[0].contains("checksum"), "{errors:?}");
    assert!(!path.exists() && dir.path().join("index.ckpt.damaged").exists(), "set aside");
    drop(db);
    let db = reopened(dir.path(), &model, 29);
    assert!(db.stats().replayed_at_open > db.stats().written_bytes * 9 / 10);
}

#[test]
fn test_the_index_memory_budget_moves_the_index_to_disk() {
    let dir = tempfile::tempdir().unwrap();
    let budget = 1 << 20;
    let config = small_config()
        .with_segment_size(4 << 20)
        .with_checkpoint_bytes(None)
        .with_index_memory_bytes(Some(budget));
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let mut model = Model::new();
    let keys = 200_000u32;
    for block in 0..20u32 {
        let changes: Vec<Entry> = (block * keys / 20..(block + 1) * keys / 20)
            .map(|i| Entry::Storage(addr(1), B256::from(U256::from(i)), U256::from(i + 1)))
            .collect();
        db.commit(u64::from(block) + 1, B256::ZERO, &changes).unwrap();
        apply(&mut model, &changes);
    }
    let unbounded = u64::from(keys) * 16;
    assert!(unbounded > 3 * budget, "the whole index would not fit the budget");
    // A checkpoint still running holds its frozen tables beside the new
    // ones; once it is done, what is left is under half the budget plus
    // the on-disk part's fences, however the commits and checkpoints
    // interleaved.
    let started = std::time::Instant::now();
    let mut in_memory = db.stats().index_bytes;
    while in_memory as u64 > budget && started.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
        in_memory = db.stats().index_bytes;
    }
    assert!(in_memory as u64 <= budget, "{in_memory} bytes in memory, budget {budget}");
    assert!(dir.path().join(FILE).exists(), "the rest is on disk");
    assert_eq!(contents(&db), model);
    drop(db);
    let db = AccountsDb::open(dir.path(), config).unwrap();
    assert_eq!(contents(&db), model);
    assert_eq!(db.stats().indexed_keys, keys as usize);
}
