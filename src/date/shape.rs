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

use std::fmt;

use chrono::{
    DateTime, Datelike, NaiveDate, NaiveDateTime, NaiveTime, Offset, TimeDelta, TimeZone, Utc,
};
use chrono_tz::Tz;

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

// ---------------------------------------------------------------- tokens

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Num,
    Word,
    Sym,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    /// Byte offset in the tokenized text, so a zone name can be re-read whole.
    start: usize,
}

/// Spaces and commas only separate tokens: their placement varies freely
/// between real feeds (`Tue, 22`, `June 22, 2021`) and never changes meaning.
fn classify(c: char) -> Option<Kind> {
    if c.is_ascii_whitespace() || c == ',' {
        None
    } else if c.is_ascii_digit() {
        Some(Kind::Num)
    } else if c.is_ascii_alphabetic() {
        Some(Kind::Word)
    } else {
        Some(Kind::Sym)
    }
}

fn tokenize(text: &str) -> Vec<Token<'_>> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        let Some(kind) = classify(c) else { continue };
        let mut end = start + c.len_utf8();
        if kind != Kind::Sym {
            while let Some(&(i, next)) = chars.peek() {
                if classify(next) != Some(kind) {
                    break;
                }
                end = i + next.len_utf8();
                chars.next();
            }
        }
        tokens.push(Token {
            kind,
            text: &text[start..end],
            start,
        });
    }
    tokens
}

// ---------------------------------------------------------------- shape

/// A date whose shape has been recognised but whose values are unchecked, so
/// that a malformed tail is reported as unrecognised before an impossible day.
struct Raw<'a> {
    date: RawDate<'a>,
    time: Option<RawTime<'a>>,
    zone: Option<RawZone<'a>>,
}

struct RawDate<'a> {
    year: Year<'a>,
    month: Month<'a>,
    day: &'a str,
}

enum Year<'a> {
    Full(&'a str),
    /// Written after a month name, where RFC 2822's short years are allowed.
    Rfc(&'a str),
}

enum Month<'a> {
    Number(&'a str),
    Named(u32),
}

struct RawTime<'a> {
    hour: &'a str,
    minute: &'a str,
    second: Option<&'a str>,
    fraction: Option<&'a str>,
}

enum RawZone<'a> {
    Fixed(i32),
    Cst,
    Named(Tz),
    Numeric {
        negative: bool,
        hours: &'a str,
        minutes: Option<&'a str>,
    },
}

struct Parser<'a> {
    text: &'a str,
    shown: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn new(text: &'a str, shown: &'a str) -> Self {
        Parser {
            text,
            shown,
            tokens: tokenize(text),
            pos: 0,
        }
    }

    fn fail(&self) -> DateError {
        unrecognised(self.shown)
    }

    fn peek(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos).copied()
    }

    fn peek_second(&self) -> Option<Token<'a>> {
        self.tokens.get(self.pos + 1).copied()
    }

    fn bump(&mut self) -> Result<Token<'a>, DateError> {
        let token = self.peek().ok_or_else(|| self.fail())?;
        self.pos += 1;
        Ok(token)
    }

    fn eat(&mut self, kind: Kind, text: &str) -> bool {
        let hit = self
            .peek()
            .is_some_and(|t| t.kind == kind && t.text.eq_ignore_ascii_case(text));
        if hit {
            self.pos += 1;
        }
        hit
    }

    fn eat_sign(&mut self) -> Option<bool> {
        if self.eat(Kind::Sym, "+") {
            Some(false)
        } else if self.eat(Kind::Sym, "-") {
            Some(true)
        } else {
            None
        }
    }

    /// A run of 1..=max digits.
    fn num(&mut self, max: usize) -> Result<&'a str, DateError> {
        match self.peek() {
            Some(t) if t.kind == Kind::Num && t.text.len() <= max => {
                self.pos += 1;
                Ok(t.text)
            }
            _ => Err(self.fail()),
        }
    }

    fn parse(mut self) -> Result<Raw<'a>, DateError> {
        if self.peek().is_some_and(|t| is_weekday(t.text)) {
            self.pos += 1;
        }
        let date = self.date()?;
        let time = self.time()?;
        // A zone after a bare date is too easily a slug or a typo
        // (`2021-06-22-5`), and no real source writes one.
        let zone = if time.is_some() { self.zone()? } else { None };
        if self.peek().is_some() {
            return Err(self.fail());
        }
        Ok(Raw { date, time, zone })
    }

    fn date(&mut self) -> Result<RawDate<'a>, DateError> {
        let first = self.bump()?;
        match first.kind {
            Kind::Word => self.month_day_year(first),
            Kind::Num if self.month_follows() => self.day_month_year(first.text),
            Kind::Num => match self.peek() {
                Some(t) if t.kind == Kind::Sym && matches!(t.text, "-" | "/" | ".") => {
                    self.numeric_date(first.text, t.text)
                }
                _ if first.text.len() == 8 => Ok(basic_date(first.text)),
                _ => Err(self.fail()),
            },
            Kind::Sym => Err(self.fail()),
        }
    }

    /// A month name next, possibly after RFC 850's dash (`22-Jun-21`).
    fn month_follows(&self) -> bool {
        let next = match self.peek() {
            Some(t) if t.text == "-" => self.peek_second(),
            other => other,
        };
        next.is_some_and(|t| t.kind == Kind::Word && month_number(t.text).is_some())
    }

    /// `Jun 22 2021`, `June 22, 2021` (JavaScript `Date` strings).
    fn month_day_year(&mut self, month: Token<'a>) -> Result<RawDate<'a>, DateError> {
        let month = month_number(month.text).ok_or_else(|| self.fail())?;
        let day = self.num(2)?;
        let year = self.num(usize::MAX)?;
        Ok(RawDate {
            year: Year::Rfc(year),
            month: Month::Named(month),
            day,
        })
    }

    /// `22 Jun 2021`, and RFC 850's `22-Jun-21`.
    fn day_month_year(&mut self, day: &'a str) -> Result<RawDate<'a>, DateError> {
        if day.len() > 2 {
            return Err(self.fail());
        }
        let dashed = self.eat(Kind::Sym, "-");
        let month = self.bump()?;
        let month = month_number(month.text).ok_or_else(|| self.fail())?;
        if dashed && !self.eat(Kind::Sym, "-") {
            return Err(self.fail());
        }
        let year = self.num(usize::MAX)?;
        Ok(RawDate {
            year: Year::Rfc(year),
            month: Month::Named(month),
            day,
        })
    }

    /// `2021-06-22`, `2021/6/2`, `2021.06.22`: year first, so never ambiguous
    /// with day-first or month-first forms.
    fn numeric_date(&mut self, year: &'a str, sep: &str) -> Result<RawDate<'a>, DateError> {
        if year.len() < 4 {
            return Err(self.fail());
        }
        self.pos += 1;
        let month = self.num(2)?;
        if !self.eat(Kind::Sym, sep) {
            return Err(self.fail());
        }
        let day = self.num(2)?;
        Ok(RawDate {
            year: Year::Full(year),
            month: Month::Number(month),
            day,
        })
    }

    fn time(&mut self) -> Result<Option<RawTime<'a>>, DateError> {
        let explicit = self.eat(Kind::Word, "t");
        let Some(first) = self.peek().filter(|t| t.kind == Kind::Num) else {
            return if explicit { Err(self.fail()) } else { Ok(None) };
        };
        if self.peek_second().is_some_and(|t| t.text == ":") {
            return self.extended_time().map(Some);
        }
        if explicit && matches!(first.text.len(), 4 | 6) {
            self.pos += 1;
            let fraction = self.fraction()?;
            return Ok(Some(basic_time(first.text, fraction)));
        }
        Err(self.fail())
    }

    fn extended_time(&mut self) -> Result<RawTime<'a>, DateError> {
        let hour = self.num(2)?;
        self.pos += 1;
        let minute = self.num(2)?;
        let second = if self.eat(Kind::Sym, ":") {
            Some(self.num(2)?)
        } else {
            None
        };
        let fraction = if second.is_some() {
            self.fraction()?
        } else {
            None
        };
        Ok(RawTime {
            hour,
            minute,
            second,
            fraction,
        })
    }

    fn fraction(&mut self) -> Result<Option<&'a str>, DateError> {
        if self.eat(Kind::Sym, ".") {
            self.num(usize::MAX).map(Some)
        } else {
            Ok(None)
        }
    }

    fn zone(&mut self) -> Result<Option<RawZone<'a>>, DateError> {
        let Some(token) = self.peek() else {
            return Ok(None);
        };
        if let Some(negative) = self.eat_sign() {
            return self.offset(negative).map(Some);
        }
        if token.kind != Kind::Word {
            return Err(self.fail());
        }
        self.pos += 1;
        let word = token.text.to_ascii_lowercase();
        if matches!(word.as_str(), "gmt" | "utc" | "ut") {
            return match self.eat_sign() {
                Some(negative) => self.offset(negative).map(Some),
                None => Ok(Some(RawZone::Fixed(0))),
            };
        }
        if word == "cst" {
            return Ok(Some(RawZone::Cst));
        }
        if let Some(seconds) = zone_abbreviation(&word) {
            return Ok(Some(RawZone::Fixed(seconds)));
        }
        let tz: Tz = self.text[token.start..].parse().map_err(|_| self.fail())?;
        self.pos = self.tokens.len();
        Ok(Some(RawZone::Named(tz)))
    }

    /// The digits after a sign: `8`, `08`, `08:00`, `800`, `0800`.
    fn offset(&mut self, negative: bool) -> Result<RawZone<'a>, DateError> {
        let digits = self.num(4)?;
        let (hours, minutes) = match digits.len() {
            3 => (&digits[..1], Some(&digits[1..])),
            4 => (&digits[..2], Some(&digits[2..])),
            _ if self.eat(Kind::Sym, ":") => (digits, Some(self.exact_digits(2)?)),
            _ => (digits, None),
        };
        Ok(RawZone::Numeric {
            negative,
            hours,
            minutes,
        })
    }

    fn exact_digits(&mut self, len: usize) -> Result<&'a str, DateError> {
        let digits = self.num(len)?;
        if digits.len() == len {
            Ok(digits)
        } else {
            Err(self.fail())
        }
    }
}

/// `20210622`; the caller has checked the length and that it is all digits.
fn basic_date(text: &str) -> RawDate<'_> {
    RawDate {
        year: Year::Full(&text[..4]),
        month: Month::Number(&text[4..6]),
        day: &text[6..],
    }
}

/// `0305` or `030553`; the caller has checked the length.
fn basic_time<'a>(text: &'a str, fraction: Option<&'a str>) -> RawTime<'a> {
    RawTime {
        hour: &text[..2],
        minute: &text[2..4],
        second: text.get(4..6),
        fraction,
    }
}

fn is_weekday(word: &str) -> bool {
    const DAYS: [&str; 17] = [
        "mon",
        "tue",
        "tues",
        "wed",
        "thu",
        "thur",
        "thurs",
        "fri",
        "sat",
        "sun",
        "monday",
        "tuesday",
        "wednesday",
        "thursday",
        "friday",
        "saturday",
        "sunday",
    ];
    DAYS.iter().any(|d| d.eq_ignore_ascii_case(word))
}

fn month_number(word: &str) -> Option<u32> {
    const MONTHS: [(&str, &str); 12] = [
        ("jan", "january"),
        ("feb", "february"),
        ("mar", "march"),
        ("apr", "april"),
        ("may", "may"),
        ("jun", "june"),
        ("jul", "july"),
        ("aug", "august"),
        ("sep", "september"),
        ("oct", "october"),
        ("nov", "november"),
        ("dec", "december"),
    ];
    if word.eq_ignore_ascii_case("sept") {
        return Some(9);
    }
    let index = MONTHS.iter().position(|(short, long)| {
        word.eq_ignore_ascii_case(short) || word.eq_ignore_ascii_case(long)
    })?;
    u32::try_from(index + 1).ok()
}

/// Zone abbreviations seen in real feeds, as seconds east of UTC. Where an
/// abbreviation has several meanings the one feeds use most wins: `IST` is
/// India, `BST` is British Summer Time. `CST` is not here: it depends on
/// [`DateContext::cst`].
pub fn zone_abbreviation(word: &str) -> Option<i32> {
    const H: i32 = 3600;
    const ZONES: [(&str, i32); 28] = [
        ("z", 0),
        ("wet", 0),
        ("west", H),
        ("bst", H),
        ("cet", H),
        ("cest", 2 * H),
        ("eet", 2 * H),
        ("eest", 3 * H),
        ("msk", 3 * H),
        ("ist", 5 * H + 1800),
        ("hkt", 8 * H),
        ("sgt", 8 * H),
        ("awst", 8 * H),
        ("jst", 9 * H),
        ("kst", 9 * H),
        ("aest", 10 * H),
        ("aedt", 11 * H),
        ("nzst", 12 * H),
        ("nzdt", 13 * H),
        ("est", -5 * H),
        ("edt", -4 * H),
        ("cdt", -5 * H),
        ("mst", -7 * H),
        ("mdt", -6 * H),
        ("pst", -8 * H),
        ("pdt", -7 * H),
        ("akst", -9 * H),
        ("hst", -10 * H),
    ];
    ZONES
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case(word))
        .map(|&(_, seconds)| seconds)
}

// ---------------------------------------------------------------- values

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

/// The years every output format can carry: RFC 822 dates (RSS) need four
/// digits, and HTTP dates cannot go past 9999.
pub const YEARS: std::ops::RangeInclusive<i32> = 1000..=9999;

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

fn check_utc_year(dt: DateTime<Utc>) -> Result<DateTime<Utc>, DateError> {
    if YEARS.contains(&dt.year()) {
        Ok(dt)
    } else {
        Err(DateError::YearOutOfRange(dt.year().to_string()))
    }
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

enum Zone {
    Fixed(i32),
    Named(Tz),
}

impl RawZone<'_> {
    fn resolve(&self, ctx: &DateContext) -> Result<Zone, DateError> {
        Ok(match *self {
            RawZone::Fixed(seconds) => Zone::Fixed(seconds),
            RawZone::Named(tz) => Zone::Named(tz),
            RawZone::Cst => Zone::Fixed(match ctx.cst {
                CstMeaning::China => 8 * 3600,
                CstMeaning::UsCentral => -6 * 3600,
            }),
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
    fn resolve(&self, ctx: &DateContext) -> Result<DateTime<Utc>, DateError> {
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

fn at_offset(local: NaiveDateTime, seconds: i32) -> Result<DateTime<Utc>, DateError> {
    TimeDelta::try_seconds(i64::from(seconds))
        .and_then(|delta| local.checked_sub_signed(delta))
        .map(|utc| utc.and_utc())
        .ok_or_else(|| DateError::YearOutOfRange(local.year().to_string()))
}

fn in_zone(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, DateError> {
    if let Some(dt) = tz.from_local_datetime(&local).earliest() {
        return Ok(dt.with_timezone(&Utc));
    }
    // In a gap. Reading the time with the offset in force before the gap
    // lands exactly gap-length later on the far side, as moment.js does.
    // A day earlier is before any gap that can contain this local time
    // (offsets stay within ±14h) and after any previous transition.
    let before = local
        .checked_sub_signed(TimeDelta::days(1))
        .ok_or_else(|| DateError::YearOutOfRange(local.year().to_string()))?;
    let offset = tz.offset_from_utc_datetime(&before).fix().local_minus_utc();
    at_offset(local, offset)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(Kind, &str)> {
        tokenize(text).iter().map(|t| (t.kind, t.text)).collect()
    }

    #[test]
    fn tokenizer_splits_classes_and_drops_separators() {
        use Kind::*;
        assert_eq!(
            kinds("Tue, 22 Jun 2021 03:05:53 GMT+8"),
            vec![
                (Word, "Tue"),
                (Num, "22"),
                (Word, "Jun"),
                (Num, "2021"),
                (Num, "03"),
                (Sym, ":"),
                (Num, "05"),
                (Sym, ":"),
                (Num, "53"),
                (Word, "GMT"),
                (Sym, "+"),
                (Num, "8"),
            ]
        );
        assert_eq!(
            kinds("2021-06-22t03"),
            vec![
                (Num, "2021"),
                (Sym, "-"),
                (Num, "06"),
                (Sym, "-"),
                (Num, "22"),
                (Word, "t"),
                (Num, "03"),
            ]
        );
    }

    #[test]
    fn tokenizer_keeps_non_ascii_as_single_symbols() {
        let tokens = tokenize("２a");
        assert_eq!(tokens.len(), 2);
        assert_eq!(tokens[0].kind, Kind::Sym);
        assert_eq!(tokens[1].start, "２".len());
    }

    #[test]
    fn comments_are_stripped_only_at_the_end() {
        assert_eq!(strip_comment("+0000 (UTC)"), "+0000");
        assert_eq!(strip_comment("GMT+0800 (中国标准时间)"), "GMT+0800");
        assert_eq!(strip_comment("(a) b"), "(a) b");
    }

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

    #[test]
    fn month_names_and_weekdays() {
        assert_eq!(month_number("SEPT"), Some(9));
        assert_eq!(month_number("June"), Some(6));
        assert_eq!(month_number("Juni"), None);
        assert!(is_weekday("THURS"));
        assert!(!is_weekday("foo"));
    }
}
