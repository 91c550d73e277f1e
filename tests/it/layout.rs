//! The workspace's shape, as the design states it: the two product crates
//! never depend on each other, the banking stage's modules import no
//! cycle through `stage.rs`, and no Rust file outgrows 800 lines.

use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The `[dependencies]`-style lines of a manifest that name a lanes crate.
fn lanes_deps(manifest: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(manifest).unwrap();
    text.lines()
        .map(str::trim)
        .filter(|l| l.starts_with("lanes-") && l.contains('='))
        .map(|l| l.split(['.', ' ', '=']).next().unwrap().to_owned())
        .collect()
}

#[test]
fn test_product_crates_do_not_depend_on_each_other() {
    let node = lanes_deps(&root().join("node/Cargo.toml"));
    let loadgen = lanes_deps(&root().join("loadgen/Cargo.toml"));
    assert!(node.contains(&"lanes-rpc".to_owned()), "{node:?}");
    assert!(loadgen.contains(&"lanes-rpc".to_owned()), "{loadgen:?}");
    assert!(!node.contains(&"lanes-loadgen".to_owned()), "lanes-node depends on lanes-loadgen");
    assert!(!loadgen.contains(&"lanes-node".to_owned()), "lanes-loadgen depends on lanes-node");
}

#[test]
fn test_banking_stage_modules_do_not_import_the_stage() {
    let src = root().join("banking_stage/src");
    let mut importers = Vec::new();
    for file in rust_files(&src) {
        let text = std::fs::read_to_string(&file).unwrap();
        if text.contains("use crate::stage") || text.contains("crate::stage::") {
            importers.push(file.strip_prefix(&src).unwrap().display().to_string());
        }
    }
    assert!(importers.is_empty(), "modules importing stage.rs: {importers:?}");
}

#[test]
fn test_no_rust_file_is_over_800_lines() {
    let mut long = Vec::new();
    for dir in [
        "accounts_db",
        "runtime",
        "evm_adapter",
        "banking_stage",
        "consensus",
        "rpc",
        "node",
        "loadgen",
        "src",
        "tests",
        "benches",
        "fuzz",
    ] {
        for file in rust_files(&root().join(dir)) {
            let lines = std::fs::read_to_string(&file).unwrap().lines().count();
            if lines > 800 {
                long.push(format!("{} ({lines} lines)", file.display()));
            }
        }
    }
    assert!(long.is_empty(), "over 800 lines: {long:?}");
}

fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for entry in entries.flatten() {
            let path = entry.path();
            let name = entry.file_name();
            if path.is_dir() {
                if name != "target" && name != "corpus" && name != "artifacts" {
                    stack.push(path);
                }
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    out
}
