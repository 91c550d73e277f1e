//! pevm's side of lanes' `scripts/pevm-compare.sh`: runs one block folder of
//! lanes' fixtures (block.json, pre_state.json, block_hashes.json, each plain
//! or .gz) with `Pevm::execute` at each thread count and with
//! `force_sequential` (pevm's own sequential revm), medians of `runs` runs,
//! and prints one JSON line:
//! `{"block": n, "txs": n, "revm_ms": x, "pevm_ms": {"<threads>": x}, "ok": b}`
//! where `ok` says every run's last cumulative gas equals the header's.
//!
//!   lanes-measure <block folder> <threads,comma,separated> <runs>

use std::{fs::File, io::Read, num::NonZeroUsize, path::Path, sync::Arc, time::Instant};

use alloy_primitives::{Address, B256, Bytes, U256, keccak256};
use alloy_rpc_types_eth::Block;
use pevm::{
    BlockHashes, Bytecodes, ChainState, EvmAccount, EvmCode, InMemoryStorage, Pevm,
    chain::PevmEthereum,
};
use revm::bytecode::Bytecode;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Error = Box<dyn std::error::Error>;

/// The file `name` of `dir`, plain or gzipped.
fn read_json(dir: &Path, name: &str) -> Result<serde_json::Value, Error> {
    let mut text = String::new();
    match File::open(dir.join(name)) {
        Ok(mut file) => file.read_to_string(&mut text)?,
        Err(_) => {
            let file = File::open(dir.join(format!("{name}.gz")))
                .map_err(|e| format!("{}: {name} missing (nor .gz): {e}", dir.display()))?;
            flate2::read::GzDecoder::new(file).read_to_string(&mut text)?
        }
    };
    Ok(serde_json::from_str(&text)?)
}

fn u256(v: &serde_json::Value) -> Result<U256, Error> {
    Ok(match v {
        serde_json::Value::String(s) => s.parse()?,
        serde_json::Value::Number(n) => U256::from(n.as_u64().ok_or("not a u64")?),
        _ => return Err(format!("not a number: {v}").into()),
    })
}

/// The fixtures' accounts (`{"basic": {balance, nonce}, "code": {bytecode,
/// original_len, ..}, "storage", "code_hash"}`) as pevm's, their code
/// analysed again by this revm.
fn load_state(dir: &Path) -> Result<(ChainState, Bytecodes), Error> {
    let pre = read_json(dir, "pre_state.json")?;
    let (mut accounts, mut codes) = (ChainState::default(), Bytecodes::default());
    for (address, account) in pre.as_object().ok_or("pre_state is not an object")? {
        let address: Address = address.parse()?;
        let basic = &account["basic"];
        let mut code_hash = None;
        if let Some(code) = account["code"].as_object() {
            let bytes: Bytes = code["bytecode"].as_str().ok_or("bytecode")?.parse()?;
            let len = u256(&code["original_len"])?.to::<usize>().min(bytes.len());
            let original = bytes.slice(..len);
            if !original.is_empty() {
                let hash = match account["code_hash"].as_str() {
                    Some(h) => h.parse::<B256>()?,
                    None => keccak256(&original),
                };
                codes.insert(hash, EvmCode::from(Bytecode::new_raw(original)));
                code_hash = Some(hash);
            }
        }
        let storage = account["storage"].as_object().into_iter().flatten();
        let storage = storage
            .map(|(slot, value)| Ok((slot.parse::<U256>()?, u256(value)?)))
            .collect::<Result<_, Error>>()?;
        let account = EvmAccount {
            balance: u256(&basic["balance"])?,
            nonce: u256(&basic["nonce"])?.to::<u64>(),
            code_hash,
            code: None,
            storage,
        };
        accounts.insert(address, account);
    }
    Ok((accounts, codes))
}

fn median(mut times: Vec<f64>) -> f64 {
    times.sort_by(f64::total_cmp);
    times[times.len() / 2]
}

fn main() -> Result<(), Error> {
    let args: Vec<String> = std::env::args().collect();
    let [_, dir, threads, runs] = &args[..] else {
        return Err("usage: lanes-measure <block folder> <threads,comma,separated> <runs>".into());
    };
    let dir = Path::new(dir);
    let runs: usize = runs.parse::<usize>()?.max(1);
    let threads: Vec<NonZeroUsize> =
        threads.split(',').map(str::parse).collect::<Result<_, _>>()?;
    let block: Block<alloy_rpc_types_eth::Transaction> =
        serde_json::from_value(read_json(dir, "block.json")?)?;
    let (accounts, codes) = load_state(dir)?;
    let mut hashes = BlockHashes::default();
    if let Ok(list) = read_json(dir, "block_hashes.json") {
        for (number, hash) in list.as_object().into_iter().flatten() {
            hashes.insert(number.parse()?, hash.as_str().ok_or("hash")?.parse()?);
        }
    }
    let storage = InMemoryStorage::new(accounts, Arc::new(codes), Arc::new(hashes));
    let chain = PevmEthereum::mainnet();
    let mut pevm = Pevm::default();
    let header_gas = block.header.gas_used;
    let mut ok = true;
    let mut time = |threads: NonZeroUsize, sequential: bool| -> f64 {
        let times = (0..runs)
            .map(|_| {
                let start = Instant::now();
                let result = pevm.execute(&chain, &storage, &block, threads, sequential);
                let ms = start.elapsed().as_secs_f64() * 1e3;
                let gas = result.ok().and_then(|r| r.last().map(|t| t.receipt.cumulative_gas_used));
                ok &= gas.unwrap_or(0) == header_gas || block.transactions.is_empty();
                ms
            })
            .collect();
        median(times)
    };
    let revm_ms = time(NonZeroUsize::MIN, true);
    let pevm_ms: serde_json::Map<String, serde_json::Value> =
        threads.iter().map(|&t| (t.to_string(), time(t, false).into())).collect();
    let line = serde_json::json!({
        "block": block.header.number,
        "txs": block.transactions.len(),
        "revm_ms": revm_ms,
        "pevm_ms": pevm_ms,
        "ok": ok,
    });
    println!("{line}");
    Ok(())
}
