//! The SMTP protocol without I/O: commands, replies, EHLO, message data. Pure functions over
//! bytes, tested with byte strings; the session and the next-hop client only move bytes.

pub(crate) mod command;
pub(crate) mod data;
pub(crate) mod ehlo;
pub(crate) mod reply;
