//! Fuzzes the server's configuration loading: the input is written as a TOML file and read by
//! `tessera::Settings::load` (crates/tessera/src/settings.rs), exactly as `tessera --config FILE`
//! reads it at start-up (the loader takes a path, not a string), with no environment variables.
//! Then it computes what start-up computes from the settings.
//!
//! It proves that no file panics the loader (a bad file is an error, never a crash), and that
//! settings it accepts hold what `Settings::validate` promises and what start-up relies on: they
//! validate again, the key algorithm, trusted proxies and token format parse, the key retirement
//! (`Settings::key_retirement`) is at least the access-token lifetime, a new session is alive, and
//! every lockout lasts a positive time no longer than the configured maximum.
#![no_main]

use std::io::Write as _;

use libfuzzer_sys::fuzz_target;
use tessera::Settings;
use tessera_domain::credentials::TokenFormat;
use tessera_domain::lockout::LockoutKey;
use tessera_domain::time::UnixTime;
use tessera_domain::user::UserId;

fuzz_target!(|data: &[u8]| {
    let mut file = tempfile::Builder::new()
        .suffix(".toml")
        .tempfile()
        .expect("a temporary file");
    file.write_all(data).expect("the file written");
    let Ok(settings) = Settings::load(Some(file.path()), Vec::<(String, String)>::new()) else {
        return;
    };

    assert!(
        settings.validate().is_ok(),
        "loaded settings do not validate"
    );
    assert!(settings.keys.signing_alg().is_ok());
    assert!(settings.rate_limit.trusted_proxy_addrs().is_ok());
    assert!(TokenFormat::parse(&settings.tokens.default_format).is_some());

    // How long a retired signing key stays published (the server's key rotation, `tessera keys`).
    let retire_after = settings.key_retirement();
    assert!(retire_after >= settings.tokens.access_ttl_seconds);

    let now = UnixTime(1_700_000_000);
    assert!(
        settings.sessions.alive(now, now, now),
        "a session just opened is not alive"
    );

    for (_, limit) in settings
        .lockout
        .keys(&LockoutKey::user(UserId(1)), Some("192.0.2.1"), false)
    {
        for failures in [1, limit.max_failures, limit.max_failures.saturating_mul(40)] {
            if let Some(seconds) = limit.lock_for(failures) {
                assert!(
                    seconds > 0 && seconds <= limit.max_duration_seconds,
                    "a lock of {seconds} s"
                );
            }
        }
    }
});
