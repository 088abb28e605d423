//! smoothcache: an offline cache for Microsoft Smooth Streaming with a C ABI.
//!
//! The Rust API lives in [`cache`]; the C ABI in `ffi` (see `include/smoothcache.h`).

// The header is made from `ffi` alone; `cbindgen:ignore` keeps the Rust-side modules' public
// constants out of it.
/// cbindgen:ignore
pub mod cache;
/// cbindgen:ignore
pub mod completion;
/// cbindgen:ignore
pub mod error;
/// cbindgen:ignore
pub mod fetch;
pub mod ffi;
/// cbindgen:ignore
pub mod key;
/// cbindgen:ignore
pub mod log;
/// cbindgen:ignore
mod pool;
/// cbindgen:ignore
pub mod serve;
/// cbindgen:ignore
pub mod smooth;
/// cbindgen:ignore
pub mod store;

pub use cache::{Cache, Response, Stats};
pub use error::{Error, Result, Status};
pub use store::{Durability, Eviction};
