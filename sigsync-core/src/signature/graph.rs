//! stub
/// stub
pub struct GraphDirectory;
/// stub
pub struct GraphDirectoryBuilder;
