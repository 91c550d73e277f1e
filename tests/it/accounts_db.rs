//! accounts_db under `kill -9`: a child process commits in a loop and prints
//! each block number once `commit` has returned; the parent kills it at random
//! moments, reopens the store and finds every printed commit.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::{AccountHeader, AccountsDb, AccountsDbConfig, AccountsRead, Entry};
use rand::{Rng, SeedableRng};

const CHILD_DIR: &str = "LANES_TEST_CHILD_DIR";
/// The contract each block writes its number to (also `disk_faults`').
pub(crate) const LOG: Address = Address::repeat_byte(0xaa);

pub(crate) fn config() -> AccountsDbConfig {
    // Small segments and checkpoints every few commits, so the kills also
    // land on segment creation and on checkpoints being written.
    AccountsDbConfig::default().with_segment_size(64 << 10).with_checkpoint_bytes(Some(16 << 10))
}

/// Block `block`'s writes: twenty accounts and its number at `LOG`.
pub(crate) fn block_changes(block: u64) -> Vec<Entry> {
    let mut changes: Vec<Entry> = (0..20u64)
        .map(|i| {
            let who = Address::with_last_byte(((block * 7 + i) % 200) as u8);
            Entry::Account(
                who,
                AccountHeader { nonce: block, balance: U256::from(i + 1), ..Default::default() },
            )
        })
        .collect();
    changes.push(Entry::Storage(LOG, B256::from(U256::from(block)), U256::from(block)));
    changes
}

/// The child: not a test of its own (ignored); the parent runs it by name.
#[test]
#[ignore = "run by test_kill_9_keeps_every_acknowledged_commit as a child process"]
fn child_commit_loop() {
    let Ok(dir) = std::env::var(CHILD_DIR) else { return };
    let db = AccountsDb::open(&dir, config()).expect("child open");
    let mut block = db.last_commit().map_or(1, |c| c.block_number + 1);
    loop {
        db.commit(block, B256::from(U256::from(block)), &block_changes(block)).expect("commit");
        println!("committed {block}");
        block += 1;
    }
}

#[test]
fn test_kill_9_keeps_every_acknowledged_commit() -> Result<(), Box<dyn std::error::Error>> {
    let dir = tempfile::tempdir()?;
    let exe = std::env::current_exe()?;
    let mut rng = rand::rngs::StdRng::seed_from_u64(0x1a2e5);
    let mut acknowledged = 0u64;
    for round in 0..6 {
        let mut child = Command::new(&exe)
            .args(["--ignored", "--exact", "accounts_db::child_commit_loop", "--nocapture"])
            .env(CHILD_DIR, dir.path())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()?;
        let stdout = child.stdout.take().expect("piped");
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .filter_map(|l| l.strip_prefix("committed ").and_then(|n| n.parse::<u64>().ok()))
                .max()
        });
        std::thread::sleep(Duration::from_millis(rng.random_range(150..600)));
        child.kill()?; // SIGKILL
        child.wait()?;
        if let Some(max) = reader.join().expect("reader thread") {
            assert!(max >= acknowledged, "round {round}: blocks go on from the last one");
            acknowledged = max;
        }

        let db = AccountsDb::open(dir.path(), config())?;
        let last = db.last_commit().map_or(0, |c| c.block_number);
        assert!(
            last >= acknowledged,
            "round {round}: printed block {acknowledged} lost (last {last})"
        );
        // Every block up to the recovered one is there, none half.
        for block in 1..=last {
            let slot = B256::from(U256::from(block));
            assert_eq!(db.get_storage(&LOG, &slot)?, U256::from(block), "block {block}");
        }
        // The last block is whole: every account it wrote has its value.
        for change in block_changes(last).into_iter().filter(|_| last > 0) {
            if let Entry::Account(who, header) = change {
                assert_eq!(db.get_account(&who)?, Some(header), "block {last} is whole");
            }
        }
        drop(db);
    }
    assert!(acknowledged > 0, "the child committed something");
    Ok(())
}
