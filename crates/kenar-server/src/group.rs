//! Group commit: concurrent callers' writes go to the database together, in one transaction
//! (one fsync), written by one task. Each caller waits for the group it joined to commit, and
//! gets its own item's result. Ingestion calls and subscription registrations both go through
//! one of these.

use std::future::Future;
use std::sync::Arc;

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

type Reply<R> = oneshot::Sender<Result<R, GroupFailed>>;

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
    /// waiting until the items' `weight` reaches `max_weight` (at least one item). `write` gets
    /// the group's items in order and answers with one result per item, in the same order.
    pub fn start<F, Fut>(max_weight: usize, weight: fn(&T) -> usize, write: F) -> Self
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<Vec<R>, StoreError>> + Send,
    {
        let (tx, mut rx) = mpsc::channel::<(T, Reply<R>)>(1024);
        tokio::spawn(async move {
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
                let (items, replies): (Vec<T>, Vec<Reply<R>>) = jobs.into_iter().unzip();
                match write(items).await {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn concurrent_callers_each_get_their_own_result_and_a_failure_reaches_its_caller() {
        let groups = Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = Arc::clone(&groups);
        let doubler = GroupCommit::start(
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
