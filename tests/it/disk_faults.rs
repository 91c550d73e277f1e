//! Disk trouble: a full disk or a read-only data folder is a clear error at
//! start or at commit, and nothing committed is lost.
//!
//! Two ways to make the trouble real: a file-size limit (`ulimit -f`: the
//! validator handles SIGXFSZ, so a write past it fails with EFBIG as a full
//! disk fails with ENOSPC), which needs no privilege; and a small tmpfs (a full disk,
//! then a read-only remount), which needs `mount` — those tests say they are
//! skipped where it is refused.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use alloy_primitives::{B256, U256};
use lanes_accounts_db::{AccountsDb, AccountsRead};
use serde_json::{Value, json};

use crate::accounts_db::{LOG, block_changes, config};
use crate::validator::{BIN, Validator, free_port};

const DEV_0: &str = "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266";
const DEV_1: &str = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8";

/// `program args…` under a file-size limit of `kib` KiB (the signal a write
/// past it raises, SIGXFSZ, is the program's to handle).
fn size_limited(kib: u64, program: &Path) -> Command {
    let mut c = Command::new("bash");
    c.args(["-c", &format!("ulimit -f {kib}; exec \"$0\" \"$@\"")]).arg(program);
    c
}

/// accounts_db's write path on a disk that fills: the commit that needs a
/// segment the disk has no room for fails with an error naming the file;
/// reopened with room, every acknowledged block is there and commits go on.
#[test]
fn test_accounts_db_on_a_full_disk_refuses_the_commit_and_keeps_the_rest()
-> Result<(), Box<dyn std::error::Error>> {
    let Some(disk) = SmallDisk::mount(4) else { return Ok(()) };
    let dir = disk.at.join("accounts");
    let db = AccountsDb::open(&dir, config())?;
    for block in 1..=5 {
        db.commit(block, B256::from(U256::from(block)), &block_changes(block))?;
    }
    let filler = disk.fill();
    let mut acknowledged = 5;
    let failure = loop {
        let block = acknowledged + 1;
        match db.commit(block, B256::from(U256::from(block)), &block_changes(block)) {
            Ok(_) => acknowledged = block,
            Err(e) => break e.to_string(),
        }
        assert!(acknowledged < 100_000, "a commit fails once the disk is full");
    };
    assert!(failure.contains("0000000002.seg") && failure.contains("disk full"), "{failure}");
    drop(db);

    std::fs::remove_file(filler)?;
    let db = AccountsDb::open(&dir, config())?;
    let last = db.last_commit().map_or(0, |c| c.block_number);
    assert_eq!(last, acknowledged, "the failed commit is not there, every other one is");
    for block in 1..=last {
        let slot = B256::from(U256::from(block));
        assert_eq!(db.get_storage(&LOG, &slot)?, U256::from(block), "block {block}");
    }
    db.commit(last + 1, B256::from(U256::from(last + 1)), &block_changes(last + 1))?;
    Ok(())
}

/// The validator on a disk too small for its state: a clear error at start,
/// naming the file.
#[test]
fn test_a_validator_on_a_full_disk_says_so_at_start() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let out = size_limited(1024, Path::new(BIN))
        .args(["--dev", "--data-dir", data.to_str().unwrap()])
        .args(["--rpc-addr", &format!("127.0.0.1:{}", free_port())])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: ") && last.contains("File too large"), "{stderr}");
    assert!(last.contains(&data.display().to_string()), "names the file: {last}");
}

/// A tmpfs of `mib` MiB mounted on a fresh folder, unmounted on drop; `None`
/// (the caller skips) where mounting is not allowed.
struct SmallDisk {
    at: PathBuf,
    _dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(mib: u64) -> Option<Self> {
        let dir = tempfile::tempdir().ok()?;
        let at = dir.path().join("disk");
        std::fs::create_dir(&at).ok()?;
        let size = format!("size={mib}m");
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &size, "tmpfs"])
            .arg(&at)
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !mounted {
            eprintln!("skipped: mounting a tmpfs is not allowed here (needs root)");
            return None;
        }
        Some(Self { at, _dir: dir })
    }

    fn remount(&self, options: &str) {
        let status = Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.at)
            .status()
            .unwrap();
        assert!(status.success(), "remount {options}");
    }

    /// Fills what is left with a file; returns it.
    fn fill(&self) -> PathBuf {
        let filler = self.at.join("filler");
        let _ = Command::new("dd")
            .args(["if=/dev/zero", &format!("of={}", filler.display()), "bs=4k"])
            .stderr(Stdio::null())
            .status();
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.at).status();
    }
}

fn send(v: &Validator) -> Option<Value> {
    let tx = json!([{"from": DEV_0, "to": DEV_1, "value": "0x1"}]);
    let answer = v.try_call("eth_sendTransaction", tx)?;
    answer.get("result").cloned()
}

/// The validator on a disk that fills while it runs: the block it cannot
/// persist stops production with an error naming the file (the process
/// exits 1); every receipt served before is there after a restart with
/// room, in the same block, and the chain goes on.
#[test]
fn test_a_disk_that_fills_stops_production_and_loses_no_receipt() {
    let Some(disk) = SmallDisk::mount(72) else { return };
    let data = disk.at.join("data");
    let mut v = Validator::start(&data, &["--dev"]);
    let mut served = Vec::new();
    for _ in 0..3 {
        let hash = send(&v).expect("a send while there is room");
        served.push(v.result("eth_getTransactionReceipt", json!([hash])));
    }
    let filler = disk.fill();
    // Sends until a block cannot be written: answered ones are kept.
    for _ in 0..1000 {
        let Some(hash) = send(&v) else { break };
        let receipt = v.try_call("eth_getTransactionReceipt", json!([hash]));
        match receipt.map(|r| r["result"].clone()) {
            Some(r) if !r.is_null() => served.push(r),
            _ => break,
        }
    }
    let (status, log) = v.wait_exit(Duration::from_secs(30));
    assert_eq!(status.code(), Some(1), "{log}");
    let last = log.lines().last().unwrap_or_default();
    assert!(last.starts_with("error: block production stopped"), "{log}");
    assert!(last.contains("No space left on device") && last.contains("blocks.log"), "{last}");

    std::fs::remove_file(filler).unwrap();
    let v = Validator::start_at(&data, v.addr, &["--dev"]);
    for receipt in &served {
        let now = v.result("eth_getTransactionReceipt", json!([receipt["transactionHash"]]));
        assert_eq!(now["blockHash"], receipt["blockHash"], "{receipt}");
        assert_eq!(now["blockNumber"], receipt["blockNumber"], "{receipt}");
    }
    let hash = send(&v).expect("a send after the restart");
    assert!(!v.result("eth_getTransactionReceipt", json!([hash])).is_null());
    v.stop();
}

/// A read-only data folder: a clear error at start naming the file, and the
/// chain is whole once it is writable again.
#[test]
fn test_a_read_only_data_folder_is_a_clear_error_at_start() {
    let Some(disk) = SmallDisk::mount(80) else { return };
    let data = disk.at.join("data");
    let v = Validator::start(&data, &["--dev"]);
    let hash = send(&v).expect("a send");
    let receipt = v.result("eth_getTransactionReceipt", json!([hash]));
    let addr = v.addr;
    v.stop();

    disk.remount("ro");
    let out = Command::new(BIN)
        .args(["--dev", "--data-dir", data.to_str().unwrap(), "--rpc-addr", &addr.to_string()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    let last = stderr.lines().last().unwrap_or_default();
    assert!(
        last.contains("Read-only file system") && last.contains(&data.display().to_string()),
        "{stderr}"
    );

    disk.remount("rw");
    let v = Validator::start_at(&data, addr, &["--dev"]);
    let now = v.result("eth_getTransactionReceipt", json!([hash]));
    assert_eq!(now["blockHash"], receipt["blockHash"]);
    v.stop();
}
