//! The Content Hub service, in rooms (ARCHITECTURE.md has the map): the application core (`app`)
//! over the repositories (`db`, SQLite or PostgreSQL) and the blob stores (`store`, a local folder
//! or S3); two HTTP faces on the core, the JSON API with tus (`api`) and the pages (`web`), joined
//! into one server (`server`); the workers (`worker`, `validate`). `tests/layering.rs` keeps the
//! walls.

pub mod api;
pub mod app;
pub mod db;
pub mod secrets;
pub mod server;
pub mod store;
pub mod validate;
pub mod web;
pub mod worker;

pub use db::{Db, RepoError};
