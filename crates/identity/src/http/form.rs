//! Request bodies of the `/auth` endpoints: `application/x-www-form-urlencoded` (OAuth's
//! format) or a flat JSON object of strings, with size and field-count limits.

use percent_encoding::percent_decode_str;

/// The largest body the `/auth` endpoints read.
pub const MAX_BODY_BYTES: usize = 16 * 1024;
/// The most fields a body may carry.
pub const MAX_FIELDS: usize = 32;

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FormError {
    /// Larger than [`MAX_BODY_BYTES`] or more than [`MAX_FIELDS`] fields.
    #[error("the request body is too large")]
    TooLarge,
    /// Not valid form encoding, UTF-8 or a flat JSON object of strings.
    #[error("the request body is malformed")]
    Malformed,
    /// A field appears twice (RFC 6749 section 3.2: parameters must not repeat).
    #[error("a parameter is repeated")]
    Repeated,
}

/// The fields of a body, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Form {
    fields: Vec<(String, String)>,
}

impl Form {
    /// The value of `name`, if present and non-empty.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    fn push(&mut self, name: String, value: String) -> Result<(), FormError> {
        if self.fields.len() >= MAX_FIELDS {
            return Err(FormError::TooLarge);
        }
        if self.fields.iter().any(|(k, _)| *k == name) {
            return Err(FormError::Repeated);
        }
        self.fields.push((name, value));
        Ok(())
    }
}

fn decode_component(text: &str) -> Result<String, FormError> {
    let spaced = text.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .map(|c| c.into_owned())
        .map_err(|_| FormError::Malformed)
}

/// Parse a form-encoded body.
pub fn parse_urlencoded(body: &[u8]) -> Result<Form, FormError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(FormError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| FormError::Malformed)?;
    let mut form = Form::default();
    for pair in text.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        form.push(decode_component(name)?, decode_component(value)?)?;
    }
    Ok(form)
}

/// Parse a JSON object whose values are strings (others are refused).
pub fn parse_json(body: &[u8]) -> Result<Form, FormError> {
    if body.len() > MAX_BODY_BYTES {
        return Err(FormError::TooLarge);
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|_| FormError::Malformed)?;
    let object = value.as_object().ok_or(FormError::Malformed)?;
    let mut form = Form::default();
    for (name, value) in object {
        let value = value.as_str().ok_or(FormError::Malformed)?;
        form.push(name.clone(), value.to_owned())?;
    }
    Ok(form)
}

/// Parse a body by its content type (form encoding unless it says JSON).
pub fn parse_body(content_type: Option<&str>, body: &[u8]) -> Result<Form, FormError> {
    let is_json = content_type.is_some_and(|c| {
        let media = c.split(';').next().unwrap_or_default().trim();
        media.eq_ignore_ascii_case("application/json")
    });
    if is_json {
        parse_json(body)
    } else {
        parse_urlencoded(body)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn form_bodies_decode_and_refuse_repeats() {
        let form =
            parse_urlencoded(b"grant_type=refresh_token&scope=user%2FPatient.rs+openid").unwrap();
        assert_eq!(form.get("grant_type"), Some("refresh_token"));
        assert_eq!(form.get("scope"), Some("user/Patient.rs openid"));
        assert_eq!(form.get("missing"), None);
        assert_eq!(parse_urlencoded(b"a=1&a=2"), Err(FormError::Repeated));
        assert_eq!(parse_urlencoded(b"a=%ff"), Err(FormError::Malformed));
        assert_eq!(
            parse_urlencoded(&vec![b'a'; MAX_BODY_BYTES + 1]),
            Err(FormError::TooLarge)
        );
    }

    #[test]
    fn json_bodies_take_strings_only() {
        let form = parse_body(
            Some("application/json; charset=utf-8"),
            br#"{"username":"a","password":"b"}"#,
        )
        .unwrap();
        assert_eq!(form.get("password"), Some("b"));
        assert_eq!(parse_json(br#"{"a":1}"#), Err(FormError::Malformed));
        assert_eq!(parse_json(b"[1]"), Err(FormError::Malformed));
    }
}
