//! A recognised shape's values checked and made into a UTC instant: field
//! ranges, short years, fractions of a second, numeric zone offsets.

use chrono::{DateTime, NaiveDate, NaiveTime, Utc};

use super::shape::{Month, Raw, RawDate, RawTime, RawZone, Year};
use super::zones::{Zone, at_offset, cst_offset, in_zone};
use super::{DateContext, DateError, DateField, YEARS, check_utc_year};

/// Only digit strings reach here, so a failed parse means overflow, which is
/// out of every range.
fn digits_value(digits: &str) -> u64 {
    digits.parse().unwrap_or(u64::MAX)
}

fn field(field: DateField, digits: &str) -> Result<u32, DateError> {
    let value = u32::try_from(digits_value(digits)).unwrap_or(u32::MAX);
    let (min, max) = field.range();
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(DateError::OutOfRange { field, value })
    }
}

fn year(year: &Year<'_>) -> Result<i32, DateError> {
    let (digits, short_allowed) = match *year {
        Year::Full(d) => (d, false),
        Year::Rfc(d) => (d, true),
    };
    let value = digits_value(digits);
    let value = match digits.len() {
        1 | 2 if short_allowed && value < 50 => value + 2000,
        1..=3 if short_allowed => value + 1900,
        _ => value,
    };
    match i32::try_from(value) {
        Ok(y) if YEARS.contains(&y) => Ok(y),
        _ => Err(year_error(digits, value)),
    }
}

fn year_error(digits: &str, value: u64) -> DateError {
    let shown = if value == u64::MAX {
        let trimmed = digits.trim_start_matches('0');
        let head: String = trimmed.chars().take(24).collect();
        if head.len() < trimmed.len() {
            head + "..."
        } else {
            head
        }
    } else {
        value.to_string()
    };
    DateError::YearOutOfRange(shown)
}

impl RawDate<'_> {
    fn resolve(&self) -> Result<NaiveDate, DateError> {
        let year = year(&self.year)?;
        let month = match self.month {
            Month::Number(digits) => field(DateField::Month, digits)?,
            Month::Named(m) => m,
        };
        let day = field(DateField::Day, self.day)?;
        NaiveDate::from_ymd_opt(year, month, day).ok_or(DateError::NoSuchDay { year, month, day })
    }
}

impl RawTime<'_> {
    fn resolve(&self) -> Result<NaiveTime, DateError> {
        let hour = field(DateField::Hour, self.hour)?;
        let minute = field(DateField::Minute, self.minute)?;
        let second = match self.second {
            Some(digits) => field(DateField::Second, digits)?.min(59),
            None => 0,
        };
        let nanos = self.fraction.map_or(0, nanoseconds);
        NaiveTime::from_hms_nano_opt(hour, minute, second, nanos).ok_or(DateError::OutOfRange {
            field: DateField::Second,
            value: second,
        })
    }
}

/// Digits after the decimal point, of any length; beyond nanoseconds they
/// are dropped rather than rounded, so a time never moves to the next second.
fn nanoseconds(fraction: &str) -> u32 {
    let mut digits = fraction.bytes().map(|b| u32::from(b - b'0'));
    (0..9).fold(0, |acc, _| acc * 10 + digits.next().unwrap_or(0))
}

impl RawZone<'_> {
    fn resolve(&self, ctx: &DateContext) -> Result<Zone, DateError> {
        Ok(match *self {
            RawZone::Fixed(seconds) => Zone::Fixed(seconds),
            RawZone::Named(tz) => Zone::Named(tz),
            RawZone::Cst => Zone::Fixed(cst_offset(ctx.cst)),
            RawZone::Numeric {
                negative,
                hours,
                minutes,
            } => {
                let h = field(DateField::OffsetHour, hours)?;
                let m = minutes.map_or(Ok(0), |d| field(DateField::OffsetMinute, d))?;
                // Both are below 60, so this cannot overflow.
                let seconds = i32::try_from(h * 3600 + m * 60).unwrap_or(0);
                Zone::Fixed(if negative { -seconds } else { seconds })
            }
        })
    }
}

impl Raw<'_> {
    pub(super) fn resolve(&self, ctx: &DateContext) -> Result<DateTime<Utc>, DateError> {
        let date = self.date.resolve()?;
        let time = match &self.time {
            Some(time) => time.resolve()?,
            None => NaiveTime::MIN,
        };
        let local = date.and_time(time);
        let zone = match &self.zone {
            Some(zone) => zone.resolve(ctx)?,
            None => Zone::Named(ctx.timezone),
        };
        let utc = match zone {
            Zone::Fixed(seconds) => at_offset(local, seconds)?,
            Zone::Named(tz) => in_zone(local, tz)?,
        };
        check_utc_year(utc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions_truncate_to_nanoseconds() {
        assert_eq!(nanoseconds("1"), 100_000_000);
        assert_eq!(nanoseconds("123456789"), 123_456_789);
        assert_eq!(nanoseconds("1234567899999"), 123_456_789);
    }

    #[test]
    fn short_years_follow_rfc_2822() {
        assert_eq!(year(&Year::Rfc("49")), Ok(2049));
        assert_eq!(year(&Year::Rfc("50")), Ok(1950));
        assert_eq!(year(&Year::Rfc("121")), Ok(2021));
        assert_eq!(
            year(&Year::Full("0999")),
            Err(DateError::YearOutOfRange("999".into()))
        );
    }
}
