//! stub
/// stub
pub struct SignatureConfig;
/// stub
pub struct DirectoryConfig;
