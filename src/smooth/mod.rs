//! STUB — replaced by the protocol-model work. Same public signatures.
pub mod fragment;
pub mod manifest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SmoothError(pub String);

impl std::fmt::Display for SmoothError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
impl std::error::Error for SmoothError {}
