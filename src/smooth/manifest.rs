use super::SmoothError;
pub struct Manifest;
impl Manifest {
    pub fn parse(data: &[u8]) -> Result<Manifest, SmoothError> {
        if data.windows(20).any(|w| w == b"SmoothStreamingMedia") && !data.windows(9).any(|w| w == b"<!DOCTYPE") {
            Ok(Manifest)
        } else {
            Err(SmoothError("not a manifest".into()))
        }
    }
}
