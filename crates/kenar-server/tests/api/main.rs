//! Black-box tests: the real server on a random port, driven over HTTP, on SQLite and on
//! PostgreSQL.

mod admin;
mod bad_input;
mod delivery;
mod durability;
mod helpers;
mod matrix;
mod openapi;
mod process;
mod receiver;
mod routing;
mod subscriptions;
