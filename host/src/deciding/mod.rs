//! The deciding core: the live runtime (`live`: the active rollout, the fact store, swaps after a
//! self-check), a worker per thread that decides per packet through its flow cache (`worker`,
//! `cache`), the policy instances each worker runs (`instances`) and data sessions (`session`). Never
//! uses `related` (related decisions reach it through `Worker::related`) or the drivers above it.

pub(crate) mod cache;
pub(crate) mod instances;
pub(crate) mod live;
mod records;
pub(crate) mod session;
mod shadow;
mod snapshot;
pub(crate) mod worker;
