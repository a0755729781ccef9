//! Dates (`1-Feb-1994`, optionally quoted, for SEARCH) and date-times
//! (`"17-Jul-1996 02:44:25 -0700"`, for APPEND).

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveTime, TimeZone};

use super::lexer::{Cursor, PResult};

/// Month abbreviations in IMAP order.
const MONTHS: [&[u8; 3]; 12] =
    [b"JAN", b"FEB", b"MAR", b"APR", b"MAY", b"JUN", b"JUL", b"AUG", b"SEP", b"OCT", b"NOV", b"DEC"];

/// Between `min` and `max` digits as a number, or `None`.
fn digits(c: &mut Cursor<'_>, min: usize, max: usize) -> Option<u32> {
    let mark = c.mark();
    let d = c.take_while(|b| b.is_ascii_digit());
    if d.len() < min || d.len() > max {
        c.reset(mark);
        return None;
    }
    d.iter().try_fold(0u32, |v, &b| v.checked_mul(10)?.checked_add(u32::from(b - b'0')))
}

/// `date-month`, any case, as 1..=12.
fn month(c: &mut Cursor<'_>) -> Option<u32> {
    let m = c.take_while(|b| b.is_ascii_alphabetic());
    let pos = MONTHS.iter().position(|name| m.eq_ignore_ascii_case(&name[..]))?;
    u32::try_from(pos).ok()?.checked_add(1)
}

/// `day "-" month "-" year` after the day has been read.
fn month_year(c: &mut Cursor<'_>, day: u32) -> Option<NaiveDate> {
    if !c.eat(b'-') {
        return None;
    }
    let m = month(c)?;
    if !c.eat(b'-') {
        return None;
    }
    let y = i32::try_from(digits(c, 4, 4)?).ok()?;
    NaiveDate::from_ymd_opt(y, m, day)
}

/// `date`: `date-text` or `DQUOTE date-text DQUOTE`.
pub(super) fn search_date(c: &mut Cursor<'_>) -> PResult<NaiveDate> {
    let bad = || "invalid date (expected a date like 1-Feb-1994)".to_string();
    let quoted = c.eat(b'"');
    let day = digits(c, 1, 2).ok_or_else(bad)?;
    let date = month_year(c, day).ok_or_else(bad)?;
    if quoted && !c.eat(b'"') {
        return Err(bad());
    }
    Ok(date)
}

/// `date-time`: `"dd-Mon-yyyy hh:mm:ss +zzzz"` (the day may be space-padded).
pub(super) fn date_time(c: &mut Cursor<'_>) -> PResult<DateTime<FixedOffset>> {
    date_time_inner(c).ok_or_else(|| "invalid date-time (expected \"17-Jul-1996 02:44:25 -0700\")".to_string())
}

/// [`date_time`] without the message.
fn date_time_inner(c: &mut Cursor<'_>) -> Option<DateTime<FixedOffset>> {
    if !c.eat(b'"') {
        return None;
    }
    let day = if c.eat(b' ') { digits(c, 1, 1)? } else { digits(c, 1, 2)? };
    let date = month_year(c, day)?;
    if !c.eat(b' ') {
        return None;
    }
    let h = digits(c, 2, 2)?;
    let mut hms = [h, 0, 0];
    for slot in hms.iter_mut().skip(1) {
        if !c.eat(b':') {
            return None;
        }
        *slot = digits(c, 2, 2)?;
    }
    let [h, m, s] = hms;
    let time = NaiveTime::from_hms_opt(h, m, s)?;
    if !c.eat(b' ') {
        return None;
    }
    let negative = match c.peek() {
        Some(b'+') => false,
        Some(b'-') => true,
        _ => return None,
    };
    c.bump();
    let zone = digits(c, 4, 4)?;
    let (zh, zm) = (zone / 100, zone % 100);
    if zm >= 60 {
        return None;
    }
    let secs = i32::try_from(zh.checked_mul(3600)?.checked_add(zm.checked_mul(60)?)?).ok()?;
    let offset = FixedOffset::east_opt(if negative { -secs } else { secs })?;
    if !c.eat(b'"') {
        return None;
    }
    offset.from_local_datetime(&date.and_time(time)).single()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sd(s: &str) -> PResult<NaiveDate> {
        let mut c = Cursor::new(s.as_bytes());
        let d = search_date(&mut c)?;
        c.end()?;
        Ok(d)
    }

    fn dt(s: &str) -> PResult<DateTime<FixedOffset>> {
        let mut c = Cursor::new(s.as_bytes());
        let d = date_time(&mut c)?;
        c.end()?;
        Ok(d)
    }

    #[test]
    fn search_dates() {
        let feb1 = NaiveDate::from_ymd_opt(1994, 2, 1).unwrap();
        assert_eq!(sd("1-Feb-1994").unwrap(), feb1);
        assert_eq!(sd("01-feb-1994").unwrap(), feb1);
        assert_eq!(sd("\"1-FEB-1994\"").unwrap(), feb1);
        for bad in ["31-Feb-1994", "1-Foo-1994", "1-Feb-94", "123-Feb-1994", "\"1-Feb-1994", "1 Feb 1994", ""] {
            assert!(sd(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn date_times() {
        let d = dt("\"17-Jul-1996 02:44:25 -0700\"").unwrap();
        assert_eq!(d.to_rfc3339(), "1996-07-17T02:44:25-07:00");
        let d = dt("\" 7-Jul-1996 02:44:25 +0530\"").unwrap();
        assert_eq!(d.to_rfc3339(), "1996-07-07T02:44:25+05:30");
        assert!(dt("\"7-Jul-1996 02:44:25 +0000\"").is_ok());
        for bad in [
            "17-Jul-1996 02:44:25 -0700",
            "\"17-Jul-1996 02:44:25\"",
            "\"17-Jul-1996 24:00:00 +0000\"",
            "\"17-Jul-1996 02:44:25 +0060\"",
            "\"17-Jul-1996 2:44:25 +0000\"",
            "\"30-Feb-1996 02:44:25 +0000\"",
        ] {
            assert!(dt(bad).is_err(), "{bad}");
        }
    }
}
