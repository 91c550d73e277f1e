//! `lanes-validator`'s subcommands: `import`, `execute-block`, `init` and
//! `testnet`, each a call into the library.

use std::path::{Path, PathBuf};

use lanes_eth::genesis;

use super::args::Command;
use crate::cluster::config::{NODES_FILE, TestnetSpec, TimeoutsFile, write_testnet};
use crate::execute_block::ExecuteOptions;
use crate::import::ImportOptions;

type Res = Result<(), Box<dyn std::error::Error>>;

/// Runs `command`.
pub(super) fn run(command: Command) -> Res {
    match command {
        Command::Import {
            genesis,
            data_dir,
            workers,
            no_fsync,
            history_blocks,
            index_memory,
            files,
        } => {
            let options = ImportOptions {
                workers: workers.unwrap_or(ImportOptions::default().workers),
                fsync: !no_fsync,
                history_blocks: history_blocks.0,
                index_memory_bytes: index_memory.0,
                ..Default::default()
            };
            Ok(crate::import::import_files(&data_dir, genesis.as_deref(), &options, &files)?)
        }
        Command::ExecuteBlock { dir, workers, runs, json, no_access_list } => {
            let declared = !no_access_list;
            let options = ExecuteOptions { workers, runs, declared, ..Default::default() };
            let run = crate::execute_block::execute(&dir, &options)?;
            if json {
                println!("{}", run.json());
            } else {
                println!("{}", run.line());
            }
            if !run.ok() {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Init { out, chain_id, force } => init(&out, chain_id, force),
        Command::Testnet {
            validators,
            replicas,
            out,
            base_port,
            hosts,
            block_time,
            block_gather,
            timeout_propose,
            genesis,
        } => {
            let spec = TestnetSpec {
                validators,
                replicas,
                out: out.clone(),
                base_port,
                hosts,
                block_time,
                block_gather,
                timeouts: TimeoutsFile { propose: timeout_propose, ..TimeoutsFile::default() },
                unlock_dev_accounts: genesis.is_none(),
                genesis: testnet_genesis(genesis)?,
            };
            let nodes = write_testnet(&spec)?;
            for node in &nodes.nodes {
                println!(
                    "{} ({:?}): lanes-validator --config {}/{}  rpc {}",
                    node.name,
                    node.role,
                    out.display(),
                    node.config,
                    node.rpc
                );
            }
            println!("wrote {}", out.join(NODES_FILE).display());
            Ok(())
        }
    }
}

/// `init`: writes the dev genesis under `chain_id` to `out`.
fn init(out: &Path, chain_id: u64, force: bool) -> Res {
    if out.exists() && !force {
        return Err(format!("{} exists; pass --force to overwrite it", out.display()).into());
    }
    let mut g = genesis::dev_genesis();
    g.config.chain_id = chain_id;
    std::fs::write(out, serde_json::to_vec_pretty(&g)?)
        .map_err(|e| format!("writing {}: {e}", out.display()))?;
    println!("wrote {} (chain id {chain_id}, {} funded accounts)", out.display(), g.alloc.len());
    Ok(())
}

/// A testnet's genesis: the file given, or the dev genesis.
fn testnet_genesis(
    file: Option<PathBuf>,
) -> Result<alloy_genesis::Genesis, Box<dyn std::error::Error>> {
    let Some(path) = file else { return Ok(genesis::dev_genesis()) };
    let bytes = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(serde_json::from_slice(&bytes).map_err(|e| format!("{}: {e}", path.display()))?)
}
