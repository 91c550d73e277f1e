//! The spare segment: made by the database's own thread before the writer
//! needs it; one a crash leaves opens as an empty newest segment; a clean
//! close leaves none.

use std::time::{Duration, Instant};

use super::*;

/// Commits block `block` (40 storage slots) into `db` and `model`.
fn commit(db: &AccountsDb, model: &mut Model, block: u64) {
    let changes: Vec<Entry> = (0..40u64)
        .map(|i| {
            Entry::Storage(addr(1), B256::from(U256::from(block * 100 + i)), U256::from(block))
        })
        .collect();
    db.commit(block, B256::from(U256::from(block)), &changes).unwrap();
    apply(model, &changes);
}

/// Commits until the writer has asked for the next segment, then waits for
/// it: a segment file the segment table does not hold yet.
fn commit_until_spare(db: &AccountsDb, dir: &Path, model: &mut Model, block: &mut u64) -> PathBuf {
    while segment_files(dir).len() == db.stats().segments {
        *block += 1;
        commit(db, model, *block);
        assert!(*block < 10_000, "the writer never asked for a spare");
    }
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let files = segment_files(dir);
        if files.len() == db.stats().segments + 1 {
            return files.last().unwrap().clone();
        }
        assert!(Instant::now() < deadline, "no spare segment made: {files:?}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn test_the_spare_segment_is_taken_next_and_a_crash_image_with_it_opens() {
    let dir = tempfile::tempdir().unwrap();
    let crashed = tempfile::tempdir().unwrap();
    let db = open(dir.path());
    let mut model = Model::new();
    let mut block = 0;
    // Past half of the active segment the writer asks for the next one.
    let spare = commit_until_spare(&db, dir.path(), &mut model, &mut block);

    // A crash now leaves the spare: it opens as an empty newest segment.
    copy_dir(dir.path(), crashed.path());
    let at_crash = (db.last_commit(), model.clone());

    // The writer moves into the spare, not into a segment of its own.
    let before = db.stats().segments;
    while db.stats().segments == before {
        block += 1;
        commit(&db, &mut model, block);
    }
    // The database's thread may already have made the next spare (the
    // writer asks for it past half of the active segment): the newest
    // segment of the table is the spare, and at most that next one is
    // newer.
    let (files, segments) = (segment_files(dir.path()), db.stats().segments);
    assert_eq!(files[segments - 1], spare, "the spare became the active segment: {files:?}");
    assert!(files.len() <= segments + 1, "no segment made beside it: {files:?}");
    assert_eq!(contents(&db), model);

    {
        let image = open(crashed.path());
        assert_eq!((image.last_commit(), contents(&image)), at_crash);
        let info = image.commit(
            at_crash.0.unwrap().block_number + 1,
            B256::ZERO,
            &[Entry::Account(addr(9), account(1, 1))],
        );
        assert!(info.is_ok(), "commits go on in the crash image: {info:?}");
    }
    let image = open(crashed.path());
    assert_eq!(image.get_account(&addr(9)).unwrap(), Some(account(1, 1)));

    // A clean close leaves no spare behind.
    commit_until_spare(&db, dir.path(), &mut model, &mut block);
    drop(db);
    let db = open(dir.path());
    assert_eq!(
        segment_files(dir.path()).len(),
        db.stats().segments,
        "no spare after a clean close"
    );
    assert_eq!(contents(&db), model);
}
