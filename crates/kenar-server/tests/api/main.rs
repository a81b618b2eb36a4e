//! Black-box tests: the real server on a random port, driven over HTTP, on SQLite and on
//! PostgreSQL.

mod admin;
mod bad_input;
mod cache;
mod delivery;
mod durability;
mod helpers;
mod introspection;
mod limits;
mod matrix;
mod oauth;
mod openapi;
mod process;
mod receiver;
mod routing;
mod send;
mod stream;
mod subscriptions;
