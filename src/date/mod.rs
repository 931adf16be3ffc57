//! Dates as they really appear in Hexo front matter, feeds and file names,
//! read as `DateTime<Utc>`.
//!
//! Hexo hands front-matter dates to moment.js, and authors paste dates from
//! anywhere, so one small tokenizer (numbers, words, single symbols; spaces
//! and commas only separate) reads every shape instead of a cascade of
//! format strings:
//!
//! - RFC 2822 / RFC 822 / RFC 850 (`Tue, 22 Jun 2021 03:05:53 GMT`,
//!   `Tuesday, 22-Jun-21 03:05:53 GMT`) and the JavaScript `Date` string
//!   (`Tue Jun 22 2021 11:05:53 GMT+0800 (China Standard Time)`). The weekday
//!   is skipped, never checked: feeds get it wrong and the date still stands.
//! - RFC 3339 / ISO 8601, extended and basic (`2021-06-22T03:05:53.5+08:00`,
//!   `20210622T030553Z`), and YAML 1.1 timestamps (`2001-12-14 21:59:43.10 -5`).
//! - Hexo/moment forms: `YYYY-M-D H:mm[:ss]` with `-`, `/` or `.` between the
//!   date numbers.
//! - A string of 10 digits (Unix seconds) or 13 digits (Unix milliseconds).
//!
//! Choices a reader could not guess:
//!
//! - **Zones.** A date without a zone is read in [`DateContext::timezone`]; an
//!   explicit zone always wins. Numeric offsets (`+0800`, `+08:00`, `+08`,
//!   `-5`, `GMT+8`, `UTC+05:30`), IANA names (`Asia/Shanghai`) and the
//!   abbreviations in [`zone_abbreviation`] are known. Abbreviations are
//!   ambiguous in the wild, so the table picks the meaning feeds use most:
//!   `IST` is India (+05:30), not Ireland or Israel; `BST` is British Summer
//!   Time (+01:00), not Bangladesh. `CST` follows [`DateContext::cst`]. Of
//!   the military letters only `Z` is accepted: RFC 2822 itself says the
//!   others were defined with the wrong sign.
//! - **DST.** A zone-less time that falls in a spring-forward gap is moved
//!   forward by the length of the gap (02:30 on 2021-03-14 in New York is
//!   03:30 EDT), as moment.js does. A time that occurs twice at fall-back
//!   takes the earlier instant. Neither is an error: the author meant a real
//!   moment and the nearest reading is better than dropping the post.
//! - **Leap seconds.** Second 60 is read as 59: chrono's leap-second
//!   representation would leak into feed output as a 60th second.
//! - **Years.** RFC 2822's rule for short years: 00-49 are 20xx, 50-99 are
//!   19xx, three digits add 1900. Short years are only accepted after a month
//!   name; `21-06-22` is rejected because it could as well be day-first.
//!   The year, as written and in UTC, must lie in 1000..=9999 because RFC 822
//!   output needs four digits.
//! - **Errors.** A string that is not a date at all is
//!   [`DateError::Unrecognised`]; a date-shaped string naming a moment that
//!   cannot exist (Feb 31, 25:00, month 13, year 99999) is one of the errors
//!   for which [`DateError::is_impossible`] holds. Shape is checked first, so
//!   `2021-02-31 garbage` is unrecognised, not impossible.
//!
//! The parts: `tokens` (the tokenizer), `shape` (which token is the year,
//! the month, the time, the zone), `values` (field ranges, offsets and the
//! UTC instant), `zones` (abbreviations, `CST`, DST gaps) and `file`
//! (dates in file names, file times).

mod file;
mod shape;
mod tokens;
mod values;
mod zones;

use std::fmt;

use chrono::{DateTime, Datelike, Utc};
use chrono_tz::Tz;

pub use file::{date_from_file_stem, from_file_time};
pub use zones::zone_abbreviation;

use shape::Parser;

/// What "CST" means: real Chinese feeds mean China Standard Time (+08:00);
/// chrono reads it as US Central (-06:00).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CstMeaning {
    China,
    UsCentral,
}

/// How to read a date: the zone for zone-less dates and what CST means.
#[derive(Debug, Clone, Copy)]
pub struct DateContext {
    pub timezone: Tz,
    pub cst: CstMeaning,
}

impl Default for DateContext {
    fn default() -> Self {
        DateContext {
            timezone: Tz::UTC,
            cst: CstMeaning::China,
        }
    }
}

/// The part of a date that holds an impossible value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DateField {
    Month,
    Day,
    Hour,
    Minute,
    Second,
    OffsetHour,
    OffsetMinute,
}

impl DateField {
    /// The values accepted for this field, inclusive.
    pub fn range(self) -> (u32, u32) {
        match self {
            DateField::Month => (1, 12),
            DateField::Day => (1, 31),
            DateField::Hour | DateField::OffsetHour => (0, 23),
            DateField::Minute | DateField::OffsetMinute => (0, 59),
            // 60 is a leap second, read as 59.
            DateField::Second => (0, 60),
        }
    }
}

impl fmt::Display for DateField {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DateField::Month => "month",
            DateField::Day => "day",
            DateField::Hour => "hour",
            DateField::Minute => "minute",
            DateField::Second => "second",
            DateField::OffsetHour => "zone offset hour",
            DateField::OffsetMinute => "zone offset minute",
        })
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum DateError {
    #[error("empty date")]
    Empty,
    /// Carries the input, shortened to about 60 characters.
    #[error("unrecognised date \"{0}\"")]
    Unrecognised(String),
    #[error("{field} {value} is out of range ({}-{})", .field.range().0, .field.range().1)]
    OutOfRange { field: DateField, value: u32 },
    #[error("day {day} does not exist in {} {year}", month_name(*.month))]
    NoSuchDay { year: i32, month: u32, day: u32 },
    /// Carries the year as read (after short-year expansion) or as in UTC.
    #[error("year {0} is outside 1000-9999")]
    YearOutOfRange(String),
}

impl DateError {
    /// True when the string has the shape of a date but names a moment that
    /// cannot exist; false when it is empty or not a date at all.
    pub fn is_impossible(&self) -> bool {
        !matches!(self, DateError::Empty | DateError::Unrecognised(_))
    }
}

/// Reads one date string; see the module documentation for the shapes and
/// the choices made.
pub fn parse_date(input: &str, ctx: &DateContext) -> Result<DateTime<Utc>, DateError> {
    let shown = input.trim();
    let text = strip_comment(shown);
    if text.is_empty() {
        return Err(DateError::Empty);
    }
    if let Some(result) = parse_epoch(text) {
        return result;
    }
    Parser::new(text, shown).parse()?.resolve(ctx)
}

/// Drops a trailing `(comment)` such as `+0000 (UTC)` or the localised zone
/// name JavaScript appends, which may be non-ASCII.
fn strip_comment(text: &str) -> &str {
    match text.find('(') {
        Some(open) if text.ends_with(')') => text[..open].trim_end(),
        _ => text,
    }
}

/// moment accepts a bare number; ten digits are seconds and thirteen are
/// milliseconds, the only lengths that cover plausible post dates.
fn parse_epoch(text: &str) -> Option<Result<DateTime<Utc>, DateError>> {
    if !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = text.parse().ok()?;
    let dt = match text.len() {
        10 => DateTime::from_timestamp(value, 0),
        13 => DateTime::from_timestamp_millis(value),
        _ => return None,
    };
    Some(
        dt.ok_or_else(|| unrecognised(text))
            .and_then(check_utc_year),
    )
}

fn unrecognised(shown: &str) -> DateError {
    const MAX: usize = 60;
    let short = if shown.chars().count() > MAX {
        let head: String = shown.chars().take(MAX - 3).collect();
        head + "..."
    } else {
        shown.to_string()
    };
    DateError::Unrecognised(short)
}

fn month_name(month: u32) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    let index = month.checked_sub(1).and_then(|i| usize::try_from(i).ok());
    index.and_then(|i| NAMES.get(i)).copied().unwrap_or("?")
}

/// The years every output format can carry: RFC 822 dates (RSS) need four
/// digits, and HTTP dates cannot go past 9999.
pub const YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

fn check_utc_year(dt: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    if YEARS.contains(&dt.year()) {
        Ok(dt)
    } else {
        Err(DateError::YearOutOfRange(dt.year().to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn comments_are_stripped_only_at_the_end() {
        assert_eq!(strip_comment("+0000 (UTC)"), "+0000");
        assert_eq!(strip_comment("GMT+0800 (中国标准时间)"), "GMT+0800");
        assert_eq!(strip_comment("(a) b"), "(a) b");
    }
}
