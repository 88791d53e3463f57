#![doc = include_str!("../README.md")]

pub mod admin;
pub mod app;
pub mod redis;
pub mod telemetry;

pub use app::Application;
pub use tessera::settings;
pub use tessera::Settings;
