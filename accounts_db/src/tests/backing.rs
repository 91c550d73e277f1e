//! A database with a backing: what it reads from it, and what it never asks.

use super::*;

/// A backing that answers every key with a value of its own and counts
/// what it was asked.
#[derive(Debug, Default)]
struct Upstream {
    asked: std::sync::Mutex<Vec<Key>>,
    fail: AtomicBool,
}

impl crate::Backing for Upstream {
    fn account(&self, address: &Address) -> Result<Option<AccountHeader>, StorageError> {
        if self.fail.load(Ordering::Relaxed) {
            return Err(StorageError::Backing("upstream down".into()));
        }
        self.asked.lock().unwrap().push(Key::Account(*address));
        Ok(Some(account(77, 7)))
    }
    fn storage(&self, address: &Address, slot: &B256) -> Result<U256, StorageError> {
        self.asked.lock().unwrap().push(Key::Storage(*address, *slot));
        Ok(U256::from(99))
    }
    fn code(&self, hash: &B256) -> Result<Option<Bytes>, StorageError> {
        self.asked.lock().unwrap().push(Key::Code(*hash));
        Ok(None)
    }
}

/// A key the database never held reads its backing, at every version; one
/// written reads the write from its block on (before it, the backing); one
/// deleted stays deleted, through compaction and a reopen; a backing's
/// failure is named and not fatal.
#[test]
fn test_keys_never_held_read_the_backing_and_deletions_stay_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config().with_history_blocks(Some(1000));
    let open = || {
        let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
        let upstream = Arc::new(Upstream::default());
        db.set_backing(upstream.clone()).unwrap();
        (db, upstream)
    };
    let (db, upstream) = open();
    db.commit(0, B256::ZERO, &[]).unwrap();
    assert_eq!(db.get_account(&addr(1)).unwrap(), Some(account(77, 7)));
    assert_eq!(db.get_storage(&addr(1), &slot(2)).unwrap(), U256::from(99));
    db.commit(1, B256::ZERO, &[Entry::Account(addr(1), account(1, 1))]).unwrap();
    db.commit(2, B256::ZERO, &[Entry::Account(addr(2), Default::default())]).unwrap();
    for block in 3..300u64 {
        let changes = [Entry::Storage(addr(3), slot(1), U256::from(block))];
        db.commit(block, B256::ZERO, &changes).unwrap();
    }
    let at = |n| db.view().at_block(n).unwrap();
    assert_eq!(db.get_account(&addr(1)).unwrap(), Some(account(1, 1)), "the local write wins");
    assert_eq!(at(0).get_account(&addr(1)).unwrap(), Some(account(77, 7)), "before it, upstream's");
    assert_eq!(db.get_account(&addr(2)).unwrap(), None, "deleted locally");
    assert_eq!(at(1).get_account(&addr(2)).unwrap(), Some(account(77, 7)));
    db.compact().unwrap();
    assert_eq!(db.get_account(&addr(2)).unwrap(), None, "still deleted after compaction");
    upstream.fail.store(true, Ordering::Relaxed);
    let e = db.get_account(&addr(9)).unwrap_err();
    assert!(!e.is_fatal() && e.to_string().contains("upstream down"), "{e}");
    assert_eq!(
        db.get_account(&addr(1)).unwrap(),
        Some(account(1, 1)),
        "held keys need no upstream"
    );
    drop(db);
    let (db, upstream) = open();
    assert_eq!(db.get_account(&addr(2)).unwrap(), None, "and after a reopen");
    assert!(upstream.asked.lock().unwrap().is_empty(), "a held or deleted key never asks");
    assert!(db.set_backing(upstream).is_err(), "set once");
}
