//! HTTP tests: the real server on a real socket, a fresh SQLite file per test.

mod access;
mod cli;
mod credentials;
mod health;
mod login;
mod refresh;
mod resource_server;
mod tenants;
mod tokens;
mod users;
