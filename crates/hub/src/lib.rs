//! The Content Hub service: repositories over SQLite or PostgreSQL, chosen at start-up from the
//! database URL, with one behaviour test suite run against both.

pub mod api;
pub mod db;
pub mod secrets;
pub mod store;
pub mod validate;
pub mod web;
pub mod worker;

pub use db::{Db, RepoError};
