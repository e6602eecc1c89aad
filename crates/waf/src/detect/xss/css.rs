//! Style sheets that run script: IE `expression()`, `behavior:` / `-moz-binding` bindings,
//! `@import` and script URLs. CSS comments and escapes are removed first, as the CSS parser
//! does, and full-width letters folded, as old IE did.

/// Whether the CSS text can run script or load a sheet.
pub(crate) fn is_active(css: &str) -> bool {
    let mut flat = String::with_capacity(css.len().min(super::MAX_VALUE));
    let mut chars = css.chars().take(super::MAX_VALUE).peekable();
    while let Some(c) = chars.next() {
        match c {
            '/' if chars.peek() == Some(&'*') => {
                // Skip the comment, to its end.
                chars.next();
                let mut prev = ' ';
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        break;
                    }
                    prev = c;
                }
            }
            '\\' => {
                // `\28` is `(`; `\e` (not hex) is `e`.
                let mut hex = String::new();
                while hex.len() < 6 && chars.peek().is_some_and(char::is_ascii_hexdigit) {
                    hex.extend(chars.next());
                }
                if hex.is_empty() {
                    flat.extend(chars.next());
                } else if let Some(decoded) =
                    u32::from_str_radix(&hex, 16).ok().and_then(char::from_u32)
                {
                    flat.push(decoded);
                    if chars.peek() == Some(&' ') {
                        chars.next();
                    }
                }
            }
            // Full-width forms of ASCII.
            '\u{FF01}'..='\u{FF5E}' => flat.extend(char::from_u32(c as u32 - 0xFEE0)),
            c if c.is_whitespace() || c.is_control() => {}
            c => flat.push(c.to_ascii_lowercase()),
        }
    }
    [
        "expression(",
        "javascript:",
        "vbscript:",
        "behavior:",
        "behaviour:",
        "binding:",
        "@import",
        "url(data:text/html",
    ]
    .iter()
    .any(|m| flat.contains(m))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn style_that_runs_script() {
        for css in [
            "width: expression(alert(1));",
            "x:ex/*KCF*/pression(alert(1))",
            "x:\\65xpression(alert(1))",
            "*{x:ｅｘｐｒｅｓｓｉｏｎ(alert(1))}",
            "behavior: url(xss.htc);",
            "background-image:url(\"javascript:alert(1)\")",
            "@import 'http://evil/x.css';",
        ] {
            assert!(is_active(css), "{css}");
        }
        for css in [
            "border: 1px #661aff solid; background-color: #e6e6ff; padding: 10px;",
            "color:red",
        ] {
            assert!(!is_active(css), "{css}");
        }
    }
}
