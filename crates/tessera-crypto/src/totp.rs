//! TOTP (RFC 6238) with totp-rs, QR codes with qrcode, and backup codes from the OS random source.

use tessera_domain::ports::OneTimeCodes;
use tessera_domain::time::UnixTime;
use totp_rs::{Builder, Secret, Totp};

/// The RFC 6238 parameters standard authenticator apps use: SHA-1, 6 digits, 30 s, ±1 step.
#[derive(Debug, Clone, Copy, Default)]
pub struct TotpCodes;

/// Letters and digits that cannot be mistaken for one another (no 0/o, 1/i/l).
const BACKUP_ALPHABET: &[u8; 31] = b"abcdefghjkmnpqrstuvwxyz23456789";

fn totp(secret: &str, account: &str, issuer: Option<&str>) -> anyhow::Result<Totp> {
    let bytes = Secret::try_from_base32(secret)
        .map_err(|e| anyhow::anyhow!("invalid TOTP secret: {e:?}"))?;
    Builder::new()
        .with_secret(bytes)
        .with_account_name(account)
        .with_issuer(issuer)
        .build()
        .map_err(|e| anyhow::anyhow!("cannot build a TOTP: {e:?}"))
}

impl OneTimeCodes for TotpCodes {
    fn new_totp_secret(&self) -> String {
        Secret::from(crate::random_bytes::<20>()).to_base32()
    }

    fn enrolment(
        &self,
        secret: &str,
        account: &str,
        issuer: &str,
    ) -> anyhow::Result<(String, String)> {
        // `:` separates issuer and account in the URI's label, so neither may hold one.
        let account = account.replace(':', "_");
        let issuer = issuer.replace(':', "_");
        let uri = totp(secret, &account, Some(&issuer))?
            .to_url()
            .map_err(|e| anyhow::anyhow!("cannot make an otpauth URI: {e:?}"))?;
        let svg = qrcode::QrCode::new(uri.as_bytes())?
            .render::<qrcode::render::svg::Color<'_>>()
            .min_dimensions(200, 200)
            .build();
        Ok((uri, svg))
    }

    fn totp_step(&self, secret: &str, code: &str, now: UnixTime) -> Option<i64> {
        if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let t = totp(secret, "check", None).ok()?;
        let time = u64::try_from(now.seconds()).ok()?;
        t.check(code, time)
            .and_then(|step| i64::try_from(step).ok())
    }

    fn new_backup_code(&self) -> String {
        // Rejection sampling keeps every character equally likely: about 49 bits in all.
        let limit = 256 - 256 % BACKUP_ALPHABET.len();
        let mut chars = Vec::with_capacity(10);
        while chars.len() < 10 {
            for b in crate::random_bytes::<16>() {
                if usize::from(b) < limit && chars.len() < 10 {
                    chars.push(char::from(
                        BACKUP_ALPHABET[usize::from(b) % BACKUP_ALPHABET.len()],
                    ));
                }
            }
        }
        let (a, b) = chars.split_at(5);
        format!(
            "{}-{}",
            a.iter().collect::<String>(),
            b.iter().collect::<String>()
        )
    }
}

#[cfg(test)]
#[allow(clippy::string_slice)] // fixtures of known shape
mod tests {
    use super::*;

    /// RFC 6238 Appendix B, SHA-1: the secret is ASCII "12345678901234567890".
    #[test]
    fn matches_the_rfc_6238_test_vectors() {
        let secret = Secret::from(b"12345678901234567890".to_vec()).to_base32();
        let t = totp(&secret, "a", None).unwrap();
        for (time, code) in [
            (59_u64, "94287082"),
            (1_111_111_109, "07081804"),
            (2_000_000_000, "69279037"),
        ] {
            // The vectors have 8 digits; a 6-digit code is their last six.
            assert_eq!(t.generate(time).to_string(), code[2..]);
        }
        let codes = TotpCodes;
        assert_eq!(
            codes.totp_step(&secret, &code_at(&t, 59), UnixTime(59)),
            Some(1)
        );
        assert_eq!(
            codes.totp_step(&secret, &code_at(&t, 59), UnixTime(89)),
            Some(1)
        );
        assert_eq!(
            codes.totp_step(&secret, &code_at(&t, 59), UnixTime(120)),
            None
        );
        assert_eq!(codes.totp_step(&secret, "12345", UnixTime(59)), None);
        assert_eq!(codes.totp_step(&secret, "abcdef", UnixTime(59)), None);
    }

    fn code_at(t: &Totp, time: u64) -> String {
        t.generate(time).to_string()
    }

    #[test]
    fn enrolment_gives_a_standard_uri_and_an_svg() {
        let codes = TotpCodes;
        let secret = codes.new_totp_secret();
        assert_eq!(secret.len(), 32);
        let (uri, svg) = codes.enrolment(&secret, "alice", "Tessera").unwrap();
        assert!(
            uri.starts_with("otpauth://totp/Tessera:alice?secret="),
            "{uri}"
        );
        assert!(uri.contains(&secret));
        assert!(svg.contains("<svg"));
    }

    #[test]
    fn backup_codes_are_ten_unambiguous_characters() {
        let code = TotpCodes.new_backup_code();
        assert_eq!(code.len(), 11);
        assert_eq!(&code[5..6], "-");
        assert!(code
            .chars()
            .filter(|c| *c != '-')
            .all(|c| BACKUP_ALPHABET.contains(&(c as u8))));
        assert_ne!(code, TotpCodes.new_backup_code());
    }
}
