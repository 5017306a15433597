//! The internal controller ↔ worker protocol over HTTP, controller side: the endpoints
//! workers post their messages to ([`endpoints`], Druid's `ControllerChatHandler`), the
//! client the controller calls workers with ([`client`]), and the pool of remote workers that
//! registered ([`registry`]). Druid's public API is the `druid_api` module.

pub mod client;
pub mod endpoints;
pub mod registry;

pub use client::HttpWorkerClient;
pub use endpoints::ControllerHub;
pub use registry::WorkerRegistry;
