//! The commit index of an ordered block ([`Engine::try_commit`]): one
//! worker at a time moves it over the lowest transactions whose runs are
//! done and checked since the last change below them (else checked there:
//! everything below is final), folding the balances the block wrote as
//! deltas, so a debit is checked against the balance every earlier
//! transaction left and a credit lands on it.
//!
//! ```text
//!   i = committed: Executed? ── no ──> wait
//!                  checked in a wave ≥ the last lowering to i or below? ── no ──> check now
//!                  debits covered, credits' code as read (folds)? ── no ──> back to the schedule
//!                  Committed; folds += i's writes and fee (its deltas resolved); committed = i + 1
//! ```

use std::time::Instant;

use alloy_primitives::{Address, U256};
use lanes_accounts_db::{AccountHeader, KeyHash};

use super::config::OrderedError;
use super::engine::{Clock, Engine, Folds};
use super::ran::{LastWrites, Ran};
use super::schedule::{Status, Task};
use super::sequential::state_error;
use crate::executor::Executor;
use crate::key::StateKey;

/// What a commit step came to.
enum Committed {
    /// Transaction `i` committed.
    Yes,
    /// Its run is not done yet, or another worker took it back.
    Wait,
    /// Its run was stale: it goes back to the schedule (with its next run,
    /// where the schedule hands it to this worker).
    Stale(Option<Task>),
}

impl<'a, E: Executor> Engine<'a, E> {
    /// Moves the commit index as far as it goes, if no other worker is
    /// committing; answers whether it moved, and the run of a transaction
    /// it found stale, where the schedule hands it to this worker.
    pub(super) fn try_commit(&self, clock: &mut Clock) -> (bool, Option<Task>) {
        let mut moved = false;
        loop {
            // Another worker commits, or the next run is not done: nothing
            // to take the committer for.
            if self.committer.is_locked() || !self.schedule.is_executed(self.schedule.committed()) {
                return (moved, None);
            }
            let Some(mut committer) = self.committer.try_lock() else { return (moved, None) };
            let since = Instant::now();
            let from = self.schedule.committed();
            let mut stop = None;
            while !self.schedule.finished() {
                let i = self.schedule.committed() as u32;
                match self.commit(clock, i, &mut committer.folds) {
                    Ok(Committed::Yes) => moved = true,
                    Ok(Committed::Wait) => break,
                    Ok(Committed::Stale(task)) => {
                        stop = Some(task);
                        break;
                    }
                    Err(e) => {
                        self.fail(e);
                        stop = Some(None);
                        break;
                    }
                }
            }
            committer.held += since.elapsed();
            drop(committer);
            if self.schedule.committed() > from {
                self.schedule.notify(self.schedule.finished());
            }
            if let Some(task) = stop {
                return (moved, task);
            }
            // A run may have finished after this worker looked and before
            // it let the committer go: look again. The fence pairs with the
            // one a finishing worker passes (`Schedule::notify`) between
            // marking its run executed and looking at the committer: of the
            // two, at least one sees the other, so the run is not left for
            // an idle worker's next wake-up.
            std::sync::atomic::fence(std::sync::atomic::Ordering::SeqCst);
            if self.schedule.finished() {
                return (moved, None);
            }
        }
    }

    /// Commits `i` if it may: its run done and checked since the last
    /// change below it (else checked here: everything below is final), and
    /// the balances it only debited or credited as its run needs them.
    fn commit(
        &self,
        clock: &mut Clock,
        i: u32,
        folds: &mut Folds,
    ) -> Result<Committed, OrderedError> {
        let (incarnation, checked) = {
            let tx = self.schedule.tx(i);
            if tx.status != Status::Executed {
                return Ok(Committed::Wait);
            }
            (tx.incarnation, tx.checked)
        };
        crate::race_point();
        let mut slot = self.slots[i as usize].lock();
        let Some(ran) = slot.ran.as_ref().filter(|r| r.incarnation == incarnation) else {
            return Ok(Committed::Wait);
        };
        let current = checked.is_some_and(|w| self.schedule.current(i, w));
        crate::race_point();
        let stale = match current {
            true => None,
            false => self.changed(i, ran)?,
        };
        let stale = match stale {
            Some(key) => Some(key),
            None if ran.lazy_any() => self.lazy_fails(i, ran, folds)?,
            None => None,
        };
        if let Some(key) = stale {
            drop(slot);
            return Ok(Committed::Stale(self.abort(i, incarnation, key, clock.lap())));
        }
        {
            let mut tx = self.schedule.tx(i);
            if tx.status != Status::Executed || tx.incarnation != incarnation {
                return Ok(Committed::Wait);
            }
            tx.status = Status::Committed;
        }
        if let Some(key) = ran.violation {
            return Err(OrderedError::LeftItsSet { index: i as usize, key });
        }
        let fee = match &ran.result {
            Ok(outcome) => outcome.fee,
            Err(error) => {
                return Err(OrderedError::Invalid { index: i as usize, error: error.clone() });
            }
        };
        if !folds.is_empty() || ran.lazy_any() {
            let ran = slot.ran.as_mut().expect("found above");
            self.fold_in(i, ran, fee, folds)?;
        }
        drop(slot);
        self.schedule.commit(i);
        Ok(Committed::Yes)
    }

    /// `address`'s header before `i`, every transaction below committed;
    /// `ran` (a run of `i`) may know the state's.
    fn folded(
        &self,
        i: u32,
        address: &Address,
        ran: &Ran,
        folds: &Folds,
    ) -> Result<AccountHeader, OrderedError> {
        if let Some(header) = folds.get(address) {
            return Ok(*header);
        }
        let hash = StateKey::Account(*address).hash64();
        let folded = self.memory.account(hash, address, i).map_err(|tx| {
            state_error(format!("transaction {tx} is below the commit, not final"))
        })?;
        let base = match (folded.needs_state(), ran.state_of(address)) {
            (false, _) => AccountHeader::default(),
            (true, Some(header)) => header,
            (true, None) => {
                self.bank.state().account(address, hash).map_err(|e| state_error(e.to_string()))?
            }
        };
        Ok(folded.over(base))
    }

    /// The first account `ran` debited or credited whose balance, folded
    /// below `i`, does not hold what its run needs: a debit the nonce and
    /// code it read and a balance that covers it, a credit the code.
    fn lazy_fails(
        &self,
        i: u32,
        ran: &Ran,
        folds: &Folds,
    ) -> Result<Option<StateKey>, OrderedError> {
        for (address, covers) in &ran.debits {
            let read = ran.read(address).unwrap_or_default();
            let now = self.folded(i, address, ran, folds)?;
            let holds = now.nonce == read.nonce
                && now.code_hash == read.code_hash
                && now.balance >= *covers;
            if !holds {
                return Ok(Some(StateKey::Account(*address)));
            }
        }
        for address in &ran.credits {
            let read = ran.read(address).unwrap_or_default();
            if self.folded(i, address, ran, folds)?.code_hash != read.code_hash {
                return Ok(Some(StateKey::Account(*address)));
            }
        }
        Ok(None)
    }

    /// Folds committed `i`'s writes (then its `fee`, to the coinbase) into
    /// the balances the committer keeps, and resolves its delta writes in
    /// `ran` to the headers they leave.
    fn fold_in(
        &self,
        i: u32,
        ran: &mut Ran,
        fee: U256,
        folds: &mut Folds,
    ) -> Result<(), OrderedError> {
        let account = |w: &(KeyHash, Address, AccountHeader)| w.1;
        let last = LastWrites::of(&ran.writes.accounts, account);
        for k in 0..ran.writes.accounts.len() {
            let (_, address, header) = ran.writes.accounts[k];
            // The last write of a key wins.
            if !last.is_last(&ran.writes.accounts, k, account) {
                continue;
            }
            if ran.lazy(&address) {
                let before = self.folded(i, &address, ran, folds)?;
                let patch = ran.patch(&address, header);
                let after = patch
                    .apply(before)
                    .ok_or_else(|| state_error(format!("{address}'s balance overflows")))?;
                folds.insert(address, after);
                for w in ran.writes.accounts.iter_mut().filter(|w| w.1 == address) {
                    w.2 = after;
                }
            } else if let Some(folded) = folds.get_mut(&address) {
                *folded = header;
            }
        }
        let coinbase = self.memory.coinbase();
        if let Some(header) = folds.get_mut(&coinbase) {
            header.balance = header.balance.saturating_add(fee);
        }
        Ok(())
    }
}
