//! Zones: the abbreviations feeds use, what `CST` means, a time at a fixed
//! offset, and a zone-less time read in an IANA zone across DST changes.

use chrono::{DateTime, Datelike, NaiveDateTime, Offset, TimeDelta, TimeZone, Utc};
use chrono_tz::Tz;

use super::{CstMeaning, DateError};

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

pub(super) enum Zone {
    Fixed(i32),
    Named(Tz),
}

/// Seconds east of UTC that a bare `CST` stands for.
pub(super) fn cst_offset(cst: CstMeaning) -> i32 {
    match cst {
        CstMeaning::China => 8 * 3600,
        CstMeaning::UsCentral => -6 * 3600,
    }
}

pub(super) fn at_offset(local: NaiveDateTime, seconds: i32) -> Result<DateTime<Utc>, DateError> {
    TimeDelta::try_seconds(i64::from(seconds))
        .and_then(|delta| local.checked_sub_signed(delta))
        .map(|utc| utc.and_utc())
        .ok_or_else(|| DateError::YearOutOfRange(local.year().to_string()))
}

pub(super) fn in_zone(local: NaiveDateTime, tz: Tz) -> Result<DateTime<Utc>, DateError> {
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
