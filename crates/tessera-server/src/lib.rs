#![doc = include_str!("../README.md")]

pub mod admin;
pub mod app;
pub mod redis;
pub mod settings;
pub mod telemetry;

pub use app::Application;
pub use settings::Settings;
