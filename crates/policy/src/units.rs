//! Human units in the policy file: sizes (`"16 KiB"`) and durations (`"10s"`).

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A size in bytes, written in the policy as `"16 KiB"`, `"10 MiB"`, `"2 GiB"` or `"512 B"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ByteSize(pub u64);

impl ByteSize {
    /// The size in bytes.
    pub fn bytes(self) -> u64 {
        self.0
    }

    /// `n` kibibytes.
    pub const fn kib(n: u64) -> Self {
        ByteSize(n * 1024)
    }

    /// `n` mebibytes.
    pub const fn mib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024)
    }

    /// `n` gibibytes.
    pub const fn gib(n: u64) -> Self {
        ByteSize(n * 1024 * 1024 * 1024)
    }
}

/// Why a size or a duration could not be read; each says what to write instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UnitError {
    /// No digits before the unit.
    #[error("expected a whole number followed by a unit, found {0:?}")]
    NotANumber(String),
    /// The number does not fit.
    #[error("the number in {0:?} is too large")]
    TooLarge(String),
    /// A size with a unit this parser does not know.
    #[error("unknown size unit {0:?}")]
    UnknownSizeUnit(String),
    /// A duration with a unit this parser does not know.
    #[error("unknown duration unit {0:?}")]
    UnknownDurationUnit(String),
    /// A duration without a unit (`"10"`): seconds or milliseconds would be a guess.
    #[error("a duration needs a unit")]
    MissingDurationUnit,
}

impl UnitError {
    /// What to write instead, for the diagnostic's help line.
    pub fn help(&self, for_size: bool) -> String {
        if for_size {
            "write a whole number with B, KiB, MiB or GiB (or KB, MB, GB), for example \"16 KiB\""
                .to_owned()
        } else {
            "write a number with s, ms, m or h, for example \"10s\"".to_owned()
        }
    }
}

const SIZE_UNITS: &[(&str, u64)] = &[
    ("b", 1),
    ("kib", 1 << 10),
    ("mib", 1 << 20),
    ("gib", 1 << 30),
    ("tib", 1 << 40),
    ("kb", 1_000),
    ("mb", 1_000_000),
    ("gb", 1_000_000_000),
    ("tb", 1_000_000_000_000),
];

/// Splits `"16 KiB"` into `(16, "KiB")`; the unit may be empty.
fn split_number(text: &str) -> Result<(u64, &str), UnitError> {
    let text = text.trim();
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit() && c != '_')
        .unwrap_or(text.len());
    let digits: String = text[..digits_end].chars().filter(|c| *c != '_').collect();
    if digits.is_empty() {
        return Err(UnitError::NotANumber(text.to_owned()));
    }
    let number = digits
        .parse::<u64>()
        .map_err(|_| UnitError::TooLarge(text.to_owned()))?;
    Ok((number, text[digits_end..].trim()))
}

impl FromStr for ByteSize {
    type Err = UnitError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let (number, unit) = split_number(text)?;
        let multiplier = if unit.is_empty() {
            1
        } else {
            let lower = unit.to_ascii_lowercase();
            SIZE_UNITS
                .iter()
                .find(|(name, _)| *name == lower)
                .map(|(_, m)| *m)
                .ok_or_else(|| UnitError::UnknownSizeUnit(unit.to_owned()))?
        };
        number
            .checked_mul(multiplier)
            .map(ByteSize)
            .ok_or_else(|| UnitError::TooLarge(text.trim().to_owned()))
    }
}

impl fmt::Display for ByteSize {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (unit, size) in [("GiB", 1u64 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)] {
            if self.0 >= size && self.0.is_multiple_of(size) {
                return write!(f, "{} {unit}", self.0 / size);
            }
        }
        write!(f, "{} B", self.0)
    }
}

impl serde::Serialize for ByteSize {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// Reads a duration written as `"500ms"`, `"10s"`, `"5m"` or `"1h"`.
pub fn parse_duration(text: &str) -> Result<Duration, UnitError> {
    let (number, unit) = split_number(text)?;
    let millis_per_unit: u64 = match unit {
        "ms" => 1,
        "s" => 1_000,
        "m" => 60_000,
        "h" => 3_600_000,
        "" => return Err(UnitError::MissingDurationUnit),
        other => return Err(UnitError::UnknownDurationUnit(other.to_owned())),
    };
    number
        .checked_mul(millis_per_unit)
        .map(Duration::from_millis)
        .ok_or_else(|| UnitError::TooLarge(text.trim().to_owned()))
}

/// Writes a duration the way the policy file does (`"10s"`, `"250ms"`, `"10m"`).
pub fn format_duration(duration: Duration) -> String {
    let millis = duration.as_millis();
    if millis == 0 {
        return "0s".to_owned();
    }
    for (unit, size) in [("h", 3_600_000u128), ("m", 60_000), ("s", 1_000)] {
        if millis.is_multiple_of(size) {
            return format!("{}{unit}", millis / size);
        }
    }
    format!("{millis}ms")
}

/// Serializes a duration as the policy file writes it (used by the model's `Serialize`).
pub(crate) fn serialize_duration<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(&format_duration(*duration))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_in_binary_and_decimal_units() {
        assert_eq!("16 KiB".parse(), Ok(ByteSize(16 * 1024)));
        assert_eq!("10MiB".parse(), Ok(ByteSize(10 * 1024 * 1024)));
        assert_eq!("2 GiB".parse(), Ok(ByteSize(2 << 30)));
        assert_eq!("1 kb".parse(), Ok(ByteSize(1000)));
        assert_eq!("512".parse(), Ok(ByteSize(512)));
        assert_eq!("1_000 B".parse(), Ok(ByteSize(1000)));
        assert_eq!(
            "16 KiBs".parse::<ByteSize>(),
            Err(UnitError::UnknownSizeUnit("KiBs".into()))
        );
        assert_eq!(
            "KiB".parse::<ByteSize>(),
            Err(UnitError::NotANumber("KiB".into()))
        );
        assert!(matches!(
            "99999999999 TiB".parse::<ByteSize>(),
            Err(UnitError::TooLarge(_))
        ));
        assert_eq!(ByteSize::mib(10).to_string(), "10 MiB");
        assert_eq!(ByteSize(1500).to_string(), "1500 B");
    }

    #[test]
    fn durations_need_a_known_unit() {
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_duration("10m"), Ok(Duration::from_secs(600)));
        assert_eq!(parse_duration("1 h"), Ok(Duration::from_secs(3600)));
        assert_eq!(
            parse_duration("10sec"),
            Err(UnitError::UnknownDurationUnit("sec".into()))
        );
        assert_eq!(parse_duration("10"), Err(UnitError::MissingDurationUnit));
        assert_eq!(format_duration(Duration::from_secs(600)), "10m");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1500ms");
    }
}
