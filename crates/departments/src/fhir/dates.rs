//! FHIR dates as ranges of Unix seconds: a value is the whole interval its precision names
//! (`2024` is the year 2024, `2024-03-01T10:00Z` one second), as FHIR search compares them.

/// The earliest and latest instants a bound may take (open ends).
pub const MIN: i64 = i64::MIN / 4;
/// See [`MIN`].
pub const MAX: i64 = i64::MAX / 4;

/// Days from 1970-01-01 to the civil date (proleptic Gregorian), after H. Hinnant.
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The year of an instant (for index buckets).
pub fn year_of(seconds: i64) -> i64 {
    let days = seconds.div_euclid(86_400);
    // Inverse of days_from_civil, year part only.
    let z = days + 719_468;
    let era = if z >= 0 { z } else { z - 146_096 } / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    yoe + era * 400 + i64::from(m <= 2)
}

fn num(s: &str) -> Option<i64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

fn two_digits(s: &str) -> Option<i64> {
    if s.len() == 2 { num(s) } else { None }
}

/// Parse `YYYY[-MM[-DD[Thh:mm[:ss[.fff]][Z|±hh:mm]]]]` into its interval `[start, end)`.
/// A time without a zone is read as UTC.
pub fn parse_range(value: &str) -> Option<(i64, i64)> {
    let value = value.trim();
    let (date, time) = match value.split_once('T') {
        Some((d, t)) => (d, Some(t)),
        None => (value, None),
    };
    let mut parts = date.split('-');
    let year = parts.next().filter(|y| y.len() == 4).and_then(num)?;
    let month = parts
        .next()
        .map(|m| num(m).filter(|_| m.len() == 2))
        .unwrap_or(Some(0))?;
    let day = parts
        .next()
        .map(|d| num(d).filter(|_| d.len() == 2))
        .unwrap_or(Some(0))?;
    if parts.next().is_some() || month > 12 || day > 31 || (month == 0 && day != 0) {
        return None;
    }
    if month == 0 {
        return Some((
            days_from_civil(year, 1, 1) * 86_400,
            days_from_civil(year + 1, 1, 1) * 86_400,
        ));
    }
    if day == 0 {
        let (ny, nm) = if month == 12 {
            (year + 1, 1)
        } else {
            (year, month + 1)
        };
        return Some((
            days_from_civil(year, month, 1) * 86_400,
            days_from_civil(ny, nm, 1) * 86_400,
        ));
    }
    let day_start = days_from_civil(year, month, day) * 86_400;
    let Some(time) = time else {
        return Some((day_start, day_start + 86_400));
    };
    // Split off the zone: Z, +hh:mm, -hh:mm (a '+' may have become a space in a query).
    let (clock, offset) = if let Some(c) = time.strip_suffix('Z') {
        (c, 0)
    } else if let Some(pos) = time.rfind(['+', '-', ' ']) {
        let (c, z) = time.split_at(pos);
        let sign = if z.starts_with('-') { -1 } else { 1 };
        let (h, m) = z[1..].split_once(':')?;
        // Two digits each, within real zone offsets: anything longer once overflowed here
        // (found by the departments_search_params fuzz target).
        let (h, m) = (two_digits(h)?, two_digits(m)?);
        if h > 14 || m > 59 {
            return None;
        }
        (c, sign * (h * 3600 + m * 60))
    } else {
        (time, 0)
    };
    let mut fields = clock.split(':');
    let hour = two_digits(fields.next()?)?;
    let minute = two_digits(fields.next()?)?;
    let (second, precise) = match fields.next() {
        Some(s) => (two_digits(s.split('.').next()?)?, true),
        None => (0, false),
    };
    if fields.next().is_some() {
        return None;
    }
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let start = day_start + hour * 3600 + minute * 60 + second - offset;
    Some((start, start + if precise { 1 } else { 60 }))
}

/// Whether a target interval satisfies `prefix` against the search interval (FHIR R4 search,
/// 3.1.1.4.2). `ap` is read as "overlaps".
pub fn matches(prefix: &str, search: (i64, i64), target: (i64, i64)) -> bool {
    let ((plo, phi), (tlo, thi)) = (search, target);
    match prefix {
        "eq" => plo <= tlo && thi <= phi,
        "ne" => !(plo <= tlo && thi <= phi),
        "gt" => thi > phi,
        "lt" => tlo < plo,
        "ge" => thi > plo,
        "le" => tlo < phi,
        "sa" => tlo >= phi,
        "eb" => thi <= plo,
        "ap" => tlo < phi && thi > plo,
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn precision_gives_the_interval() {
        let (lo, hi) = parse_range("2024").unwrap();
        assert_eq!(hi - lo, 366 * 86_400);
        let (lo, hi) = parse_range("2024-02").unwrap();
        assert_eq!(hi - lo, 29 * 86_400);
        let (lo, hi) = parse_range("1970-01-02").unwrap();
        assert_eq!((lo, hi), (86_400, 2 * 86_400));
        let (lo, _) = parse_range("1970-01-01T01:00:00+01:00").unwrap();
        assert_eq!(lo, 0);
        assert_eq!(parse_range("2024-13"), None);
        assert_eq!(parse_range("20x4"), None);
        // Found by fuzzing: an absurd zone offset once overflowed.
        assert_eq!(parse_range("1011-01-01T1+333333333333333330:0"), None);
        assert_eq!(parse_range("2024-01-01T10:00:00+99:00"), None);
        assert!(parse_range("2024-01-01T10:00:00.123+05:30").is_some());
        assert_eq!(
            year_of(parse_range("1999-12-31T23:59:59Z").unwrap().0),
            1999
        );
        assert_eq!(year_of(parse_range("1850-06-01").unwrap().0), 1850);
    }

    #[test]
    fn prefixes_compare_intervals() {
        let day = parse_range("2024-03-01").unwrap();
        let inside = parse_range("2024-03-01T10:00:00Z").unwrap();
        let later = parse_range("2024-04-01").unwrap();
        assert!(matches("eq", day, inside));
        assert!(!matches("eq", day, later));
        assert!(matches("ge", day, later));
        assert!(matches("gt", day, later));
        assert!(!matches("lt", day, later));
        assert!(matches("lt", later, inside));
        assert!(matches("le", day, inside));
        assert!(matches("ne", day, later));
    }
}
