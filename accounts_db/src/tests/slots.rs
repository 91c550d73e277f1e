//! [`AccountsDbConfig::slot_index`]: each address's slots, kept by commits
//! and reverts, rebuilt at open, answered only for the newest commit.

use super::*;

/// The index's slots of `address` in `view`, sorted.
fn held(view: &ReadView, address: &Address) -> Option<Vec<B256>> {
    view.slots_of(address).map(|mut slots| {
        slots.sort_unstable();
        slots
    })
}

#[test]
fn test_the_slot_index_follows_commits_reverts_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config().with_slot_index(true);
    let (a, b) = (addr(1), addr(2));
    {
        let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
        assert_eq!(held(&db.view(), &a), Some(vec![]), "nothing before the first commit");
        db.commit(
            1,
            B256::with_last_byte(1),
            &[
                Entry::Storage(a, slot(1), U256::from(1)),
                Entry::Storage(a, slot(2), U256::from(2)),
                Entry::Storage(b, slot(1), U256::from(3)),
            ],
        )
        .unwrap();
        let first = db.view();
        db.commit(
            2,
            B256::with_last_byte(2),
            &[
                Entry::Storage(a, slot(1), U256::ZERO),
                Entry::Storage(a, slot(3), U256::from(4)),
                Entry::Storage(b, slot(1), U256::ZERO),
            ],
        )
        .unwrap();
        let view = db.view();
        assert_eq!(held(&view, &a), Some(vec![slot(2), slot(3)]));
        assert_eq!(view.holds_storage(&b), Some(false), "its one slot deleted");
        assert_eq!(held(&first, &a), None, "an older commit's view is not answered");
        db.revert_to(1).unwrap();
        let view = db.view();
        assert_eq!(held(&view, &a), Some(vec![slot(1), slot(2)]), "back with the revert");
        assert_eq!(view.holds_storage(&b), Some(true));
        db.commit(2, B256::with_last_byte(3), &[Entry::Storage(b, slot(5), U256::from(5))])
            .unwrap();
    }
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let view = db.view();
    assert_eq!(held(&view, &a), Some(vec![slot(1), slot(2)]), "rebuilt at open");
    assert_eq!(held(&view, &b), Some(vec![slot(1), slot(5)]));
    drop((view, db));
    let db = AccountsDb::open(dir.path(), small_config()).unwrap();
    assert_eq!(db.view().slots_of(&a), None, "not kept unless asked for");
}
