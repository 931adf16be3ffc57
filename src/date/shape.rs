//! The shapes a date may take, recognised over the tokens before any
//! value is checked: which part is the year, the month, the day, the time
//! and the zone.

use chrono_tz::Tz;

use super::tokens::{Kind, Token, tokenize};
use super::zones::zone_abbreviation;
use super::{DateError, unrecognised};

/// A date whose shape has been recognised but whose values are unchecked, so
/// that a malformed tail is reported as unrecognised before an impossible day.
pub(super) struct Raw<'a> {
    pub(super) date: RawDate<'a>,
    pub(super) time: Option<RawTime<'a>>,
    pub(super) zone: Option<RawZone<'a>>,
}

pub(super) struct RawDate<'a> {
    pub(super) year: Year<'a>,
    pub(super) month: Month<'a>,
    pub(super) day: &'a str,
}

pub(super) enum Year<'a> {
    Full(&'a str),
    /// Written after a month name, where RFC 2822's short years are allowed.
    Rfc(&'a str),
}

pub(super) enum Month<'a> {
    Number(&'a str),
    Named(u32),
}

pub(super) struct RawTime<'a> {
    pub(super) hour: &'a str,
    pub(super) minute: &'a str,
    pub(super) second: Option<&'a str>,
    pub(super) fraction: Option<&'a str>,
}

pub(super) enum RawZone<'a> {
    Fixed(i32),
    Cst,
    Named(Tz),
    Numeric {
        negative: bool,
        hours: &'a str,
        minutes: Option<&'a str>,
    },
}

pub(super) struct Parser<'a> {
    text: &'a str,
    shown: &'a str,
    tokens: Vec<Token<'a>>,
    pos: usize,
}

impl<'a> Parser<'a> {
    pub(super) fn new(text: &'a str, shown: &'a str) -> Self {
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

    pub(super) fn parse(mut self) -> Result<Raw<'a>, DateError> {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn month_names_and_weekdays() {
        assert_eq!(month_number("SEPT"), Some(9));
        assert_eq!(month_number("June"), Some(6));
        assert_eq!(month_number("Juni"), None);
        assert!(is_weekday("THURS"));
        assert!(!is_weekday("foo"));
    }
}
