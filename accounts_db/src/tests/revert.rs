//! [`AccountsDb::revert_to`]: going back to a kept block in place.

use super::*;

/// `revert_to` takes an open database back to a kept block in place: the
/// state and the history are the block's, commits go on from it, the
/// changes it names are exactly the keys that differ, views held before it
/// keep their state, a reopen (with or without compaction between) finds
/// the reverted state, and a block the history dropped is refused.
#[test]
fn test_revert_to_goes_back_in_place_and_survives_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let config = small_config();
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    let mut model = Model::new();
    let mut states = vec![Model::new()];
    let blocks =
        |db: &AccountsDb, from: u64, to: u64, model: &mut Model, states: &mut Vec<Model>| {
            for block in from..=to {
                let i = (block % 20) as u8;
                let mut changes = vec![
                    Entry::Account(addr(i), account(block, 1)),
                    Entry::Storage(addr(i), slot(i), U256::from(block)),
                    Entry::Storage(addr(99), slot(0), U256::from(block)),
                ];
                // A key made after the revert's block and a key deleted.
                if block == 45 {
                    changes.push(Entry::Storage(addr(200), slot(1), U256::from(9)));
                    changes.push(Entry::Storage(addr(1), slot(1), U256::ZERO));
                }
                db.commit(block, B256::with_last_byte(block as u8), &changes).unwrap();
                apply(model, &changes);
                states.truncate(block as usize);
                states.push(model.clone());
            }
        };
    blocks(&db, 1, 60, &mut model, &mut states);
    let held = db.view();
    let reverted = db.revert_to(40).unwrap();
    assert_eq!(reverted.info.block_number, 40);
    assert_eq!(reverted.info.commitment, B256::with_last_byte(40));
    assert_eq!(contents(&db), states[40]);
    assert_eq!(seen(&held), states[60], "a view held before the revert keeps its state");
    drop(held);
    // Exactly the keys that differ, each as it was and as it is now.
    let (old, new) = (&states[40], &states[60]);
    let keys: std::collections::BTreeSet<&Key> = old.keys().chain(new.keys()).collect();
    let expected = keys.into_iter().filter(|k| old.get(k) != new.get(k)).count();
    assert_eq!(reverted.changes.len(), expected);
    for (before, after) in &reverted.changes {
        assert_eq!(before.key(), after.key());
        assert_ne!(before, after);
    }
    assert_eq!(db.last_commit(), Some(reverted.info));
    assert_eq!(db.view().history_range(), Some((1, 40)));
    assert!(matches!(db.view_at(41), Err(HistoryError::Ahead { block: 41, newest: 40 })));
    assert!(matches!(db.commit(40, B256::ZERO, &[]), Err(CommitError::NotIncreasing { .. })));
    model = states[40].clone();
    states.truncate(41);
    blocks(&db, 41, 50, &mut model, &mut states);
    assert_eq!(seen(&db.view_at(40).unwrap()), states[40]);
    // Twice, the second time to a block before the first.
    db.revert_to(45).unwrap();
    db.revert_to(30).unwrap();
    assert_eq!(contents(&db), states[30]);
    model = states[30].clone();
    states.truncate(31);
    blocks(&db, 31, 35, &mut model, &mut states);
    drop(db);
    let db = AccountsDb::open(dir.path(), config.clone()).unwrap();
    assert_eq!(db.last_commit().map(|c| c.block_number), Some(35));
    assert_eq!(contents(&db), states[35]);
    for block in [10, 30, 33] {
        assert_eq!(seen(&db.view_at(block).unwrap()), states[block as usize], "block {block}");
    }
    db.compact().unwrap();
    assert_eq!(contents(&db), states[35]);
    drop(db);
    let db = AccountsDb::open(dir.path(), config.clone().with_history_blocks(Some(5))).unwrap();
    assert_eq!(contents(&db), states[35]);
    assert!(matches!(db.revert_to(20), Err(CommitError::History(HistoryError::Pruned { .. }))));
    assert_eq!(contents(&db), states[35], "a refused revert changes nothing");
}
