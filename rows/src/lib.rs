//! Everything in msq-rs that touches rows: reading `EXTERN` inputs ([`input`]), the leaf
//! DataFusion operators of a stage ([`exec`]), sorting and merging ([`merge`]), the shuffle
//! between stages ([`shuffle`]), per-task scratch space ([`scratch`]), plans and work orders on
//! the wire ([`wire`]), deep storage ([`storage`]) and the HTTP client nodes talk with
//! ([`rpc`]). The model these follow is `msq-engine`.

pub mod exec;
pub mod input;
pub mod lookup;
pub mod memory;
pub mod merge;
pub mod rpc;
pub mod scratch;
pub mod shuffle;
pub mod storage;
#[cfg(test)]
mod test_rng;
pub mod views;
pub mod wire;
