//! [`write_atomically`]: replace a small file whole or not at all, durably.

use std::ffi::OsString;
use std::fs::{self, File};
use std::io::{self, Write};
use std::path::Path;

/// Replaces the file at `path` with `bytes`, so that after a crash it holds
/// either its old contents or all of `bytes`: writes them to `path` with
/// `.tmp` appended to its name, fsyncs that file, renames it over `path`,
/// then fsyncs the directory so the rename itself survives a crash. A
/// `.tmp` file left by an earlier crash is overwritten.
///
/// For small files rewritten now and then (a chain's head file, a node's
/// stored genesis); each call costs a create, a rename and two fsyncs.
pub fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let mut tmp_name = OsString::from(path.file_name().ok_or_else(|| {
        io::Error::new(io::ErrorKind::InvalidInput, "write_atomically needs a file path")
    })?);
    tmp_name.push(".tmp");
    let tmp = path.with_file_name(tmp_name);
    let mut f = File::create(&tmp)?;
    f.write_all(bytes)?;
    f.sync_all()?;
    drop(f);
    fs::rename(&tmp, path)?;
    // `Path::parent` of a bare file name is "", which names no directory.
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    File::open(dir)?.sync_all()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replaces_the_file_and_leaves_no_temporary() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("head.bin");
        write_atomically(&path, b"first").unwrap();
        write_atomically(&path, b"second").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        let names: Vec<_> =
            fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, ["head.bin"]);
    }

    #[test]
    fn a_stale_temporary_is_overwritten() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis.json");
        fs::write(dir.path().join("genesis.json.tmp"), b"left by a crash, and longer").unwrap();
        write_atomically(&path, b"{}").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"{}");
        assert!(!dir.path().join("genesis.json.tmp").exists());
    }

    #[test]
    fn a_path_without_a_file_name_is_refused() {
        let err = write_atomically(Path::new("/"), b"x").unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::InvalidInput);
    }
}
