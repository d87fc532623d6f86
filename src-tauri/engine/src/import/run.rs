//! Importing an account file: which lines become which accounts, and the transaction that
//! stores them. [`crate::Engine::import`] runs it and drops the clients and sessions of the
//! accounts it changed.
//!
//! What it promises:
//!
//! - **Forgiving.** One bad line or one failing account never stops the others; each is
//!   reported with its line number (or address) and the reason in words.
//! - **Nothing lost under kill -9.** Accounts are stored in chunks: every secret of a chunk
//!   is written to the keyring first, then the chunk's rows in one SQLite transaction. A row
//!   never exists without its secret, so a killed import leaves each account either fully
//!   imported or absent (at worst an orphan secret, which the next run overwrites). Running
//!   the same import again gives the same state.
//! - **File order.** The accounts are listed in the file's order afterwards, even though a
//!   chunk is not a run of lines (see below) and a killed import stored a scattered part of
//!   the file: each new row is placed by the known accounts around it in the file.
//! - **Replace is the last step.** Accounts absent from the file are removed only after
//!   every line was valid and stored, and only when the caller confirmed.
//! - **Followed.** Progress (done/total, rate, ETA) goes to the caller's callback and to the
//!   event sink after every chunk; cancelling stops between chunks, and what was stored stays.
//!
//! Keyring writes are the slow part: with gnome-keyring each costs tens of milliseconds, a
//! D-Bus round trip to a daemon that handles one change at a time and rewrites its file. The
//! keyring store keeps secrets in shards (see [`crate::secrets`]) and tells which shard an
//! account's secret is written with ([`SecretStore::write_group`]), so a chunk is made of
//! whole shards, at least `batch.importChunk` accounts: each shard is written once per
//! import. A secret the keyring already holds is not written again, so a re-import only reads.
//!
//! [`SecretStore::write_group`]: crate::secrets::SecretStore::write_group

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::{ImportDefaults, ImportFormat, LineError, MergeMode, PlannedAccount, Problem};
use crate::account::Account;
use crate::error::EngineError;
use crate::progress::CheckReport;
use crate::secrets::{Secret, SecretStore, SecretsError};
use crate::store::Store;

/// What an import should do.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// The file's format; `Auto` detects it.
    pub format: ImportFormat,
    /// What to do with known accounts.
    pub merge: MergeMode,
    /// Report what would happen and write nothing.
    pub dry_run: bool,
    /// With [`MergeMode::Replace`]: the caller confirmed that known accounts absent from the
    /// file may be removed. Without it they are only counted.
    pub confirm_removal: bool,
    /// Details for lines that do not give their own.
    pub defaults: ImportDefaults,
    /// Verify every added or updated account afterwards.
    pub verify: bool,
    /// Accounts verified at once; `None` is `batch.verifyConcurrency`.
    pub concurrency: Option<usize>,
}

/// What an import did (or, in a dry run, would do).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ImportReport {
    /// The format used.
    pub format: ImportFormat,
    /// Whether nothing was written.
    pub dry_run: bool,
    /// New accounts.
    pub added: usize,
    /// Known accounts overwritten.
    pub updated: usize,
    /// Known accounts left as they were.
    pub skipped: usize,
    /// Known accounts removed because the file did not mention them (replace only).
    pub removed: usize,
    /// Known accounts the file does not mention that replace would remove, or did not
    /// remove (no confirmation, errors in the file, or a dry run).
    pub absent: usize,
    /// Why absent accounts were kept, when replace was asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub removal_withheld: Option<String>,
    /// Unusable lines, by line number.
    pub errors: Vec<LineError>,
    /// Whether the import was cancelled; the accounts stored before that stay.
    pub cancelled: bool,
    /// The verification, when asked for.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verified: Option<CheckReport>,
}

/// Keyring failures that will fail every other account too, so the import stops.
fn keyring_down(e: &SecretsError) -> bool {
    matches!(e, SecretsError::Unavailable { .. } | SecretsError::Locked { .. })
}

/// An import worked out from the file and the accounts already known, before anything is
/// written: the accounts to store in chunks, and the known accounts the file does not name.
pub(crate) struct ImportPlan {
    /// The report so far: format, line errors, skipped and (in a dry run) the counts.
    pub report: ImportReport,
    /// The accounts to store, in file order.
    to_store: Vec<PlannedAccount>,
    /// The chunks to store them in, as indexes into `to_store`.
    pub chunks: Vec<Vec<usize>>,
    /// Addresses new to the cache.
    new_emails: HashSet<String>,
    /// The row id each new account gets, so the list keeps the file's order.
    row_ids: HashMap<String, i64>,
    /// Known accounts before the import, by address.
    existing: HashMap<String, Account>,
    /// Known accounts the file does not mention (replace only).
    pub absent: Vec<String>,
    /// Indexes into `to_store` of the accounts stored so far.
    stored: Vec<usize>,
}

/// What storing one chunk did.
pub(crate) struct ChunkStored {
    /// Accounts stored, secret and row.
    pub stored: usize,
    /// Lines whose secret the keyring refused.
    pub failed: usize,
    /// Known accounts whose secret changed: their clients and sessions must go.
    pub changed: Vec<String>,
}

/// Parses `bytes`, checks every record, drops duplicates (the first occurrence wins) and
/// plans the chunks. `existing` is every known account; `known_ids` their row ids.
pub(crate) fn plan(
    bytes: &[u8],
    options: &ImportOptions,
    existing: Vec<Account>,
    known_ids: &HashMap<String, i64>,
    chunk_size: usize,
    secrets: &dyn SecretStore,
) -> ImportPlan {
    let parsed = super::parse(bytes, options.format);
    let mut report =
        ImportReport { format: parsed.format, dry_run: options.dry_run, errors: parsed.errors, ..Default::default() };
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut planned: Vec<PlannedAccount> = Vec::with_capacity(parsed.records.len());
    for record in &parsed.records {
        match record.plan(&options.defaults) {
            Ok(p) => match seen.get(&p.account.email) {
                Some(first) => {
                    let problem = Problem::new("duplicate", format!("duplicate of line {first}")).with("first", first);
                    report.errors.push(problem.at(p.line))
                }
                None => {
                    seen.insert(p.account.email.clone(), p.line);
                    planned.push(p);
                }
            },
            Err(problem) => report.errors.push(problem.at(record.line)),
        }
    }
    report.errors.sort_by_key(|e| e.line);

    let existing: HashMap<String, Account> = existing.into_iter().map(|a| (a.email.clone(), a)).collect();
    let file_order: Vec<String> = planned.iter().map(|p| p.account.email.clone()).collect();
    let (mut to_store, mut new_emails) = (Vec::new(), HashSet::new());
    for p in planned {
        match existing.get(&p.account.email) {
            Some(_) if options.merge == MergeMode::Skip => report.skipped += 1,
            Some(known) => {
                // Files carry no channel: a re-import keeps how the account is read, and the
                // channel that worked, instead of setting it back to auto.
                let mut p = p;
                p.account.channel = known.channel;
                p.account.channel_in_use = known.channel_in_use;
                p.account.imap_checked_at = known.imap_checked_at;
                to_store.push(p)
            }
            None => {
                new_emails.insert(p.account.email.clone());
                to_store.push(p);
            }
        }
    }
    let absent: Vec<String> = if options.merge == MergeMode::Replace {
        existing.keys().filter(|e| !seen.contains_key(*e)).cloned().collect()
    } else {
        Vec::new()
    };
    report.absent = absent.len();
    if options.dry_run {
        report.added = new_emails.len();
        report.updated = to_store.len() - new_emails.len();
        if !absent.is_empty() {
            report.removal_withheld = Some("this is a dry run".into());
        }
    }

    let file_refs: Vec<&str> = file_order.iter().map(String::as_str).collect();
    let row_ids: HashMap<String, i64> = file_refs
        .iter()
        .zip(place_new_accounts(&file_refs, known_ids))
        .filter_map(|(e, id)| id.map(|id| (e.to_string(), id)))
        .collect();
    let chunks = plan_chunks(&to_store, chunk_size.max(1), |email| secrets.write_group(email));
    ImportPlan { report, to_store, chunks, new_emails, row_ids, existing, absent, stored: Vec::new() }
}

impl ImportPlan {
    /// Accounts the import will store.
    pub fn len(&self) -> usize {
        self.to_store.len()
    }

    /// Stores one chunk: every secret to the keyring first, in one bulk write, then the
    /// chunk's rows in one transaction. A line whose secret the keyring refuses is reported
    /// and its row not written.
    ///
    /// # Errors
    /// The keyring is unreachable or locked (every other account would fail too), or the
    /// cache cannot be written. The chunks stored before stay.
    pub async fn store_chunk(
        &mut self,
        index: usize,
        store: &Store,
        secrets: &Arc<dyn SecretStore>,
    ) -> Result<ChunkStored, EngineError> {
        let items: Vec<PlannedAccount> = self.chunks[index].iter().map(|&i| self.to_store[i].clone()).collect();
        let (accounts, changed, failures) = store_secrets(secrets, items, &self.existing).await?;
        let rows: Vec<(Account, Option<i64>)> =
            accounts.iter().map(|a| (a.clone(), self.row_ids.get(&a.email).copied())).collect();
        store.call(move |s| s.upsert_accounts_at(&rows)).await?;
        for a in &accounts {
            if self.new_emails.contains(&a.email) {
                self.report.added += 1;
            } else {
                self.report.updated += 1;
            }
        }
        let stored_here: HashSet<&str> = accounts.iter().map(|a| a.email.as_str()).collect();
        let to_store = &self.to_store;
        self.stored.extend(
            self.chunks[index].iter().copied().filter(|&i| stored_here.contains(to_store[i].account.email.as_str())),
        );
        let failed = failures.len();
        self.report.errors.extend(failures);
        Ok(ChunkStored { stored: accounts.len(), failed, changed })
    }

    /// The addresses stored so far, in file order.
    pub fn stored(&self) -> Vec<String> {
        let mut idx = self.stored.clone();
        idx.sort_unstable();
        idx.into_iter().map(|i| self.to_store[i].account.email.clone()).collect()
    }

    /// Why the absent accounts must stay, if they must: removal is the last step, taken only
    /// when the whole file went in and the caller confirmed.
    pub fn removal_withheld(&self, confirmed: bool) -> Option<String> {
        if self.report.cancelled {
            Some("the import was cancelled".to_string())
        } else if !self.report.errors.is_empty() {
            Some(format!(
                "{} line(s) of the file could not be imported; fix them and import again",
                self.report.errors.len()
            ))
        } else if !confirmed {
            Some("removal was not confirmed".to_string())
        } else {
            None
        }
    }
}

/// Writes a chunk's secrets to the keyring on one blocking thread, in one bulk write.
/// Returns the accounts whose secret is safe (ready for their rows), the known ones whose
/// secret changed, and the lines that failed.
async fn store_secrets(
    secrets: &Arc<dyn SecretStore>,
    chunk: Vec<PlannedAccount>,
    existing: &HashMap<String, Account>,
) -> Result<(Vec<Account>, Vec<String>, Vec<LineError>), EngineError> {
    let secrets = secrets.clone();
    let work: Vec<(PlannedAccount, Option<Account>)> = chunk
        .into_iter()
        .map(|p| {
            let before = existing.get(&p.account.email).cloned();
            (p, before)
        })
        .collect();
    let joined = tokio::task::spawn_blocking(move || {
        // Only a known account can already hold this secret; reading first turns a
        // re-import into reads, which cost far less than writes.
        let known: Vec<String> =
            work.iter().filter(|(_, before)| before.is_some()).map(|(p, _)| p.account.email.clone()).collect();
        let held: HashMap<String, Secret> = known
            .iter()
            .zip(secrets.get_many(&known))
            .filter_map(|(e, r)| r.ok().flatten().map(|s| (e.clone(), s)))
            .collect();
        // Proxy passwords first: one keyring entry per proxy, shared by its accounts.
        let proxy_failed = store_proxy_secrets(secrets.as_ref(), &work)?;
        let mut writes: Vec<(String, Secret)> = Vec::new();
        let mut planned: Vec<(Account, usize, bool, bool)> = Vec::with_capacity(work.len());
        let mut failed_early = Vec::new();
        for (p, before) in work {
            if let Some((key, _)) = &p.proxy_secret
                && let Some(e) = proxy_failed.get(key)
            {
                failed_early.push(LineError::engine(p.line, &EngineError::Secrets(e.clone())));
                continue;
            }
            let mut account = p.account;
            let same = held.get(&account.email) == Some(&p.secret);
            if let Some(before) = &before
                && same
                && before.auth == account.auth
            {
                // The same secret keeps what is known about the account's health.
                account.status = before.status;
                account.status_detail = before.status_detail.clone();
            }
            if !same {
                writes.push((account.email.clone(), p.secret));
            }
            planned.push((account, p.line, same, before.is_some()));
        }
        let mut results = secrets.set_many(&writes).into_iter();
        let (mut ok, mut changed, mut failed) = (Vec::new(), Vec::new(), failed_early);
        for (account, line, same, known) in planned {
            if !same {
                match results.next() {
                    Some(Ok(())) => {}
                    Some(Err(e)) if keyring_down(&e) => return Err(e),
                    Some(Err(e)) => {
                        failed.push(LineError::engine(line, &EngineError::Secrets(e)));
                        continue;
                    }
                    None => {
                        let problem = Problem::new("keyring_no_result", "the keyring gave no result for this account");
                        failed.push(problem.at(line));
                        continue;
                    }
                }
                if known {
                    changed.push(account.email.clone());
                }
            }
            ok.push(account);
        }
        Ok((ok, changed, failed))
    })
    .await
    .map_err(|e| EngineError::Internal(e.to_string()))?;
    Ok(joined?)
}

/// Writes the proxy passwords a chunk names, each proxy once and only when the keyring does
/// not hold it already. Returns the proxies whose password could not be written.
///
/// # Errors
/// The keyring is unreachable or locked.
fn store_proxy_secrets(
    secrets: &dyn SecretStore,
    work: &[(PlannedAccount, Option<Account>)],
) -> Result<HashMap<String, SecretsError>, SecretsError> {
    let wanted: HashMap<String, Secret> = work.iter().filter_map(|(p, _)| p.proxy_secret.clone()).collect();
    if wanted.is_empty() {
        return Ok(HashMap::new());
    }
    let keys: Vec<String> = wanted.keys().cloned().collect();
    let writes: Vec<(String, Secret)> = keys
        .iter()
        .zip(secrets.get_many(&keys))
        .filter(|(k, held)| !matches!(held, Ok(Some(s)) if Some(s) == wanted.get(*k)))
        .map(|(k, _)| (k.clone(), wanted[k].clone()))
        .collect();
    let mut failed = HashMap::new();
    for ((key, _), result) in writes.iter().zip(secrets.set_many(&writes)) {
        match result {
            Ok(()) => {}
            Err(e) if keyring_down(&e) => return Err(e),
            Err(e) => {
                failed.insert(key.clone(), e);
            }
        }
    }
    Ok(failed)
}

/// Removes accounts' rows in one transaction, then their keyring entries; returns how many
/// rows there were. A keyring entry left behind is only an orphan (logged, not an error).
///
/// # Errors
/// The cache cannot be written.
pub(crate) async fn remove_accounts(
    store: &Store,
    secrets: &Arc<dyn SecretStore>,
    emails: &[String],
) -> Result<usize, EngineError> {
    let list = emails.to_vec();
    let n = store.call(move |s| s.remove_accounts(&list)).await?;
    let secrets = secrets.clone();
    let list = emails.to_vec();
    let failures =
        tokio::task::spawn_blocking(move || secrets.delete_many(&list).into_iter().filter(Result::is_err).count())
            .await
            .unwrap_or(0);
    if failures > 0 {
        tracing::warn!(failures, "some keyring entries of removed accounts could not be deleted");
    }
    Ok(n)
}

/// The import's chunks, as indices into `accounts`. With a store that writes in groups,
/// a chunk is whole groups in group order, at least `size` accounts, so that each group is
/// written once; otherwise runs of `size` accounts in file order.
fn plan_chunks(accounts: &[PlannedAccount], size: usize, group: impl Fn(&str) -> Option<usize>) -> Vec<Vec<usize>> {
    let mut groups: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    let mut alone = Vec::new();
    for (i, p) in accounts.iter().enumerate() {
        match group(&p.account.email) {
            Some(g) => groups.entry(g).or_default().push(i),
            None => alone.push(i),
        }
    }
    let mut chunks = Vec::new();
    let mut chunk = Vec::new();
    for i in groups.into_values().flat_map(|g| {
        // A group is never split: the marker after it closes a full chunk.
        g.into_iter().map(Some).chain(std::iter::once(None))
    }) {
        match i {
            Some(i) => chunk.push(i),
            None if chunk.len() >= size => chunks.push(std::mem::take(&mut chunk)),
            None => {}
        }
    }
    for i in alone {
        chunk.push(i);
        if chunk.len() >= size {
            chunks.push(std::mem::take(&mut chunk));
        }
    }
    if !chunk.is_empty() {
        chunks.push(chunk);
    }
    for chunk in &mut chunks {
        chunk.sort_unstable();
    }
    chunks
}

/// Row ids for the new accounts of an import, so that [`Store::accounts`] lists the file's
/// accounts in file order although they are stored out of order: the keyring's shards group
/// accounts by a hash of the address, and an import killed half way leaves a scattered part
/// of the file stored for the next run to fill in.
///
/// `file` is the file's accounts in order, `known` every existing row id by address. Returns
/// one entry per file line: `None` for a known account (it keeps its row), else the new
/// account's id. A new account goes right after the known account before it in the file, or
/// right before the known one after it, counting the new accounts in between, when that id
/// is free, lies between those two neighbours and after every account the file does not
/// mention. The others go after everything, in file order.
pub fn place_new_accounts(file: &[&str], known: &HashMap<String, i64>) -> Vec<Option<i64>> {
    let in_file: HashSet<&str> = file.iter().copied().collect();
    let floor = known.iter().filter(|(e, _)| !in_file.contains(e.as_str())).map(|(_, id)| *id).max().unwrap_or(0);
    let taken: HashSet<i64> = known.values().copied().collect();
    let anchors: Vec<Option<i64>> = file.iter().map(|e| known.get(*e).copied()).collect();
    let mut next: Vec<Option<(usize, i64)>> = vec![None; file.len()];
    let mut after = None;
    for i in (0..file.len()).rev() {
        next[i] = after;
        if let Some(id) = anchors[i] {
            after = Some((i, id));
        }
    }
    let mut placed: Vec<Option<i64>> = vec![None; file.len()];
    let mut before: Option<(usize, i64)> = None;
    for i in 0..file.len() {
        if let Some(id) = anchors[i] {
            before = Some((i, id));
            continue;
        }
        let candidate = match (before, next[i]) {
            (Some((at, id)), _) => id + (i - at) as i64,
            (None, Some((at, id))) => id - (at - i) as i64,
            (None, None) => continue,
        };
        let fits = candidate > floor
            && !taken.contains(&candidate)
            && before.is_none_or(|(_, id)| candidate > id)
            && next[i].is_none_or(|(_, id)| candidate < id);
        if fits {
            placed[i] = Some(candidate);
        }
    }
    let mut tail = known.values().copied().chain(placed.iter().flatten().copied()).max().unwrap_or(0);
    for i in 0..file.len() {
        if anchors[i].is_none() && placed[i].is_none() {
            tail += 1;
            placed[i] = Some(tail);
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::import;

    fn ids(pairs: &[(&str, i64)]) -> HashMap<String, i64> {
        pairs.iter().map(|(e, id)| (e.to_string(), *id)).collect()
    }

    #[test]
    fn a_first_import_goes_after_the_accounts_already_there_in_file_order() {
        let known = ids(&[("old@x", 4)]);
        assert_eq!(place_new_accounts(&["a@x", "b@x", "c@x"], &known), vec![Some(5), Some(6), Some(7)]);
    }

    #[test]
    fn a_rerun_after_a_kill_fills_the_gaps_the_first_run_left() {
        // The first run placed line i at id i + 1 and stored lines 1, 2 and 5 before the kill.
        let file = ["l0@x", "l1@x", "l2@x", "l3@x", "l4@x", "l5@x", "l6@x"];
        let known = ids(&[("l1@x", 2), ("l2@x", 3), ("l5@x", 6)]);
        assert_eq!(
            place_new_accounts(&file, &known),
            vec![Some(1), None, None, Some(4), Some(5), None, Some(7)],
            "every new line goes back to the place the first run gave it"
        );
    }

    #[test]
    fn a_gap_left_by_a_removed_account_is_not_reused() {
        // a@x (1) and z@x (5) exist; 2..4 were removed. z@x is not in the file, so a new
        // account goes after it, not into the gap after a@x.
        let known = ids(&[("a@x", 1), ("z@x", 5)]);
        assert_eq!(place_new_accounts(&["a@x", "n@x", "m@x"], &known), vec![None, Some(6), Some(7)]);
    }

    #[test]
    fn a_file_in_another_order_than_the_table_appends_what_does_not_fit() {
        let known = ids(&[("a@x", 1), ("b@x", 2)]);
        // Nothing fits between b (2) and a (1), and the place after a is b's: both go last,
        // in file order.
        assert_eq!(place_new_accounts(&["b@x", "n@x", "a@x", "m@x"], &known), vec![None, Some(3), None, Some(4)]);
    }

    fn planned(emails: &[&str]) -> Vec<PlannedAccount> {
        let records = import::parse(
            emails.iter().map(|e| format!("{e}----pw----127.0.0.1----993\n")).collect::<String>().as_bytes(),
            ImportFormat::Auto,
        );
        records.records.iter().map(|r| r.plan(&ImportDefaults::default()).unwrap()).collect()
    }

    #[test]
    fn chunks_are_whole_groups_of_at_least_the_chunk_size() {
        let accounts = planned(&["a0@x.org", "b1@x.org", "a2@x.org", "c3@x.org", "b4@x.org", "c5@x.org", "a6@x.org"]);
        let group = |e: &str| Some(usize::from(e.as_bytes()[0] - b'a'));
        assert_eq!(plan_chunks(&accounts, 2, group), vec![vec![0, 2, 6], vec![1, 4], vec![3, 5]]);
        assert_eq!(plan_chunks(&accounts, 4, group), vec![vec![0, 1, 2, 4, 6], vec![3, 5]], "a and b; then c");
        assert_eq!(plan_chunks(&accounts, 100, group), vec![vec![0, 1, 2, 3, 4, 5, 6]]);
        assert_eq!(plan_chunks(&accounts, 3, |_| None), vec![vec![0, 1, 2], vec![3, 4, 5], vec![6]], "file order");
    }
}
