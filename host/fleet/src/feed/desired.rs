//! [`Rollout`]: a node following its group's key in the desired-state bucket, installing the policy
//! and list bundle it names through a [`Node`] (pulled by digest, verified, swapped after the
//! self-check). A failed install keeps what runs and is reported, and is retried with back-off until it
//! succeeds or the next change replaces it.

use std::sync::Arc;
use std::time::Duration;

use async_nats::jetstream;
use async_nats::jetstream::kv::Operation;
use futures::StreamExt;
use pathsec::{Engine, Runtime};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::feed::keys::check_token;
use crate::feed::{DESIRED_BUCKET, DesiredState, FeedError, NatsSettings};
use crate::oci::Node;
use crate::status::Watched;

/// Where a node's rollout stands.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RolloutStatus {
    /// The desired state last read.
    pub desired: Option<DesiredState>,
    /// The policy reference installed by this rollout (the active one).
    pub policy: Option<String>,
    /// The whole rollout installed (active policy, canary, shadow), as JSON.
    pub rollout: Option<String>,
    /// The list bundle reference installed.
    pub lists: Option<String>,
    /// Installs that succeeded.
    pub installs: u64,
    /// Installs that failed (what ran stayed).
    pub failures: u64,
    /// The last error, if any.
    pub last_error: Option<String>,
}

/// A node following its group's desired state; see the module docs.
pub struct Rollout {
    task: JoinHandle<()>,
    status: Watched<RolloutStatus>,
}

impl Rollout {
    /// Follows key `group` of the default desired-state bucket on `nats`, in a task on the current
    /// tokio runtime.
    pub fn start(
        engine: Engine,
        runtime: Runtime,
        node: Arc<Node>,
        nats: NatsSettings,
        group: &str,
    ) -> Result<Rollout, FeedError> {
        Rollout::start_on(engine, runtime, node, nats, DESIRED_BUCKET, group)
    }

    /// Follows key `group` of bucket `bucket`.
    pub fn start_on(
        engine: Engine,
        runtime: Runtime,
        node: Arc<Node>,
        nats: NatsSettings,
        bucket: &str,
        group: &str,
    ) -> Result<Rollout, FeedError> {
        check_token(group, "node group")?;
        let (tx, status) = Watched::new(RolloutStatus::default());
        let (bucket, group) = (bucket.to_owned(), group.to_owned());
        let task = tokio::spawn(async move {
            let mut backoff = Duration::from_millis(100);
            loop {
                if let Err(error) = follow(&engine, &runtime, &node, &nats, &bucket, &group, &tx).await {
                    tx.send_modify(|status| status.last_error = Some(error.to_string()));
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(Duration::from_secs(2));
            }
        });
        Ok(Rollout { task, status })
    }

    /// Where it stands.
    pub fn status(&self) -> RolloutStatus {
        self.status.get()
    }

    /// Waits until `test` holds, or `timeout` passes: `Err` with the last status then.
    pub async fn wait_for(
        &mut self,
        timeout: Duration,
        test: impl Fn(&RolloutStatus) -> bool,
    ) -> Result<RolloutStatus, RolloutStatus> {
        self.status.wait_for(timeout, test).await
    }
}

impl Drop for Rollout {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// Watches the key until the connection or the watch ends.
async fn follow(
    engine: &Engine,
    runtime: &Runtime,
    node: &Node,
    nats: &NatsSettings,
    bucket: &str,
    group: &str,
    tx: &watch::Sender<RolloutStatus>,
) -> Result<(), FeedError> {
    let client = nats.connect(None).await?;
    let js = jetstream::new(client);
    let jetstream_error = |operation: &str| {
        let operation = operation.to_owned();
        move |e: Box<dyn std::error::Error + Send + Sync>| FeedError::JetStream { operation, reason: e.to_string() }
    };
    let kv = js.get_key_value(bucket).await.map_err(|e| jetstream_error(&format!("open bucket {bucket}"))(e.into()))?;
    let mut entries =
        kv.watch_with_history(group).await.map_err(|e| jetstream_error(&format!("watch {group}"))(e.into()))?;
    // A desired state not fully installed yet (a registry out of reach, say): retried with back-off
    // until it is, or until the next change replaces it.
    let mut pending: Option<DesiredState> = None;
    let mut retry = Duration::from_millis(250);
    loop {
        let next = match pending {
            Some(_) => tokio::select! {
                entry = entries.next() => Some(entry),
                _ = tokio::time::sleep(retry) => None,
            },
            None => Some(entries.next().await),
        };
        match next {
            Some(None) => return Ok(()),
            Some(Some(entry)) => {
                let entry = entry.map_err(|e| jetstream_error(&format!("watch {group}"))(e.into()))?;
                if entry.operation != Operation::Put {
                    continue;
                }
                match serde_json::from_slice::<DesiredState>(&entry.value) {
                    Ok(desired) => {
                        tx.send_modify(|status| status.desired = Some(desired.clone()));
                        pending = Some(desired);
                        retry = Duration::from_millis(250);
                    }
                    Err(e) => {
                        let error = FeedError::Value {
                            key: entry.key.clone(),
                            revision: entry.revision,
                            reason: e.to_string(),
                        };
                        tx.send_modify(|status| {
                            status.failures += 1;
                            status.last_error = Some(error.to_string());
                        });
                        continue;
                    }
                }
            }
            None => retry = (retry * 2).min(Duration::from_secs(30)),
        }
        if let Some(desired) = &pending
            && install(engine, runtime, node, desired, tx).await
        {
            pending = None;
        }
    }
}

/// Installs what `desired` names and this rollout has not installed yet; `true` when all of it is in.
async fn install(
    engine: &Engine,
    runtime: &Runtime,
    node: &Node,
    desired: &DesiredState,
    tx: &watch::Sender<RolloutStatus>,
) -> bool {
    let mut done = true;
    // Lists first: a new policy may rely on entries the new lists bring.
    if let Some(lists) = &desired.lists
        && tx.borrow().lists.as_ref() != Some(lists)
    {
        let result = node.install_bundle(runtime, lists).await;
        done &= record(tx, result.map(|_| ()), |status| status.lists = Some(lists.clone()));
    }
    // The policies as a whole: the active one, a canary's candidate and a shadow (a canary or shadow
    // the desired state no longer names ends).
    if let Some(plan) = desired.plan() {
        let key = serde_json::to_string(&plan).unwrap_or_default();
        if tx.borrow().rollout.as_ref() != Some(&key) {
            let result = node.install_rollout(engine, runtime, &plan).await;
            done &= record(tx, result, |status| {
                status.policy = Some(plan.active.clone());
                status.rollout = Some(key);
            });
        }
    }
    done
}

fn record(
    tx: &watch::Sender<RolloutStatus>,
    result: Result<(), crate::oci::OciError>,
    done: impl FnOnce(&mut RolloutStatus),
) -> bool {
    let ok = result.is_ok();
    tx.send_modify(|status| match result {
        Ok(()) => {
            status.installs += 1;
            done(status);
        }
        Err(error) => {
            status.failures += 1;
            status.last_error = Some(error.to_string());
        }
    });
    ok
}
