use super::SmoothError;
pub struct Fragment { pub tfxd: Option<u64> }
pub enum FragmentShape { Full, MoofOnly }
impl Fragment {
    pub fn parse(data: &[u8], _shape: FragmentShape) -> Result<Fragment, SmoothError> {
        if data.len() >= 8 && &data[4..8] == b"moof" { Ok(Fragment { tfxd: None }) } else { Err(SmoothError("not a fragment".into())) }
    }
    pub fn tfxd_time(&self) -> Option<u64> { self.tfxd }
}
