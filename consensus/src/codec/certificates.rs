//! The four certificates (polka, round, commit, extended commit). Each is a
//! head (height, round, then the value id or the certificate type) and a
//! list of signatures, one per validator: its address and signature, plus
//! what the certificate's kind adds. The lists share one encoding,
//! [`put_signatures`] / [`get_signatures`]: a `u32` count, then each
//! signature by its [`Wire`] impl.

use malachitebft_app_channel::app::types::core::{
    CommitCertificate, CommitSignature, ExtendedCommitCertificate, ExtendedCommitSignature,
    PolkaCertificate, PolkaSignature, RoundCertificate, RoundCertificateType, RoundSignature,
};

use super::wire::{
    CodecError, MAX_SIGNATURES, Reader, SIGNATURE_LEN, Wire, Writer, get_list, put_list,
};
use crate::types::LanesContext;

/// Bytes of a validator's address on the wire.
const ADDRESS_LEN: usize = 20;

/// One validator's signature in a certificate.
pub(super) trait CertSignature: Wire {
    /// The fewest bytes it encodes to: a list's declared count is checked
    /// against the bytes left with it.
    const MIN_LEN: usize;
}

/// A certificate's signatures: a `u32` count, then each signature.
fn put_signatures<S: CertSignature>(w: &mut Writer, signatures: &[S]) {
    put_list(w, signatures, |w, s| s.put(w));
}

/// What [`put_signatures`] wrote: at most [`MAX_SIGNATURES`] of them.
fn get_signatures<S: CertSignature>(
    r: &mut Reader<'_>,
    what: &'static str,
) -> Result<Vec<S>, CodecError> {
    get_list(r, what, MAX_SIGNATURES, S::MIN_LEN, S::get)
}

// ---------------------------------------------------------- signatures

impl Wire for PolkaSignature<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.address(&self.address);
        w.sig(&self.signature);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(PolkaSignature::new(r.address()?, r.sig()?))
    }
}

impl CertSignature for PolkaSignature<LanesContext> {
    const MIN_LEN: usize = ADDRESS_LEN + SIGNATURE_LEN;
}

impl Wire for RoundSignature<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.vote_type(self.vote_type);
        w.nil_or_val(&self.value_id);
        w.address(&self.address);
        w.sig(&self.signature);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(RoundSignature::new(r.vote_type()?, r.nil_or_val()?, r.address()?, r.sig()?))
    }
}

impl CertSignature for RoundSignature<LanesContext> {
    /// The vote type, a nil value's tag, the address and the signature.
    const MIN_LEN: usize = 1 + 1 + ADDRESS_LEN + SIGNATURE_LEN;
}

impl Wire for CommitSignature<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.address(&self.address);
        w.sig(&self.signature);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(CommitSignature::new(r.address()?, r.sig()?))
    }
}

impl CertSignature for CommitSignature<LanesContext> {
    const MIN_LEN: usize = ADDRESS_LEN + SIGNATURE_LEN;
}

impl Wire for ExtendedCommitSignature<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.address(&self.address);
        w.sig(&self.signature);
        w.ext(&self.extension);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(ExtendedCommitSignature::new(r.address()?, r.sig()?, r.ext()?))
    }
}

impl CertSignature for ExtendedCommitSignature<LanesContext> {
    /// The address, the signature and the extension's tag (no extension).
    const MIN_LEN: usize = ADDRESS_LEN + SIGNATURE_LEN + 1;
}

// -------------------------------------------------------- certificates

impl Wire for PolkaCertificate<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.height(self.height);
        w.round(self.round);
        w.value_id(&self.value_id);
        put_signatures(w, &self.polka_signatures);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(PolkaCertificate {
            height: r.height()?,
            round: r.defined_round("polka round")?,
            value_id: r.value_id()?,
            polka_signatures: get_signatures(r, "polka signatures")?,
        })
    }
}

impl Wire for RoundCertificate<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.height(self.height);
        w.round(self.round);
        w.u8(match self.cert_type {
            RoundCertificateType::Skip => 0,
            RoundCertificateType::Precommit => 1,
        });
        put_signatures(w, &self.round_signatures);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        let height = r.height()?;
        let round = r.defined_round("round certificate round")?;
        let cert_type = match r.u8("round certificate type")? {
            0 => RoundCertificateType::Skip,
            1 => RoundCertificateType::Precommit,
            tag => return Err(CodecError::BadTag { what: "round certificate type", tag }),
        };
        let round_signatures = get_signatures(r, "round signatures")?;
        Ok(RoundCertificate { height, round, cert_type, round_signatures })
    }
}

impl Wire for CommitCertificate<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.height(self.height);
        w.round(self.round);
        w.value_id(&self.value_id);
        put_signatures(w, &self.commit_signatures);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(CommitCertificate {
            height: r.height()?,
            round: r.defined_round("commit round")?,
            value_id: r.value_id()?,
            commit_signatures: get_signatures(r, "commit signatures")?,
        })
    }
}

impl Wire for ExtendedCommitCertificate<LanesContext> {
    fn put(&self, w: &mut Writer) {
        w.height(self.height);
        w.round(self.round);
        w.value_id(&self.value_id);
        put_signatures(w, &self.commit_signatures);
    }
    fn get(r: &mut Reader<'_>) -> Result<Self, CodecError> {
        Ok(ExtendedCommitCertificate {
            height: r.height()?,
            round: r.defined_round("commit round")?,
            value_id: r.value_id()?,
            commit_signatures: get_signatures(r, "commit signatures")?,
        })
    }
}
