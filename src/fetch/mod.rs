//! The network side: GET with reqwest (http.rs) and whole-presentation downloads (download.rs).

pub mod download;
pub mod http;
