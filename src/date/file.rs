//! Dates of files: the date in a Hexo file name, and a file time.

use chrono::{DateTime, TimeDelta, Utc};

use super::shape::{Month, Raw, RawDate, Year};
use super::{DateContext, DateError, check_utc_year};

/// Hexo's `YYYY-MM-DD-slug` file names, read in `ctx.timezone` at midnight.
/// None if the stem does not start with a valid date followed by `-` or the end.
pub fn date_from_file_stem(stem: &str, ctx: &DateContext) -> Option<DateTime<Utc>> {
    let mut parts = stem.splitn(4, '-');
    let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = is_digits(year, 4, 4) && is_digits(month, 1, 2) && is_digits(day, 1, 2);
    if !ok {
        return None;
    }
    let raw = Raw {
        date: RawDate {
            year: Year::Full(year),
            month: Month::Number(month),
            day,
        },
        time: None,
        zone: None,
    };
    raw.resolve(ctx).ok()
}

fn is_digits(s: &str, min: usize, max: usize) -> bool {
    (min..=max).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit())
}

/// A file time as a publishable date: in [`YEARS`], else an error naming
/// the year (or saying it is beyond any calendar). Never panics, whatever
/// the file system stored.
pub fn from_file_time(t: std::time::SystemTime) -> Result<DateTime<Utc>, DateError> {
    let beyond = || DateError::YearOutOfRange("beyond ±262143".into());
    let dt = match t.duration_since(std::time::UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs())
            .ok()
            .and_then(|s| DateTime::from_timestamp(s, after.subsec_nanos())),
        Err(e) => TimeDelta::from_std(e.duration())
            .ok()
            .and_then(|before| DateTime::UNIX_EPOCH.checked_sub_signed(before)),
    };
    check_utc_year(dt.ok_or_else(beyond)?)
}
