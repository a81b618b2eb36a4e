//! Group commit: concurrent callers' writes go to the database together, in one transaction
//! (one fsync), written by one task. Each caller waits for the group it joined to commit.

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

/// A queue of items written in groups of at most `max` by one writer function.
#[derive(Debug)]
pub struct GroupCommit<T> {
    tx: mpsc::Sender<(T, oneshot::Sender<Result<(), GroupFailed>>)>,
}

impl<T> Clone for GroupCommit<T> {
    fn clone(&self) -> Self {
        GroupCommit {
            tx: self.tx.clone(),
        }
    }
}

impl<T: Send + 'static> GroupCommit<T> {
    /// Starts the writer task; it runs until every handle is dropped.
    pub fn start<F, Fut>(max: usize, write: F) -> GroupCommit<T>
    where
        F: Fn(Vec<T>) -> Fut + Send + 'static,
        Fut: Future<Output = Result<(), StoreError>> + Send,
    {
        let (tx, mut rx) = mpsc::channel(4 * max);
        tokio::spawn(async move {
            let mut jobs: Vec<(T, oneshot::Sender<Result<(), GroupFailed>>)> =
                Vec::with_capacity(max);
            while rx.recv_many(&mut jobs, max).await > 0 {
                let (items, replies): (Vec<T>, Vec<_>) = jobs.drain(..).unzip();
                let result = write(items)
                    .await
                    .map_err(|e| GroupFailed::Store(Arc::new(e)));
                for reply in replies {
                    let _ = reply.send(result.clone());
                }
            }
        });
        GroupCommit { tx }
    }

    /// Writes `item` with whatever else is waiting; returns once it is committed.
    pub async fn write(&self, item: T) -> Result<(), GroupFailed> {
        let (reply, answer) = oneshot::channel();
        self.tx
            .send((item, reply))
            .await
            .map_err(|_| GroupFailed::WriterGone)?;
        answer.await.map_err(|_| GroupFailed::WriterGone)?
    }
}
