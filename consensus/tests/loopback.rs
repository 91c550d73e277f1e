//! Four validator engines in one process decide the same blocks; a full
//! node started late catches up through sync. Each listens on a loopback
//! address of its own (127.0.0.2, 127.0.0.3, …), as on separate hosts: an
//! engine listens where its settings say, not on 127.0.0.1.

mod common;

use std::collections::{BTreeMap, HashMap};
use std::net::{SocketAddr, TcpListener};
use std::time::Duration;

use alloy_primitives::B256;
use tokio::sync::mpsc;

use common::{App, DecidedEvent};
use lanes_consensus::{
    AppDriver, EngineHandle, EngineSettings, PrivateKey, Role, Timeouts, Validator, ValidatorSet,
    generate_private_key, start_engine,
};

/// A free port on loopback address 127.0.0.`host`.
fn free_addr(host: u8) -> SocketAddr {
    TcpListener::bind(SocketAddr::from(([127, 0, 0, host], 0)))
        .and_then(|l| l.local_addr())
        .expect("a free port")
}

struct Net {
    _homes: Vec<tempfile::TempDir>,
    handles: Vec<EngineHandle>,
    addrs: Vec<SocketAddr>,
    validators: ValidatorSet,
    events: mpsc::UnboundedReceiver<DecidedEvent>,
    tx: mpsc::UnboundedSender<DecidedEvent>,
}

fn timeouts() -> Timeouts {
    Timeouts {
        propose: Duration::from_secs(3),
        prevote: Duration::from_secs(1),
        precommit: Duration::from_secs(1),
        commit: Duration::ZERO,
        rebroadcast: Duration::from_secs(3),
    }
}

async fn start_node(net: &mut Net, key: PrivateKey, moniker: String, role: Role, at: SocketAddr) {
    let home = tempfile::tempdir().expect("tempdir");
    let peers: Vec<SocketAddr> = net.addrs.iter().filter(|a| **a != at).copied().collect();
    let mut settings = EngineSettings::new(
        home.path().to_path_buf(),
        moniker.clone(),
        key.clone(),
        at,
        peers,
        net.validators.clone(),
        role,
    );
    settings.timeouts = timeouts();
    let params = settings.height_params();
    let (channels, handle) = start_engine(settings).await.expect("engine starts");
    let app = App {
        moniker: moniker.clone(),
        block_size: 200 * 1024,
        blocks: HashMap::new(),
        decided: BTreeMap::new(),
        events: net.tx.clone(),
    };
    let driver = AppDriver::new(app, moniker, key, net.validators.clone(), params);
    tokio::spawn(driver.run(channels));
    net._homes.push(home);
    net.handles.push(handle);
}

async fn start_validators(n: usize) -> (Net, Vec<PrivateKey>) {
    let keys: Vec<PrivateKey> = (0..n).map(|_| generate_private_key()).collect();
    let validators =
        ValidatorSet::new(keys.iter().map(|k| Validator::new(k.public_key(), 1)).collect());
    let (tx, events) = mpsc::unbounded_channel();
    let mut net = Net {
        _homes: Vec::new(),
        handles: Vec::new(),
        addrs: (0..n).map(|i| free_addr(2 + i as u8)).collect(),
        validators,
        events,
        tx,
    };
    for (i, key) in keys.iter().enumerate() {
        let at = net.addrs[i];
        start_node(&mut net, key.clone(), format!("val-{i}"), Role::Validator, at).await;
    }
    (net, keys)
}

/// Waits until every moniker in `who` decided every height in `1..=upto`;
/// returns the decided ids per height and moniker.
async fn wait_decided(
    net: &mut Net,
    who: &[String],
    upto: u64,
    timeout: Duration,
    seen: &mut BTreeMap<u64, HashMap<String, B256>>,
) {
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let done =
            (1..=upto).all(|h| seen.get(&h).is_some_and(|m| who.iter().all(|w| m.contains_key(w))));
        if done {
            return;
        }
        match tokio::time::timeout_at(deadline, net.events.recv()).await {
            Ok(Some(e)) => {
                let prev = seen.entry(e.height).or_default().insert(e.moniker.clone(), e.value_id);
                assert!(
                    prev.is_none() || prev == Some(e.value_id),
                    "{} decided twice differently at {}",
                    e.moniker,
                    e.height
                );
            }
            Ok(None) => panic!("event channel closed"),
            Err(_) => panic!("timed out; decided so far: {seen:?}"),
        }
    }
}

fn stop(net: &Net) {
    for h in &net.handles {
        h.actor.stop(None);
        h.handle.abort();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn four_validators_decide_and_full_node_syncs() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();

    let (mut net, _keys) = start_validators(4).await;
    let vals: Vec<String> = (0..4).map(|i| format!("val-{i}")).collect();
    let mut seen = BTreeMap::new();
    wait_decided(&mut net, &vals, 5, Duration::from_secs(90), &mut seen).await;

    for h in 1..=5u64 {
        let ids = &seen[&h];
        let first = ids[&vals[0]];
        assert_ne!(first, B256::ZERO);
        for v in &vals {
            assert_eq!(ids[v], first, "{v} decided a different value at height {h}");
        }
    }
    // Distinct blocks per height (the proposer builds a new random block).
    let distinct: std::collections::HashSet<_> = (1..=5u64).map(|h| seen[&h][&vals[0]]).collect();
    assert_eq!(distinct.len(), 5);

    // Each listened on its own address, and only there.
    for at in &net.addrs {
        assert!(std::net::TcpStream::connect(at).is_ok(), "nothing on {at}");
        let elsewhere = SocketAddr::from(([127, 0, 0, 1], at.port()));
        assert!(std::net::TcpStream::connect(elsewhere).is_err(), "{at} also on {elsewhere}");
    }

    // A full node joins late and catches up by sync.
    let at = free_addr(20);
    let full = "full-0".to_string();
    start_node(&mut net, generate_private_key(), full.clone(), Role::FullNode, at).await;
    wait_decided(&mut net, std::slice::from_ref(&full), 5, Duration::from_secs(90), &mut seen)
        .await;
    for h in 1..=5u64 {
        assert_eq!(
            seen[&h][&full], seen[&h][&vals[0]],
            "full node synced a different value at height {h}"
        );
    }
    stop(&net);
}
