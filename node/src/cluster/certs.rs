//! The commit certificate of each decided block, on disk: what proves a
//! block was decided, and what this node serves to others catching up.
//!
//! One append-only file of records `LNC1 | height u64 | len u32 | bytes |
//! xxh3 u64` (little-endian). A record is synced before the block it
//! certifies is committed, so every committed block has its certificate; a
//! torn last record (a crash mid-write) is cut at open. A later record for
//! the same height replaces an earlier one.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

const MAGIC: &[u8; 4] = b"LNC1";
const HEADER: usize = 4 + 8 + 4;
/// Largest certificate record (a certificate holds a signature per
/// validator: 64 validators take under 8 KiB).
pub const MAX_CERT_BYTES: usize = 1 << 20;

/// The certificates of decided blocks, by height.
pub struct CertStore {
    path: PathBuf,
    file: File,
    certs: BTreeMap<u64, Vec<u8>>,
}

impl CertStore {
    /// Opens (or creates) the store at `path`, cutting a torn last record.
    pub fn open(path: &Path) -> std::io::Result<Self> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut file = OpenOptions::new().read(true).append(true).create(true).open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut certs = BTreeMap::new();
        let mut at = 0;
        while let Some((height, cert, len)) = record(&bytes[at..]) {
            certs.insert(height, cert.to_vec());
            at += len;
        }
        if at < bytes.len() {
            tracing::warn!(target: "lanes::consensus", path = %path.display(), offset = at, cut = bytes.len() - at, "certificate log: torn or damaged tail cut");
            file.set_len(at as u64)?;
            file.sync_all()?;
        }
        Ok(Self { path: path.into(), file, certs })
    }

    /// The certificate of `height`, encoded.
    pub fn get(&self, height: u64) -> Option<&[u8]> {
        self.certs.get(&height).map(Vec::as_slice)
    }

    /// The lowest height with a certificate.
    pub fn first(&self) -> Option<u64> {
        self.certs.keys().next().copied()
    }

    /// Records `cert` for `height` and syncs it to disk.
    pub fn put(&mut self, height: u64, cert: Vec<u8>) -> std::io::Result<()> {
        if cert.len() > MAX_CERT_BYTES {
            return Err(std::io::Error::other(format!(
                "certificate of {} bytes, more than {MAX_CERT_BYTES}",
                cert.len()
            )));
        }
        let mut rec = Vec::with_capacity(HEADER + cert.len() + 8);
        rec.extend_from_slice(MAGIC);
        rec.extend_from_slice(&height.to_le_bytes());
        rec.extend_from_slice(&(cert.len() as u32).to_le_bytes());
        rec.extend_from_slice(&cert);
        rec.extend_from_slice(&xxhash_rust::xxh3::xxh3_64(&cert).to_le_bytes());
        self.file
            .write_all(&rec)
            .and_then(|()| self.file.sync_data())
            .map_err(|e| std::io::Error::new(e.kind(), format!("{}: {e}", self.path.display())))?;
        self.certs.insert(height, cert);
        Ok(())
    }
}

/// The record at the start of `bytes`: height, certificate and length.
fn record(bytes: &[u8]) -> Option<(u64, &[u8], usize)> {
    if bytes.len() < HEADER || &bytes[..4] != MAGIC {
        return None;
    }
    let height = u64::from_le_bytes(bytes[4..12].try_into().ok()?);
    let len = u32::from_le_bytes(bytes[12..16].try_into().ok()?) as usize;
    if len > MAX_CERT_BYTES || bytes.len() < HEADER + len + 8 {
        return None;
    }
    let cert = &bytes[HEADER..HEADER + len];
    let sum = u64::from_le_bytes(bytes[HEADER + len..HEADER + len + 8].try_into().ok()?);
    (sum == xxhash_rust::xxh3::xxh3_64(cert)).then_some((height, cert, HEADER + len + 8))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn test_certificates_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("certs.log");
        let mut store = CertStore::open(&path).unwrap();
        store.put(1, vec![1; 10]).unwrap();
        store.put(2, vec![2; 20]).unwrap();
        store.put(2, vec![3; 5]).unwrap();
        drop(store);
        // A torn record after them.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"LNC1\x03\0\0\0\0\0\0\0\xff").unwrap();
        drop(f);
        let store = CertStore::open(&path).unwrap();
        assert_eq!(store.get(1), Some(&[1u8; 10][..]));
        assert_eq!(store.get(2), Some(&[3u8; 5][..]), "the later record wins");
        assert_eq!(store.get(3), None);
        assert_eq!(store.first(), Some(1));
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len as usize, 3 * (HEADER + 8) + 10 + 20 + 5, "the torn tail is cut");
    }
}
