//! revm's diff of a run written through the transaction's view
//! ([`apply_diff`]): each changed account and slot a write, each loaded and
//! unchanged one a read, a plain transfer's credit and debit noted.

use alloy_primitives::{Address, B256, U256};
use lanes_accounts_db::AccountHeader;
use lanes_runtime::{StateKey, StateView, TxError};
use revm::state::EvmState;

use crate::db::{has_code, keeps_empty, stored_header};
use crate::evm::{PlainTransfer, StorageHolders};
use revm::primitives::hardfork::SpecId;

/// Writes what revm changed through the view (which checks each write against
/// the transaction's set), and notes every account and slot revm loaded
/// without changing it as read ([`StateView::note_read`]: the reads of the
/// block's access list). Accounts revm only loaded or touched without a
/// change are not written, so a read lock is enough for them. A touched
/// empty account is deleted from Spurious Dragon on (EIP-161); before it, it
/// exists ([`crate::EXISTING_EMPTY`]). Where a plain `transfer`'s recipient,
/// holding no code, only gained balance, the view is told its write was a
/// pure credit ([`StateView::note_credit`]); then no code ran, and where its
/// sender's write only stepped the nonce and took from the balance, that
/// write was a pure debit ([`StateView::note_debit`]). A destroyed
/// account's slots are deleted: those revm loaded, and where `parent` is
/// known every slot the block's parent state held under it (before Cancun a
/// destroyed contract's whole storage goes; a contract made again at its
/// address must not read it).
pub(crate) fn apply_diff(
    view: &mut StateView<'_>,
    diff: EvmState,
    spec: SpecId,
    transfer: Option<PlainTransfer>,
    parent: Option<&StorageHolders>,
) -> Result<(), TxError> {
    let keep_empty = keeps_empty(spec);
    let (mut credited, mut debited) = (false, false);
    for (address, account) in diff {
        if !account.is_touched() {
            view.note_read(StateKey::Account(address));
            for slot in account.storage.keys() {
                view.note_read(StateKey::Storage(address, B256::from(*slot)));
            }
            continue;
        }
        if account.is_selfdestructed() {
            view.set_account(&address, AccountHeader::default())?;
            for (slot, value) in &account.storage {
                let slot = B256::from(*slot);
                match value.original_value.is_zero() {
                    false => view.set_storage(&address, &slot, U256::ZERO)?,
                    true => view.note_read(StateKey::Storage(address, slot)),
                }
            }
            for slot in parent.map(|p| p.slots(&address)).unwrap_or_default() {
                if !account.storage.contains_key(&U256::from_be_bytes(slot.0)) {
                    view.set_storage(&address, &slot, U256::ZERO)?;
                }
            }
            continue;
        }
        let new = stored_header(&account.info, keep_empty);
        // revm captured each account's value when it loaded it; one that
        // exists and is empty is stored as EXISTING_EMPTY.
        let original = account.original_info();
        let old = if account.is_loaded_as_not_existing() {
            AccountHeader::default()
        } else {
            stored_header(&original, true)
        };
        let (credit, debit) = write_header(view, address, old, new, transfer)?;
        credited |= credit;
        debited |= debit;
        // New code: a creation's, or an EIP-7702 delegation designator.
        if (account.is_created() || account.info.code_hash != original.code_hash)
            && let Some(code) = &account.info.code
            && !code.is_empty()
        {
            view.put_code(account.info.code_hash, code.original_bytes());
        }
        for (slot, value) in &account.storage {
            let slot = B256::from(*slot);
            match value.is_changed() {
                true => view.set_storage(&address, &slot, value.present_value)?,
                false => view.note_read(StateKey::Storage(address, slot)),
            }
        }
    }
    note_debit(view, transfer, credited, debited);
    Ok(())
}

/// Writes account `address`'s `new` header through the view where it
/// differs from the `old` one revm loaded (else notes the read), and says
/// whether the write only credited a plain `transfer`'s recipient, and only
/// debited its sender ([`apply_diff`]).
pub(crate) fn write_header(
    view: &mut StateView<'_>,
    address: Address,
    old: AccountHeader,
    new: AccountHeader,
    transfer: Option<PlainTransfer>,
) -> Result<(bool, bool), TxError> {
    match new != old {
        true => view.set_account(&address, new)?,
        false => view.note_read(StateKey::Account(address)),
    }
    let credited = transfer.is_some_and(|t| t.to == address)
        && !has_code(&old.code_hash)
        && (new.nonce, new.code_hash) == (old.nonce, old.code_hash)
        && new.balance > old.balance;
    if credited {
        view.note_credit(address);
    }
    let debited = transfer.is_some_and(|t| t.from == address)
        && new.nonce == old.nonce.wrapping_add(1)
        && new.code_hash == old.code_hash
        && new.balance <= old.balance;
    Ok((credited, debited))
}

/// Notes a plain transfer's debit of its sender where its run only credited
/// the recipient and only debited the sender.
pub(crate) fn note_debit(
    view: &mut StateView<'_>,
    transfer: Option<PlainTransfer>,
    credited: bool,
    debited: bool,
) {
    if let Some(PlainTransfer { from, covers: Some(covers), .. }) = transfer
        && credited
        && debited
    {
        view.note_debit(from, covers);
    }
}
