//! The commands the window may call. Each is thin: it reaches the engine through
//! [`EngineSlot`](crate::state::EngineSlot), runs the work on its own task, and returns
//! `{code, message}` errors.

pub mod accounts;
pub mod codes;
pub mod import;
pub mod labels;
pub mod local_api;
pub mod messages;
pub mod send;
pub mod settings;
pub mod stats;
pub mod system;
pub mod watch;
