//! The blob sidecars (EIP-4844, EIP-7594) of the blob transactions this
//! node took, kept on disk in the data folder's `blobs/`: one file per
//! transaction holding its sidecar's RLP (`<tx hash>.rlp`), and one per
//! versioned hash naming the transaction that carries the blob
//! (`<versioned hash>.tx`). Blocks hold the transactions' consensus form;
//! the blobs are served from here (`anvil_getBlobsByTransactionHash`,
//! `anvil_getBlobByHash`, the beacon API's `/eth/v1/beacon/blobs`).
//!
//! A sidecar is kept while its transaction is pending, and for
//! [`BLOB_RETENTION`] (or `--blob-retention`) of chain time after the block
//! that included it; a sidecar whose transaction is neither (refused,
//! dropped, replaced, or reverted out of the chain) goes at the next pass
//! (`NodeState::prune_blobs`, every [`prune_interval`]).

use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

use alloy_eips::eip4844::Blob;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::B256;
use alloy_rlp::{Decodable, Encodable};
use lanes_runtime::write_atomically;

/// How long a sidecar is kept after its block, in chain time: EIP-4844's
/// 4,096 epochs of 32 twelve-second slots (about 18 days), as consensus
/// clients keep blobs.
pub const BLOB_RETENTION: Duration = Duration::from_secs(4096 * 32 * 12);

/// How often the node prunes sidecars: a quarter of the retention, between
/// one second and a minute.
pub(crate) fn prune_interval(retention: Duration) -> Duration {
    (retention / 4).clamp(Duration::from_secs(1), Duration::from_secs(60))
}

/// Sidecars on disk, by transaction hash and by versioned hash.
#[derive(Debug)]
pub(crate) struct BlobStore {
    dir: PathBuf,
    /// How long a sidecar is kept after its block (chain time).
    pub(crate) retention: Duration,
    /// Held while a sidecar is written: transactions sent at once may
    /// carry the same blob, and so write the same link.
    writing: parking_lot::Mutex<()>,
    /// Held (shared) from keeping a sidecar until its transaction is
    /// pooled or refused, and (alone) by a pruning pass: a pass never
    /// takes a sidecar whose transaction is on its way to the pool.
    pub(crate) sending: parking_lot::RwLock<()>,
}

impl BlobStore {
    /// The store in `dir` (made on the first sidecar kept), keeping each
    /// sidecar `retention` after its block.
    pub(crate) fn new(dir: &Path, retention: Duration) -> Self {
        Self {
            dir: dir.to_path_buf(),
            retention,
            writing: parking_lot::Mutex::new(()),
            sending: parking_lot::RwLock::new(()),
        }
    }

    /// The transactions whose sidecars are kept.
    pub(crate) fn kept(&self) -> io::Result<Vec<B256>> {
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(e),
        };
        let mut out = Vec::new();
        for entry in entries {
            let name = entry?.file_name();
            let name = name.to_string_lossy();
            if let Some(hash) = name.strip_suffix(".rlp").and_then(|h| h.parse().ok()) {
                out.push(hash);
            }
        }
        Ok(out)
    }

    /// Removes the sidecar of transaction `tx`, and each link from its
    /// versioned hashes that names `tx` (another transaction may carry the
    /// same blob and own the link).
    pub(crate) fn remove(&self, tx: &B256) -> io::Result<()> {
        let _writing = self.writing.lock();
        let sidecar = match self.sidecar(tx) {
            Ok(sidecar) => sidecar,
            // A damaged sidecar goes too; its links stay (they name a
            // sidecar that no longer is: `blob` answers none).
            Err(e) if e.kind() == io::ErrorKind::InvalidData => None,
            Err(e) => return Err(e),
        };
        for versioned in sidecar.iter().flat_map(|s| s.versioned_hashes()) {
            let path = self.versioned_path(&versioned);
            if std::fs::read(&path).is_ok_and(|named| named == tx.as_slice()) {
                remove_file(&path)?;
            }
        }
        remove_file(&self.tx_path(tx))
    }

    fn tx_path(&self, tx: &B256) -> PathBuf {
        self.dir.join(format!("{tx:x}.rlp"))
    }

    fn versioned_path(&self, versioned: &B256) -> PathBuf {
        self.dir.join(format!("{versioned:x}.tx"))
    }

    /// Keeps `sidecar`, the blobs of transaction `tx`: the sidecar first,
    /// then the links from its versioned hashes, so a link names only a
    /// kept sidecar.
    pub(crate) fn keep(&self, tx: B256, sidecar: &BlobTransactionSidecarVariant) -> io::Result<()> {
        let _writing = self.writing.lock();
        std::fs::create_dir_all(&self.dir)?;
        let mut rlp = Vec::with_capacity(sidecar.length());
        sidecar.encode(&mut rlp);
        write_atomically(&self.tx_path(&tx), &rlp)?;
        for versioned in sidecar.versioned_hashes() {
            write_atomically(&self.versioned_path(&versioned), tx.as_slice())?;
        }
        Ok(())
    }

    /// The sidecar of transaction `tx`; `None` where none was kept. A file
    /// that does not decode is an error naming it.
    pub(crate) fn sidecar(&self, tx: &B256) -> io::Result<Option<BlobTransactionSidecarVariant>> {
        let path = self.tx_path(tx);
        let bytes = match std::fs::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let sidecar =
            BlobTransactionSidecarVariant::decode(&mut bytes.as_slice()).map_err(|e| {
                io::Error::new(io::ErrorKind::InvalidData, format!("{}: {e}", path.display()))
            })?;
        Ok(Some(sidecar))
    }

    /// The blob whose commitment's versioned hash is `versioned`; `None`
    /// where no kept sidecar carries it.
    pub(crate) fn blob(&self, versioned: &B256) -> io::Result<Option<Blob>> {
        let tx = match std::fs::read(self.versioned_path(versioned)) {
            Ok(bytes) if bytes.len() == 32 => B256::from_slice(&bytes),
            Ok(_) => return Ok(None),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        let Some(sidecar) = self.sidecar(&tx)? else { return Ok(None) };
        let at = sidecar.versioned_hashes().position(|v| v == *versioned);
        Ok(at.map(|i| sidecar.blobs()[i]))
    }
}

/// Removes `path`; one already gone is no error.
fn remove_file(path: &Path) -> io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eips::eip4844::builder::{SidecarBuilder, SimpleCoder};

    /// A store in `dir`, and a sidecar of one blob.
    fn store_and_sidecar(dir: &Path) -> (BlobStore, BlobTransactionSidecarVariant) {
        let store = BlobStore::new(&dir.join("blobs"), BLOB_RETENTION);
        let sidecar: SidecarBuilder<SimpleCoder> = SidecarBuilder::from_slice(b"lanes blobs");
        (store, BlobTransactionSidecarVariant::Eip4844(sidecar.build().unwrap()))
    }

    #[test]
    fn a_kept_sidecar_reads_back_by_transaction_and_by_versioned_hash() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sidecar) = store_and_sidecar(dir.path());
        let tx = B256::repeat_byte(7);
        assert_eq!(store.sidecar(&tx).unwrap(), None);
        store.keep(tx, &sidecar).unwrap();
        assert_eq!(store.sidecar(&tx).unwrap().as_ref(), Some(&sidecar));
        let versioned = sidecar.versioned_hashes().next().unwrap();
        assert_eq!(store.blob(&versioned).unwrap(), Some(sidecar.blobs()[0]));
        assert_eq!(store.blob(&B256::repeat_byte(1)).unwrap(), None);
        // A damaged file is an error naming it, not a panic.
        std::fs::write(store.tx_path(&tx), b"\x01\x02").unwrap();
        let err = store.sidecar(&tx).unwrap_err();
        assert!(err.to_string().contains(".rlp"), "{err}");
    }

    /// A removed sidecar goes with its links; another transaction's link to
    /// the same blob stays. (Blobs are 128 KiB: only their presence is
    /// compared, so the test's stack stays small in a debug build.)
    #[test]
    fn a_removed_sidecar_takes_its_own_links_only() {
        let dir = tempfile::tempdir().unwrap();
        let (store, sidecar) = store_and_sidecar(dir.path());
        let versioned = sidecar.versioned_hashes().next().unwrap();
        let (tx, other) = (B256::repeat_byte(7), B256::repeat_byte(8));
        store.keep(tx, &sidecar).unwrap();
        store.keep(other, &sidecar).unwrap();
        assert_eq!(store.kept().unwrap().len(), 2);
        store.remove(&tx).unwrap();
        assert_eq!(store.kept().unwrap(), [other]);
        assert!(store.blob(&versioned).unwrap().is_some(), "other's link");
        store.remove(&other).unwrap();
        assert!(store.kept().unwrap().is_empty());
        assert!(store.blob(&versioned).unwrap().is_none());
    }
}
