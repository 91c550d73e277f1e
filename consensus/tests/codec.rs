//! Round-trips of every message kind through `LanesCodec`, and garbage in.

use alloy_primitives::B256;
use bytes::Bytes;
use proptest::prelude::*;

use lanes_consensus::malachite::app::consensus::{LivenessMsg, SignedConsensusMsg};
use lanes_consensus::malachite::app::types::core::{
    CommitSignature, ExtendedCommitSignature, PolkaCertificate, PolkaSignature, RoundCertificate,
    RoundCertificateType, RoundSignature, SignedMessage, ValidatorProof, VoteType,
};
use lanes_consensus::sync::{Request, Response, Status, ValueRequest, ValueResponse};
use lanes_consensus::{
    Address, Codec, CodecError, CommitCertificate, ExtendedCommitCertificate, HasEncodedLen,
    Height, LanesCodec, LanesContext, NilOrVal, Proposal, ProposalPart, ProposedValue,
    RawDecidedValue, Round, StreamMessage, Validity, Value, Vote, VoteExtensions, address_of,
    generate_private_key, proposal_parts, stream_id_for, stream_messages,
};

fn rt<T>(v: T) -> Bytes
where
    LanesCodec: Codec<T>,
    T: PartialEq + std::fmt::Debug,
{
    let bytes = LanesCodec.encode(&v).expect("encode");
    let back: T = LanesCodec.decode(bytes.clone()).expect("decode");
    assert_eq!(back, v);
    // Every strict prefix fails, and so does one extra byte.
    for cut in 0..bytes.len() {
        assert!(
            <LanesCodec as Codec<T>>::decode(&LanesCodec, bytes.slice(..cut)).is_err(),
            "prefix of {cut} bytes decoded"
        );
    }
    let mut longer = bytes.to_vec();
    longer.push(0);
    assert_eq!(
        <LanesCodec as Codec<T>>::decode(&LanesCodec, Bytes::from(longer)).unwrap_err().to_string(),
        CodecError::Trailing(1).to_string()
    );
    bytes
}

fn sig(b: u8) -> lanes_consensus::Signature {
    generate_private_key().sign(&[b])
}

fn vote(typ: VoteType, val: bool) -> Vote {
    Vote {
        typ,
        height: Height(7),
        round: Round::new(2),
        value: if val { NilOrVal::Val(B256::repeat_byte(9)) } else { NilOrVal::Nil },
        validator_address: Address([3; 20]),
        extension: None,
    }
}

fn commit_cert() -> CommitCertificate<LanesContext> {
    CommitCertificate {
        height: Height(5),
        round: Round::new(1),
        value_id: B256::repeat_byte(1),
        commit_signatures: vec![
            CommitSignature::new(Address([1; 20]), sig(1)),
            CommitSignature::new(Address([2; 20]), sig(2)),
        ],
    }
}

#[test]
fn every_kind_round_trips() {
    rt(vote(VoteType::Prevote, true));
    rt(vote(VoteType::Precommit, false));
    let mut v = vote(VoteType::Precommit, true);
    v.extension = Some(SignedMessage::new((), sig(3)));
    rt(v.clone());
    let p = Proposal {
        height: Height(3),
        round: Round::new(0),
        value: Value::new(B256::repeat_byte(4)),
        pol_round: Round::Nil,
        validator_address: Address([5; 20]),
    };
    rt(p.clone());
    rt(SignedConsensusMsg::<LanesContext>::Vote(SignedMessage::new(v.clone(), sig(4))));
    rt(SignedConsensusMsg::<LanesContext>::Proposal(SignedMessage::new(p, sig(5))));

    let polka = PolkaCertificate::<LanesContext> {
        height: Height(2),
        round: Round::new(3),
        value_id: B256::repeat_byte(6),
        polka_signatures: vec![PolkaSignature::new(Address([7; 20]), sig(6))],
    };
    rt(polka.clone());
    let round_cert = RoundCertificate::<LanesContext> {
        height: Height(2),
        round: Round::new(4),
        cert_type: RoundCertificateType::Skip,
        round_signatures: vec![
            RoundSignature::new(VoteType::Prevote, NilOrVal::Nil, Address([8; 20]), sig(7)),
            RoundSignature::new(
                VoteType::Precommit,
                NilOrVal::Val(B256::repeat_byte(2)),
                Address([9; 20]),
                sig(8),
            ),
        ],
    };
    rt(round_cert.clone());
    rt(LivenessMsg::<LanesContext>::Vote(SignedMessage::new(v, sig(9))));
    rt(LivenessMsg::<LanesContext>::PolkaCertificate(polka));
    rt(LivenessMsg::<LanesContext>::SkipRoundCertificate(round_cert));

    rt(commit_cert());
    let ext = ExtendedCommitCertificate::from_commit_certificate_and_extensions(
        commit_cert(),
        VoteExtensions::default(),
    );
    rt(ext.clone());
    rt(ValidatorProof::<LanesContext>::new(vec![1; 32], vec![2; 38], sig(10)));
    rt(ProposedValue::<LanesContext> {
        height: Height(9),
        round: Round::new(0),
        valid_round: Round::Nil,
        proposer: Address([1; 20]),
        value: Value::new(B256::repeat_byte(3)),
        validity: Validity::Invalid,
    });

    // Proposal parts and their stream messages.
    let key = generate_private_key();
    let me = address_of(&key.public_key());
    let parts = proposal_parts(Height(1), Round::new(0), Round::Nil, me, &[7u8; 300_000], &key);
    assert_eq!(parts.len(), 2 + 3, "init + 3 data (128 KiB max) + fin");
    for p in &parts {
        rt(p.clone());
    }
    let msgs = stream_messages(stream_id_for(Height(1), Round::new(0)), parts);
    for m in msgs {
        let _: Bytes = rt::<StreamMessage<ProposalPart>>(m);
    }

    // Sync.
    rt(Status::<LanesContext> {
        peer_id: rand_peer(),
        tip_height: Height(10),
        history_min_height: Height(1),
    });
    rt(Request::<LanesContext>::ValueRequest(ValueRequest::new(Height(3)..=Height(8))));
    let resp = Response::<LanesContext>::ValueResponse(ValueResponse::new(
        Height(5),
        vec![RawDecidedValue::new(Bytes::from_static(b"block"), ext)],
    ));
    let bytes = rt(resp.clone());
    assert_eq!(LanesCodec.encoded_len(&resp).unwrap(), bytes.len());
}

/// The four certificates byte for byte, as the module docs of
/// `lanes_consensus::codec` describe them: nodes store and send these, so a
/// change here is a change of the wire format.
#[test]
fn certificate_bytes_are_pinned() {
    let s = |b: u8| lanes_consensus::Signature::from_bytes([b; 64]);
    // height (u64), round (i64), then the value id or the certificate type.
    let head = |height: u64, round: i64| {
        let mut b = height.to_be_bytes().to_vec();
        b.extend_from_slice(&round.to_be_bytes());
        b
    };
    let count = |n: u32| n.to_be_bytes();

    let polka = PolkaCertificate::<LanesContext> {
        height: Height(2),
        round: Round::new(3),
        value_id: B256::repeat_byte(6),
        polka_signatures: vec![
            PolkaSignature::new(Address([7; 20]), s(0x61)),
            PolkaSignature::new(Address([8; 20]), s(0x62)),
        ],
    };
    let mut want = head(2, 3);
    want.extend_from_slice(&[6; 32]);
    want.extend_from_slice(&count(2));
    for (a, g) in [(7, 0x61), (8, 0x62)] {
        want.extend_from_slice(&[a; 20]);
        want.extend_from_slice(&[g; 64]);
    }
    assert_eq!(rt(polka), want, "polka certificate");

    let round_cert = RoundCertificate::<LanesContext> {
        height: Height(2),
        round: Round::new(4),
        cert_type: RoundCertificateType::Precommit,
        round_signatures: vec![
            RoundSignature::new(VoteType::Prevote, NilOrVal::Nil, Address([8; 20]), s(0x71)),
            RoundSignature::new(
                VoteType::Precommit,
                NilOrVal::Val(B256::repeat_byte(2)),
                Address([9; 20]),
                s(0x72),
            ),
        ],
    };
    let mut want = head(2, 4);
    want.push(1); // precommit certificate
    want.extend_from_slice(&count(2));
    want.extend_from_slice(&[0, 0]); // prevote, nil
    want.extend_from_slice(&[8; 20]);
    want.extend_from_slice(&[0x71; 64]);
    want.extend_from_slice(&[1, 1]); // precommit, a value
    want.extend_from_slice(&[2; 32]);
    want.extend_from_slice(&[9; 20]);
    want.extend_from_slice(&[0x72; 64]);
    assert_eq!(rt(round_cert), want, "round certificate");

    let commit = CommitCertificate::<LanesContext> {
        height: Height(5),
        round: Round::new(0),
        value_id: B256::repeat_byte(1),
        commit_signatures: vec![CommitSignature::new(Address([1; 20]), s(0x81))],
    };
    let mut want = head(5, 0);
    want.extend_from_slice(&[1; 32]);
    want.extend_from_slice(&count(1));
    want.extend_from_slice(&[1; 20]);
    want.extend_from_slice(&[0x81; 64]);
    assert_eq!(rt(commit), want, "commit certificate");

    let extended = ExtendedCommitCertificate::<LanesContext> {
        height: Height(5),
        round: Round::new(1),
        value_id: B256::repeat_byte(1),
        commit_signatures: vec![
            ExtendedCommitSignature::new(Address([1; 20]), s(0x91), None),
            ExtendedCommitSignature::new(
                Address([2; 20]),
                s(0x92),
                Some(SignedMessage::new((), s(0x93))),
            ),
        ],
    };
    let mut want = head(5, 1);
    want.extend_from_slice(&[1; 32]);
    want.extend_from_slice(&count(2));
    want.extend_from_slice(&[1; 20]);
    want.extend_from_slice(&[0x91; 64]);
    want.push(0); // no extension
    want.extend_from_slice(&[2; 20]);
    want.extend_from_slice(&[0x92; 64]);
    want.push(1); // an extension, then its signature
    want.extend_from_slice(&[0x93; 64]);
    assert_eq!(rt(extended), want, "extended commit certificate");
}

#[test]
fn limits_are_enforced() {
    // A data part claiming 4 GiB.
    let mut b = vec![1u8];
    b.extend_from_slice(&u32::MAX.to_be_bytes());
    let err = <LanesCodec as Codec<ProposalPart>>::decode(&LanesCodec, Bytes::from(b)).unwrap_err();
    assert!(matches!(err, CodecError::TooLong { .. }), "{err}");
    // A sync request for too many heights.
    let mut b = vec![0u8];
    b.extend_from_slice(&1u64.to_be_bytes());
    b.extend_from_slice(&u64::MAX.to_be_bytes());
    let r = <LanesCodec as Codec<Request<LanesContext>>>::decode(&LanesCodec, Bytes::from(b));
    assert!(r.is_err());
    // A round out of range.
    let mut b = Vec::new();
    b.extend_from_slice(&1u64.to_be_bytes());
    b.extend_from_slice(&(-5i64).to_be_bytes());
    b.extend_from_slice(&[0; 32]);
    b.extend_from_slice(&0u32.to_be_bytes());
    let r =
        <LanesCodec as Codec<CommitCertificate<LanesContext>>>::decode(&LanesCodec, Bytes::from(b));
    assert!(r.unwrap_err().to_string().contains("round"));
}

fn all_decoders(bytes: &[u8]) {
    let b = Bytes::copy_from_slice(bytes);
    let c = LanesCodec;
    let _ = <LanesCodec as Codec<ProposalPart>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<StreamMessage<ProposalPart>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<SignedConsensusMsg<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<LivenessMsg<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<ValidatorProof<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<ProposedValue<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<PolkaCertificate<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<RoundCertificate<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<CommitCertificate<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<ExtendedCommitCertificate<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<Status<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<Request<LanesContext>>>::decode(&c, b.clone());
    let _ = <LanesCodec as Codec<Response<LanesContext>>>::decode(&c, b);
}

proptest! {
    #[test]
    fn garbage_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        all_decoders(&bytes);
    }

    #[test]
    fn mutated_certificates_never_panic(i in 0usize..200, v in any::<u8>()) {
        let mut bytes = LanesCodec.encode(&commit_cert()).unwrap().to_vec();
        let i = i % bytes.len();
        bytes[i] = v;
        all_decoders(&bytes);
    }
}

fn rand_peer() -> lanes_consensus::PeerId {
    lanes_consensus::peer_id_of(&generate_private_key()).unwrap()
}
