//! Group commit: concurrent callers' writes go to the database together, in one transaction
//! (one fsync), written by one task. Each caller waits for the group it joined to commit, and
//! gets its own item's result. Ingestion calls and subscription registrations both go through
//! one of these.
//!
//! Callers that write again as soon as they are answered (a client on a keep-alive connection,
//! a publisher with a window) otherwise settle into two half-size groups taking turns: while one
//! commits, the other's callers queue behind it, so every call waits for two commits and the
//! disk syncs twice per round. A group therefore waits briefly for the callers the last one
//! answered, where that pays (see [`Pacing`]).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use crate::store::StoreError;

/// Why a group's write failed; every caller in the group gets it.
#[derive(Debug, Clone, thiserror::Error)]
pub enum GroupFailed {
    #[error("the writer has stopped")]
    WriterGone,
    #[error("writing the group failed")]
    Store(#[source] Arc<StoreError>),
}

impl GroupFailed {
    /// Whether the database was out of reach (see [`StoreError::is_unavailable`]).
    pub fn is_unavailable(&self) -> bool {
        matches!(self, GroupFailed::Store(e) if e.is_unavailable())
    }
}

type Reply<R> = oneshot::Sender<Result<R, GroupFailed>>;

/// Whether a group waits for the callers the group before it answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pacing {
    /// A group is what is queued, written at once. Right where a group's write is mostly work
    /// rather than the disk's sync: the batched ingestion benchmark lost a fifth of its rate
    /// when its writer waited.
    Eager,
    /// A group waits briefly for the callers it expects back (see the private `Pace`). Right for
    /// small writes from callers on keep-alive connections, where the sync is most of a commit:
    /// about a quarter more registrations per second in the register benchmark.
    ForReturningCallers,
}

/// A queue of items of type `T`, written in groups by one writer function that answers each
/// item with an `R`.
#[derive(Debug)]
pub struct GroupCommit<T, R = ()> {
    tx: mpsc::Sender<(T, Reply<R>)>,
}

impl<T, R> Clone for GroupCommit<T, R> {
    fn clone(&self) -> Self {
        GroupCommit {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + 'static, R: Send + 'static> GroupCommit<T, R> {
    /// Starts the writer task; it runs until every handle is dropped. A group takes what is
    /// waiting (and, with [`Pacing::ForReturningCallers`], what it expects back soon) until the
    /// items' `weight` reaches `max_weight` (at least one item). `write` gets the group's items
    /// in order and answers with one result per item, in the same order.
    pub fn start<F, Fut>(
        pacing: Pacing,
        max_weight: usize,
        weight: fn(&T) -> usize,
        write: F,
    ) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, StoreError>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<(T, Reply<R>)>(1024);
        tokio::spawn(async move {
            let mut pace = Pace::default();
            while let Some(first) = rx.recv().await {
                let mut taken = weight(&first.0);
                let mut jobs = vec![first];
                while taken < max_weight {
                    match rx.try_recv() {
                        Ok(job) => {
                            taken += weight(&job.0);
                            jobs.push(job);
                        }
                        Err(_) => break,
                    }
                }
                if pacing == Pacing::ForReturningCallers
                    && taken < max_weight
                    && pace.worth_waiting(jobs.len())
                {
                    let deadline = tokio::time::Instant::now() + RETURN_WAIT;
                    while taken < max_weight && jobs.len() < pace.expected {
                        match tokio::time::timeout_at(deadline, rx.recv()).await {
                            Ok(Some(job)) => {
                                taken += weight(&job.0);
                                jobs.push(job);
                            }
                            Ok(None) => break,
                            Err(_) => {
                                pace.gave_up();
                                break;
                            }
                        }
                    }
                }
                let callers = jobs.len();
                let (items, replies): (Vec<T>, Vec<Reply<R>>) = jobs.into_iter().unzip();
                let written = write(items).await;
                pace.written(callers, rx.len());
                match written {
                    Ok(results) => {
                        // A writer that answered fewer items leaves their callers with
                        // `WriterGone`, never with another item's result.
                        for (reply, result) in replies.into_iter().zip(results) {
                            let _ = reply.send(Ok(result));
                        }
                    }
                    Err(e) => {
                        let failed = GroupFailed::Store(Arc::new(e));
                        for reply in replies {
                            let _ = reply.send(Err(failed.clone()));
                        }
                    }
                }
            }
        });
        GroupCommit { tx }
    }

    /// Writes `item` with whatever else is waiting; returns its result once committed.
    pub async fn write(&self, item: T) -> Result<R, GroupFailed> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((item, reply))
            .await
            .map_err(|_| GroupFailed::WriterGone)?;
        answer.await.map_err(|_| GroupFailed::WriterGone)?
    }
}

/// The longest a group waits for callers expected back. Answered callers come back within a
/// fraction of a commit (the round trip of a keep-alive request, about 0.1-0.2 ms in the
/// register benchmark), so this only runs out when they do not come back at all.
const RETURN_WAIT: Duration = Duration::from_millis(1);

/// After a wait that ran out, this many groups are written without waiting.
const GROUPS_WITHOUT_WAITING: u32 = 16;

/// When a group waits for more callers before it is written.
///
/// A group expects back the callers of the group before it (answered as this one is taken)
/// beside those that queued while that group was written: that many callers are about. It
/// waits for them up to [`RETURN_WAIT`], so callers that keep writing end up in one group and
/// one commit per round. A lone caller is never kept waiting (its group expects one), and
/// callers that arrive independently (an open-loop stream) soon stop the waiting: once a wait
/// runs out, the next [`GROUPS_WITHOUT_WAITING`] groups do not wait, so at most one group in
/// that many pays it.
#[derive(Debug, Default)]
struct Pace {
    /// Callers the next group expects.
    expected: usize,
    /// Groups still to be written without waiting.
    impatient: u32,
}

impl Pace {
    /// Whether a group of `gathered` callers waits for more.
    fn worth_waiting(&self, gathered: usize) -> bool {
        self.impatient == 0 && gathered < self.expected
    }

    /// The expected callers did not all come back in time.
    fn gave_up(&mut self) {
        self.impatient = GROUPS_WITHOUT_WAITING + 1;
    }

    /// A group of `callers` was written, and `queued` more came meanwhile.
    fn written(&mut self, callers: usize, queued: usize) {
        self.expected = callers + queued;
        self.impatient = self.impatient.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_group_waits_for_the_callers_the_last_one_answered_unless_they_stopped_coming_back() {
        let mut pace = Pace::default();
        assert!(!pace.worth_waiting(1), "the first caller writes at once");

        // Eight written while eight more queued: sixteen callers are about.
        pace.written(8, 8);
        assert!(pace.worth_waiting(8));
        assert!(!pace.worth_waiting(16));

        // A lone caller is never kept waiting for others.
        pace.written(1, 0);
        assert!(!pace.worth_waiting(1));

        // Expected callers that do not come back in time stop the waiting for a while.
        pace.written(8, 8);
        pace.gave_up();
        for _ in 0..GROUPS_WITHOUT_WAITING {
            pace.written(8, 8);
            assert!(!pace.worth_waiting(8));
        }
        pace.written(8, 8);
        assert!(pace.worth_waiting(8));
    }

    #[tokio::test(start_paused = true)]
    async fn callers_that_write_again_at_once_end_up_in_one_group() {
        const CALLERS: usize = 6;
        let groups = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&groups);
        let group = GroupCommit::start(
            Pacing::ForReturningCallers,
            256,
            |_: &usize| 1,
            move |items: Vec<usize>| {
                seen.lock().expect("lock").push(items.len());
                async move {
                    // A commit: time in which the answered callers come back.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Ok(vec![(); items.len()])
                }
            },
        );
        let callers: Vec<_> = (0..CALLERS)
            .map(|i| {
                let group = group.clone();
                tokio::spawn(async move {
                    // Half start a moment later, so the first two groups split them evenly.
                    tokio::time::sleep(Duration::from_millis((i % 2) as u64)).await;
                    for _ in 0..20 {
                        group.write(i).await.expect("written");
                    }
                })
            })
            .collect();
        for caller in callers {
            caller.await.expect("caller");
        }
        let sizes = groups.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), CALLERS * 20);
        // From the second round on the callers write as one group, until the half that began
        // first writes its last. Without the wait the two halves take turns: 3, 3, 3, ...
        assert!(
            sizes[1..sizes.len() - 1].iter().all(|&n| n == CALLERS),
            "group sizes {sizes:?}"
        );
    }

    #[tokio::test]
    async fn concurrent_callers_each_get_their_own_result_and_a_failure_reaches_its_caller() {
        let groups = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&groups);
        let doubler = GroupCommit::start(
            Pacing::Eager,
            8,
            |_: &i64| 1,
            move |items: Vec<i64>| {
                seen.lock().expect("lock").push(items.len());
                async move {
                    if items.contains(&-1) {
                        return Err(StoreError::Corrupt("refused".into()));
                    }
                    Ok(items.into_iter().map(|i| i * 2).collect())
                }
            },
        );
        let calls: Vec<_> = (0..20)
            .map(|i| {
                let d = doubler.clone();
                tokio::spawn(async move { d.write(i).await })
            })
            .collect();
        for (i, call) in calls.into_iter().enumerate() {
            let doubled = call.await.expect("task").expect("written");
            assert_eq!(doubled, 2 * i as i64);
        }
        let sizes = groups.lock().expect("lock").clone();
        assert_eq!(sizes.iter().sum::<usize>(), 20);
        assert!(sizes.iter().all(|&n| (1..=8).contains(&n)), "{sizes:?}");

        let failed = doubler.write(-1).await;
        assert!(matches!(failed, Err(GroupFailed::Store(_))), "{failed:?}");
    }
}
