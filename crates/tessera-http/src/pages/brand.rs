//! The brand of the pages: the product's name, its logo and its colours (`[branding]`).
//!
//! The pages' Content-Security-Policy allows no inline style, so the colours are a small
//! stylesheet of their own, `/assets/theme.css`, which sets the custom properties
//! `tessera.css` reads. The theme and the logo are linked with a digest of their content in
//! the query (`?v=…`): browsers may keep them a day, and a change shows at once.

use actix_web::web::Bytes;

/// The default name, as `[branding] product_name` defaults to.
pub const DEFAULT_PRODUCT_NAME: &str = "Tessera";
/// The default accent colour (buttons), as `tessera.css` falls back to.
pub const DEFAULT_ACCENT: &str = "#1f5fd1";
/// The default background colour, as `tessera.css` falls back to.
pub const DEFAULT_BACKGROUND: &str = "#eef1f5";

/// A logo image, served at `/assets/logo`.
#[derive(Debug, Clone)]
pub struct Logo {
    pub bytes: Bytes,
    /// `image/png`, `image/svg+xml` or `image/webp`.
    pub content_type: &'static str,
}

/// What the pages show of the organisation that runs Tessera.
#[derive(Debug, Clone)]
pub struct Brand {
    /// In every page's title and above its content.
    pub product_name: String,
    /// Where the pages link the theme stylesheet, with its digest.
    pub theme_href: String,
    /// Where the pages show the logo from, with its digest; `None` without a logo.
    pub logo_src: Option<String>,
    theme_css: String,
    logo: Option<Logo>,
}

impl Default for Brand {
    /// Tessera's own name and colours, no logo.
    fn default() -> Self {
        Self::build(
            DEFAULT_PRODUCT_NAME.to_owned(),
            DEFAULT_ACCENT,
            DEFAULT_BACKGROUND,
            None,
        )
    }
}

impl Brand {
    /// The brand of `product_name`, in these colours (CSS `#rgb` or `#rrggbb`), with `logo`.
    ///
    /// # Errors
    /// For a colour of another form: it is written into a stylesheet, so nothing else may pass.
    pub fn new(
        product_name: String,
        accent_color: &str,
        background_color: &str,
        logo: Option<Logo>,
    ) -> anyhow::Result<Self> {
        for color in [accent_color, background_color] {
            anyhow::ensure!(
                is_hex_color(color),
                "a colour of the pages must be #rgb or #rrggbb, got {color:?}"
            );
        }
        Ok(Self::build(
            product_name,
            accent_color,
            background_color,
            logo,
        ))
    }

    fn build(
        product_name: String,
        accent_color: &str,
        background_color: &str,
        logo: Option<Logo>,
    ) -> Self {
        let theme_css = format!(
            "/* The colours of [branding], set at start-up. */\n\
             :root {{ --accent: {accent_color}; --background: {background_color}; }}\n"
        );
        let theme_href = format!("/assets/theme.css?v={}", digest(theme_css.as_bytes()));
        let logo_src = logo
            .as_ref()
            .map(|l| format!("/assets/logo?v={}", digest(&l.bytes)));
        Self {
            product_name,
            theme_href,
            logo_src,
            theme_css,
            logo,
        }
    }

    /// The theme stylesheet: the colours as custom properties.
    pub fn theme_css(&self) -> &str {
        &self.theme_css
    }

    /// The logo, when one is configured.
    pub fn logo(&self) -> Option<&Logo> {
        self.logo.as_ref()
    }
}

/// Whether `value` is `#rgb` or `#rrggbb` in hexadecimal digits.
fn is_hex_color(value: &str) -> bool {
    value.strip_prefix('#').is_some_and(|digits| {
        matches!(digits.len(), 3 | 6) && digits.bytes().all(|b| b.is_ascii_hexdigit())
    })
}

/// A short digest of `bytes` (64-bit FNV-1a, in hexadecimal) that changes with them: it names a
/// version of an asset in its URL, it protects nothing.
fn digest(bytes: &[u8]) -> String {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    format!("{hash:016x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_colours_become_a_stylesheet_whose_link_changes_with_them() {
        let default = Brand::default();
        assert_eq!(default.product_name, "Tessera");
        assert!(default
            .theme_css()
            .contains(":root { --accent: #1f5fd1; --background: #eef1f5; }"));
        assert!(default.logo_src.is_none());
        let acme = Brand::new("Acme".into(), "#c05", "#FAFAFA", None).unwrap();
        assert!(acme.theme_css().contains("--accent: #c05;"));
        assert!(acme.theme_href.starts_with("/assets/theme.css?v="));
        assert_ne!(acme.theme_href, default.theme_href);
        for bad in ["red", "#12", "#1234567", "#c05;}body{", "c05"] {
            assert!(
                Brand::new("Acme".into(), bad, "#fff", None).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_logo_is_linked_by_its_digest() {
        let logo = |bytes: &'static [u8]| Logo {
            bytes: Bytes::from_static(bytes),
            content_type: "image/png",
        };
        let a = Brand::new("A".into(), "#000", "#fff", Some(logo(b"one"))).unwrap();
        let b = Brand::new("A".into(), "#000", "#fff", Some(logo(b"two"))).unwrap();
        let src = a.logo_src.clone().unwrap();
        assert!(src.starts_with("/assets/logo?v="), "{src}");
        assert_ne!(a.logo_src, b.logo_src);
        assert_eq!(a.logo().unwrap().content_type, "image/png");
        assert_eq!(digest(b""), "cbf29ce484222325");
    }
}
