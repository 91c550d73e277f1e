//! The blob sidecars (EIP-4844, EIP-7594) of the blob transactions this
//! node took, kept on disk in the data folder's `blobs/`: one file per
//! transaction holding its sidecar's RLP (`<tx hash>.rlp`), and one per
//! versioned hash naming the transaction that carries the blob
//! (`<versioned hash>.tx`). Blocks hold the transactions' consensus form;
//! the blobs are served from here (`anvil_getBlobsByTransactionHash`,
//! `anvil_getBlobByHash`, the beacon API's `/eth/v1/beacon/blobs`).

use std::io;
use std::path::{Path, PathBuf};

use alloy_eips::eip4844::Blob;
use alloy_eips::eip7594::BlobTransactionSidecarVariant;
use alloy_primitives::B256;
use alloy_rlp::{Decodable, Encodable};
use lanes_runtime::write_atomically;

/// Sidecars on disk, by transaction hash and by versioned hash.
#[derive(Debug)]
pub(crate) struct BlobStore {
    dir: PathBuf,
    /// Held while a sidecar is written: transactions sent at once may
    /// carry the same blob, and so write the same link.
    writing: parking_lot::Mutex<()>,
}

impl BlobStore {
    /// The store in `dir` (made on the first sidecar kept).
    pub(crate) fn new(dir: &Path) -> Self {
        Self { dir: dir.to_path_buf(), writing: parking_lot::Mutex::new(()) }
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

#[cfg(test)]
mod tests {
    use super::*;
    use alloy_eips::eip4844::builder::{SidecarBuilder, SimpleCoder};

    #[test]
    fn a_kept_sidecar_reads_back_by_transaction_and_by_versioned_hash() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(&dir.path().join("blobs"));
        let sidecar: SidecarBuilder<SimpleCoder> = SidecarBuilder::from_slice(b"lanes blobs");
        let sidecar = BlobTransactionSidecarVariant::Eip4844(sidecar.build().unwrap());
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
}
