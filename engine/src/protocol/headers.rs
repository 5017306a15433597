//! HTTP header names of the controller ↔ worker protocol, shared by both sides.

/// On a work order: the base URL of the controller the worker posts its messages to.
pub const CONTROLLER_URL: &str = "x-msq-controller-url";
/// On a work order: the controller task the order belongs to.
pub const TASK_ID: &str = "x-msq-task-id";
/// On a worker's message to the controller: the attempt number of the sending worker.
pub const ATTEMPT: &str = "x-msq-attempt";
