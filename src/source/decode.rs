//! A file's bytes as text: UTF-8, UTF-16 with a byte-order mark, or
//! GB18030; what looks cut short is no text.

use std::borrow::Cow;

use super::read::ReadError;

/// [`decode_slice`] into an owned string.
pub fn decode(bytes: Vec<u8>) -> Result<(String, Option<String>), ReadError> {
    // A copy, not `String::from_utf8(bytes)`: the text is validated once
    // already, and a memcpy is cheaper than the standard library's check of
    // multi-byte text.
    let (text, warning) = decode_slice(&bytes)?;
    Ok((text.into_owned(), warning))
}

/// UTF-8 (with or without BOM) as is, borrowed; UTF-16 with a BOM and
/// GB18030 with a warning, since Chinese pipelines still produce the
/// latter. A file that looks cut short (see [`cut_short`]) is no text.
pub fn decode_slice(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<String>), ReadError> {
    let decoded = decode_any(bytes)?;
    if decoded.0.trim().is_empty() {
        return Err(ReadError::Truncated("empty (nothing but white space)"));
    }
    Ok(decoded)
}

fn decode_any(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<String>), ReadError> {
    if let Some((encoding, bom_len)) = encoding_rs::Encoding::for_bom(bytes) {
        let rest = &bytes[bom_len..];
        if encoding == encoding_rs::UTF_8 {
            return utf8(rest).map(|t| (Cow::Borrowed(t), None));
        }
        let (text, had_errors) = encoding.decode_without_bom_handling(rest);
        if had_errors || text.contains('\0') {
            return Err(ReadError::Encoding);
        }
        let warning = format!("decoded as {} (byte-order mark)", encoding.name());
        return Ok((Cow::Owned(text.into_owned()), Some(warning)));
    }
    if bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    match utf8_str(bytes) {
        Some(text) => Ok((Cow::Borrowed(text), None)),
        None if cut_short(bytes) => Err(ReadError::Truncated(CUT_UTF8)),
        None => gb18030(bytes),
    }
}

const CUT_UTF8: &str = "UTF-8 up to a character that its last bytes leave unfinished";

/// UTF-8 that is valid up to an unfinished sequence in its last bytes: a
/// UTF-8 file cut inside a character (truncated, or still being written),
/// which GB18030 would otherwise read as mojibake. Real GB18030 text is
/// almost never valid UTF-8 up to its last character.
fn cut_short(bytes: &[u8]) -> bool {
    matches!(simdutf8::compat::from_utf8(bytes), Err(e) if e.error_len().is_none())
}

fn utf8(bytes: &[u8]) -> Result<&str, ReadError> {
    if bytes.contains(&0) {
        return Err(ReadError::Binary);
    }
    match utf8_str(bytes) {
        Some(text) => Ok(text),
        None if cut_short(bytes) => Err(ReadError::Truncated(CUT_UTF8)),
        None => Err(ReadError::Encoding),
    }
}

/// UTF-8 validation with SIMD: Chinese text is all multi-byte sequences,
/// which the standard library checks several times slower, and every byte
/// of the archive passes through here.
fn utf8_str(bytes: &[u8]) -> Option<&str> {
    simdutf8::basic::from_utf8(bytes).ok()
}

fn gb18030(bytes: &[u8]) -> Result<(Cow<'_, str>, Option<String>), ReadError> {
    encoding_rs::GB18030
        .decode_without_bom_handling_and_without_replacement(bytes)
        .map(|text| {
            let warning = "not UTF-8; decoded as GB18030".to_string();
            (Cow::Owned(text.into_owned()), Some(warning))
        })
        .ok_or(ReadError::Encoding)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_and_without_bom() {
        assert_eq!(decode(b"abc".to_vec()).unwrap(), ("abc".into(), None));
        let with_bom = [&[0xEF, 0xBB, 0xBF][..], "标题".as_bytes()].concat();
        assert_eq!(decode(with_bom).unwrap().0, "标题");
    }

    #[test]
    fn gb18030_is_decoded_with_a_warning() {
        let (bytes, _, _) = encoding_rs::GB18030.encode("title: 新浪财经");
        let (text, warning) = decode(bytes.into_owned()).unwrap();
        assert_eq!(text, "title: 新浪财经");
        assert!(warning.unwrap().contains("GB18030"));
    }

    #[test]
    fn binary_and_garbage_are_rejected() {
        assert_eq!(decode(b"a\0b".to_vec()), Err(ReadError::Binary));
        assert_eq!(decode(vec![0x80, 0xFF, 0x80]), Err(ReadError::Encoding));
    }

    #[test]
    fn files_cut_short_are_no_text() {
        assert_eq!(
            decode(Vec::new()),
            Err(ReadError::Truncated("empty (nothing but white space)"))
        );
        assert!(matches!(
            decode(b" \n\t".to_vec()),
            Err(ReadError::Truncated(_))
        ));
        let whole = "---\ntitle: 中文測試\n---\n中文測試".as_bytes();
        for cut in 1..whole.len() {
            match decode(whole[..cut].to_vec()) {
                Ok((text, warning)) => {
                    assert!(whole.starts_with(text.as_bytes()), "cut at {cut}: {text}");
                    assert_eq!(warning, None, "cut at {cut}");
                }
                Err(e) => {
                    assert_eq!(e, ReadError::Truncated(CUT_UTF8), "cut at {cut}");
                    assert!(std::str::from_utf8(&whole[..cut]).is_err());
                }
            }
        }
    }
}
