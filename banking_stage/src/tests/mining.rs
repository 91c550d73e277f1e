//! Mining modes: on demand, manual (mine requests) and interval.
use super::*;

#[test]
fn test_on_demand_mining_seals_when_work_is_done_and_never_empty() {
    let (_dir, chain) = chain();
    // A 10 s block time: any block sooner than that was mined on demand.
    let config = BankingStageConfig {
        mining: Mining::OnDemand,
        block_time: Duration::from_secs(10),
        ..config(2, 10_000)
    };
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config);
    let started = Instant::now();
    let lone = transfer(0, 0, 1, 21_000);
    stage.submit(raw(&lone)).unwrap();
    let first = stage.blocks().recv_timeout(Duration::from_secs(5)).expect("a block");
    assert_eq!(included(std::slice::from_ref(&first)), [lone.hash()]);
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // Idle: no empty blocks.
    assert!(stage.blocks().recv_timeout(Duration::from_millis(300)).is_err());
    // A lone transaction for the exclusive lane is sealed once it ran, not
    // at the block time's end.
    let started = Instant::now();
    let alone = transfer(0, 1, 1, 21_000).with_declared(None);
    stage.submit(raw(&alone)).unwrap();
    let block = stage.blocks().recv_timeout(Duration::from_secs(5)).expect("a block");
    assert_eq!(
        (included(std::slice::from_ref(&block)), block.stats.exclusive),
        (vec![alone.hash()], 1)
    );
    assert!(started.elapsed() < Duration::from_secs(5), "took {:?}", started.elapsed());
    // A burst lands in a few wide blocks, not one per transaction.
    let burst: Vec<NativeTx> = (1..SENDERS).map(|i| transfer(i, 0, 0, 21_000)).collect();
    for r in stage.submit_many(burst.iter().map(raw).collect()) {
        r.unwrap();
    }
    let blocks = collect(&stage, Duration::from_secs(10), |b| included(b).len() == burst.len());
    assert!(blocks.len() <= 8, "{} blocks for {} transactions", blocks.len(), burst.len());
    let mut timestamps = vec![first.block.header.timestamp];
    timestamps.extend(blocks.iter().map(|b| b.block.header.timestamp));
    assert!(timestamps.windows(2).all(|w| w[1] > w[0]), "strictly increasing: {timestamps:?}");
    stage.shutdown().unwrap();
}

#[test]
fn test_manual_mining_seals_only_when_asked_and_modes_switch() {
    let (_dir, chain) = chain();
    let config = BankingStageConfig { mining: Mining::Manual, ..config(2, 20) };
    let mut stage = BankingStage::start(Arc::new(NativeExecutor), chain, config);
    let tx = transfer(0, 0, 1, 21_000);
    stage.submit(raw(&tx)).unwrap();
    assert!(stage.blocks().recv_timeout(Duration::from_millis(200)).is_err(), "no mining");
    assert_eq!(stage.mining(), Mining::Manual);
    // One block now, with what is ready.
    assert_eq!(stage.mine(1, None, None).unwrap(), 1);
    let block = stage.blocks().recv_timeout(Duration::from_secs(1)).unwrap();
    assert_eq!(included(std::slice::from_ref(&block)), [tx.hash()]);
    // Three empty blocks ten seconds apart, the first at the clock's time.
    assert_eq!(stage.mine(3, None, Some(10)).unwrap(), 4);
    let mined: Vec<ProducedBlock> = stage.blocks().try_iter().collect();
    assert_eq!(mined.len(), 3);
    let ts: Vec<u64> = mined.iter().map(|b| b.block.header.timestamp).collect();
    assert!(mined.iter().all(|b| b.receipts.is_empty()));
    assert_eq!((ts[1] - ts[0], ts[2] - ts[1]), (10, 10));
    assert!(ts[0] > block.block.header.timestamp);
    // One at a given time, then one after it.
    let at = ts[2] + 1000;
    assert_eq!(stage.mine(2, Some(at), None).unwrap(), 6);
    let mined: Vec<u64> = stage.blocks().try_iter().map(|b| b.block.header.timestamp).collect();
    assert_eq!(mined[0], at);
    assert!(mined[1] > at);
    // Automine on: the waiting transaction is mined at once.
    let next = transfer(0, 1, 1, 21_000);
    stage.submit(raw(&next)).unwrap();
    stage.set_mining(Mining::OnDemand, None).unwrap();
    let blocks = collect(&stage, Duration::from_secs(5), |b| included(b).contains(&next.hash()));
    assert_eq!(stage.mining(), Mining::OnDemand);
    assert_eq!(blocks.last().unwrap().block.header.number, 7);
    // Interval mining: an empty block every block time.
    stage.set_mining(Mining::Interval, Some(Duration::from_millis(30))).unwrap();
    let empty = collect(&stage, Duration::from_secs(5), |b| b.len() >= 3);
    assert!(empty.iter().all(|b| b.receipts.is_empty()));
    stage.shutdown().unwrap();
}

#[test]
fn test_a_mine_request_takes_a_transaction_still_being_predicted() {
    let (_dir, chain) = chain();
    let hook = Arc::new(Hook { delay: Duration::from_millis(300), ..Hook::default() });
    let config = BankingStageConfig { mining: Mining::Manual, ..config(2, 20) };
    let mut stage = BankingStage::builder(Arc::new(NativeExecutor), chain)
        .config(config)
        .admission(hook)
        .start();
    // Accepted, its set not yet predicted when the block is asked for.
    let tx = hot_touch(1, 0, 26_000).with_declared(None);
    stage.submit(raw(&tx)).unwrap();
    assert_eq!(stage.predicting(), 1);
    assert_eq!(stage.mine(1, None, None).unwrap(), 1);
    let block = stage.blocks().recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(included(std::slice::from_ref(&block)), [tx.hash()], "in the block asked for");
    stage.shutdown().unwrap();
}

/// A sender whose queue is full of later nonces sends the nonce that fills
/// its gap last, while the prediction threads are busy with other senders':
/// the gap nonce is taken by the pool and the prediction queue (each full
/// for the sender), runs with its predicted set, and is included within two
/// blocks of its arrival. `LANES_GAP_RUNS` sets how many runs (default 5).
#[test]
fn test_a_gap_nonce_sent_last_into_a_full_queue_is_included_within_two_blocks() {
    let runs = std::env::var("LANES_GAP_RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(5);
    for run in 0..runs {
        let (_dir, chain) = chain();
        let hook = Hook { delay: Duration::from_millis(5), ..Hook::default() };
        let mut stage = BankingStage::builder(Arc::new(NativeExecutor), chain)
            .config(BankingStageConfig { max_per_sender: 8, predict_queue: 1024, ..config(2, 250) })
            .admission(Arc::new(hook))
            .start();
        let touch = |from: u8, nonce| hot_touch(from, nonce, 21_000).with_declared(None);
        // The other senders' predictions first: the threads take them.
        let load: Vec<Bytes> = (1..SENDERS)
            .flat_map(|s| (0..2).map(move |n| (s, n)))
            .map(|(s, n)| raw(&touch(s, n)))
            .collect();
        stage.submit_many(load);
        // Sender 0 fills its queue with nonces 1..=8 (9 and 10 are over the
        // limit) while they are busy, then sends nonce 0.
        stage.submit_many((1..=10).map(|n| raw(&touch(0, n))).collect());
        let gap = touch(0, 0);
        stage.submit(raw(&gap)).expect("the gap nonce is taken");
        let mut blocks = Vec::new();
        while !included(&blocks).contains(&gap.hash()) {
            let block = stage.blocks().recv_timeout(Duration::from_secs(10));
            blocks.push(block.unwrap_or_else(|_| panic!("run {run}: the gap nonce never came")));
            assert!(
                blocks.len() <= 2,
                "run {run}: the gap nonce is not in {} blocks",
                blocks.len()
            );
        }
        // Every transaction ran with its predicted set: the gap nonce was
        // not left out of the prediction queue to run alone.
        let alone: usize = blocks.iter().map(|b| b.stats.exclusive).sum();
        assert_eq!(alone, 0, "run {run}: {alone} ran without a prediction");
        stage.shutdown().unwrap();
    }
}
