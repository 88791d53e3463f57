//! HTTP tests: the real server on a real socket, a fresh SQLite file per test.

mod access;
mod cli;
mod credentials;
mod health;
mod login;
mod refresh;
mod tokens;
mod users;
