//! smoothcache: an offline cache for Microsoft Smooth Streaming with a C ABI.
//!
//! The Rust API lives in [`cache`]; the C ABI in `ffi` (see `include/smoothcache.h`).

pub mod cache;
pub mod completion;
pub mod error;
pub mod ffi;
pub mod key;
mod pool;
pub mod smooth;
pub mod store;

pub use cache::{Cache, Response, Stats};
pub use error::{Error, Result, Status};
pub use store::{Durability, Eviction};
