//! The tokenizer every date shape is read with: numbers, words and single
//! symbols, with spaces and commas only separating.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Num,
    Word,
    Sym,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Token<'a> {
    pub(super) kind: Kind,
    pub(super) text: &'a str,
    /// Byte offset in the tokenized text, so a zone name can be re-read whole.
    pub(super) start: usize,
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

pub(super) fn tokenize(text: &str) -> Vec<Token<'_>> {
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
}
