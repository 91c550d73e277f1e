//! PartsBuffer: out-of-order assembly, signature and proposer checks, limits.

use lanes_consensus::{
    Height, MAX_PART_BYTES, PartsBuffer, PartsError, PartsLimits, PeerId, PrivateKey, ProposalPart,
    Round, StreamContent, StreamMessage, Validator, ValidatorSet, address_of, generate_private_key,
    proposal_parts, stream_id_for, stream_messages,
};

fn setup() -> (PrivateKey, ValidatorSet) {
    let key = generate_private_key();
    let other = generate_private_key();
    let set = ValidatorSet::new(vec![
        Validator::new(key.public_key(), 1),
        Validator::new(other.public_key(), 1),
    ]);
    (key, set)
}

fn msgs(key: &PrivateKey, height: u64, bytes: &[u8]) -> Vec<StreamMessage<ProposalPart>> {
    let me = address_of(&key.public_key());
    let parts = proposal_parts(Height(height), Round::new(1), Round::Nil, me, bytes, key);
    stream_messages(stream_id_for(Height(height), Round::new(1)), parts)
}

fn payload(n: usize) -> Vec<u8> {
    (0..n).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn out_of_order_assembles() {
    let (key, set) = setup();
    let bytes = payload(3 * MAX_PART_BYTES + 17);
    let mut m = msgs(&key, 4, &bytes);
    assert_eq!(m.len(), 1 + 4 + 1 + 1);
    m.reverse();
    m.swap(1, 3);
    let peer = rand_peer();
    let mut buf = PartsBuffer::default();
    let last = m.pop().unwrap();
    for msg in m.clone() {
        assert_eq!(buf.insert(peer, msg, &set).unwrap(), None);
    }
    // A duplicate is harmless.
    assert_eq!(buf.insert(peer, m[2].clone(), &set).unwrap(), None);
    let done = buf.insert(peer, last, &set).unwrap().expect("complete");
    assert_eq!(done.bytes, bytes);
    assert_eq!(done.height, Height(4));
    assert_eq!(done.round, Round::new(1));
    assert_eq!(done.valid_round, Round::Nil);
    assert_eq!(done.proposer, address_of(&key.public_key()));
    assert!(buf.is_empty());
    // Late duplicates of a finished stream are ignored.
    assert_eq!(buf.insert(peer, m[0].clone(), &set).unwrap(), None);
    assert!(buf.is_empty());
}

#[test]
fn empty_value_assembles() {
    let (key, set) = setup();
    let mut buf = PartsBuffer::default();
    let mut out = None;
    for msg in msgs(&key, 1, &[]) {
        out = buf.insert(PeerId::random_fixed(), msg, &set).unwrap().or(out);
    }
    assert_eq!(out.unwrap().bytes, Vec::<u8>::new());
}

trait Fixed {
    fn random_fixed() -> PeerId;
}
impl Fixed for PeerId {
    fn random_fixed() -> PeerId {
        use std::sync::OnceLock;
        static P: OnceLock<PeerId> = OnceLock::new();
        *P.get_or_init(rand_peer)
    }
}

fn feed(
    buf: &mut PartsBuffer,
    m: Vec<StreamMessage<ProposalPart>>,
    set: &ValidatorSet,
) -> Result<(), PartsError> {
    let peer = rand_peer();
    let mut r = Ok(None);
    for msg in m {
        r = buf.insert(peer, msg, set);
        if r.is_err() {
            break;
        }
    }
    r.map(|_| ())
}

#[test]
fn wrong_signature_is_refused() {
    let (key, set) = setup();
    let mut m = msgs(&key, 2, &payload(1000));
    // Tamper with the data.
    if let StreamContent::Data(ProposalPart::Data(d)) = &mut m[1].content {
        let mut v = d.to_vec();
        v[0] ^= 1;
        *d = v.into();
    }
    let err = feed(&mut PartsBuffer::default(), m, &set).unwrap_err();
    assert!(matches!(err, PartsError::BadSignature(_)), "{err}");

    // Signed by a key other than the declared proposer.
    let me = address_of(&key.public_key());
    let parts =
        proposal_parts(Height(2), Round::new(1), Round::Nil, me, b"x", &generate_private_key());
    let err = feed(
        &mut PartsBuffer::default(),
        stream_messages(stream_id_for(Height(2), Round::new(1)), parts),
        &set,
    )
    .unwrap_err();
    assert!(matches!(err, PartsError::BadSignature(_)), "{err}");
}

#[test]
fn unknown_proposer_is_refused() {
    let (_, set) = setup();
    let stranger = generate_private_key();
    let err = feed(&mut PartsBuffer::default(), msgs(&stranger, 2, b"abc"), &set).unwrap_err();
    assert_eq!(err, PartsError::UnknownProposer(address_of(&stranger.public_key())));
}

#[test]
fn limits_are_enforced() {
    let (key, set) = setup();
    let limits = PartsLimits {
        max_streams: 2,
        max_bytes_per_stream: 2 * MAX_PART_BYTES,
        max_parts_per_stream: 10,
    };
    // Too many bytes.
    let mut buf = PartsBuffer::new(limits);
    let err = feed(&mut buf, msgs(&key, 1, &payload(2 * MAX_PART_BYTES + 1)), &set).unwrap_err();
    assert_eq!(err, PartsError::TooLarge(2 * MAX_PART_BYTES));
    assert!(buf.is_empty());

    // Sequence beyond the per-stream limit.
    let mut m = msgs(&key, 1, b"abc");
    m[1].sequence = 10;
    let err = feed(&mut buf, m, &set).unwrap_err();
    assert_eq!(err, PartsError::TooManyParts(10));

    // Stream count is bounded: the oldest incomplete stream is evicted.
    for h in 1..=5u64 {
        let first = msgs(&key, h, b"abc").remove(0);
        buf.insert(rand_peer(), first, &set).unwrap();
        assert!(buf.len() <= 2);
    }
    assert_eq!(buf.len(), 2);

    // Pruned heights are refused and dropped.
    buf.prune_below(Height(5));
    assert_eq!(buf.len(), 1);
    let err = feed(&mut buf, msgs(&key, 4, b"abc"), &set).unwrap_err();
    assert_eq!(err, PartsError::Stale(Height(4)));
    feed(&mut buf, msgs(&key, 6, b"abc"), &set).unwrap();
}

#[test]
fn malformed_streams_are_refused() {
    let (key, set) = setup();
    // Data at sequence 0 (no init).
    let mut m = msgs(&key, 1, b"abc");
    m.remove(0);
    for (i, msg) in m.iter_mut().enumerate() {
        msg.sequence = i as u64;
    }
    assert!(matches!(
        feed(&mut PartsBuffer::default(), m, &set).unwrap_err(),
        PartsError::Malformed(_)
    ));
}

fn rand_peer() -> lanes_consensus::PeerId {
    lanes_consensus::peer_id_of(&generate_private_key()).unwrap()
}
