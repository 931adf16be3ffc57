//! What loading one file came to: the article, and every warning or error
//! located by line and field, as `refeed check` and `/healthz` show them.

use std::fmt;
use std::sync::Arc;

use serde::Serialize;

use super::Parsed;
use super::front_matter::FieldError;
use super::{Article, Opening};
use crate::source::{Fingerprint, Role, SourceFile};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Warning,
    Error,
}

/// One finding about a file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Message {
    pub severity: Severity,
    pub line: Option<usize>,
    pub column: Option<usize>,
    pub field: Option<String>,
    pub text: String,
}

impl Message {
    pub fn error(line: Option<usize>, field: Option<&str>, text: String) -> Self {
        Self::new(Severity::Error, line, field, text)
    }

    pub fn warning(line: Option<usize>, field: Option<&str>, text: String) -> Self {
        Self::new(Severity::Warning, line, field, text)
    }

    pub fn field_error(line: Option<usize>, field: &str, text: String) -> Self {
        Self::error(line, Some(field), text)
    }

    pub fn field_warning(line: Option<usize>, field: &str, text: String) -> Self {
        Self::warning(line, Some(field), text)
    }

    fn new(severity: Severity, line: Option<usize>, field: Option<&str>, text: String) -> Self {
        Message {
            severity,
            line,
            column: None,
            field: field.map(str::to_string),
            text,
        }
    }

    /// Front-matter problems arrive as field errors; whether they reject
    /// the file is decided by the caller, which picks the severity.
    pub fn from_field(e: FieldError) -> Self {
        Self::from_field_as(e, Severity::Error)
    }

    pub fn from_field_as(e: FieldError, severity: Severity) -> Self {
        Message {
            severity,
            line: e.line,
            column: e.column,
            field: e.field,
            text: e.reason,
        }
    }
}

/// `line 3:7: date: impossible date: ...`
impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.line, self.column) {
            (Some(l), Some(c)) => write!(f, "line {l}:{c}: ")?,
            (Some(l), None) => write!(f, "line {l}: ")?,
            _ => {}
        }
        if let Some(field) = &self.field {
            write!(f, "{field}: ")?;
        }
        f.write_str(&self.text)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Ok,
    Warning,
    Rejected,
}

/// The outcome for one file.
#[derive(Debug, Clone)]
pub struct FileReport {
    pub rel: Arc<str>,
    pub role: Role,
    pub article: Option<Arc<Article>>,
    pub messages: Vec<Message>,
    /// The file as it was when this report was made.
    pub fingerprint: Option<Fingerprint>,
    /// How the loaded text opened; what a later version that looks like
    /// its first bytes is compared with.
    pub opening: Opening,
    /// The post is a symbolic link to a file in the folder
    /// ([`SourceFile::linked`]).
    pub linked: bool,
}

impl FileReport {
    /// Messages of a loaded file are warnings, whatever raised them.
    pub fn loaded(file: &SourceFile, parsed: Parsed) -> Self {
        let mut messages = parsed.messages;
        for m in &mut messages {
            m.severity = Severity::Warning;
        }
        FileReport {
            rel: file.rel.clone(),
            role: file.role,
            article: Some(Arc::new(parsed.article)),
            messages,
            fingerprint: parsed.fingerprint,
            opening: parsed.opening,
            linked: file.linked,
        }
    }

    pub fn rejected(
        file: &SourceFile,
        messages: Vec<Message>,
        fingerprint: Option<Fingerprint>,
    ) -> Self {
        FileReport {
            rel: file.rel.clone(),
            role: file.role,
            article: None,
            messages,
            fingerprint,
            opening: Opening::Body,
            linked: file.linked,
        }
    }

    /// A path the folder walk could not read (permissions, a link loop).
    pub fn unreadable(root: &std::path::Path, e: crate::source::WalkError) -> Self {
        let rel = crate::source::rel_of(root, &e.path)
            .unwrap_or_else(|| e.path.to_string_lossy().into_owned());
        FileReport {
            rel: rel.into(),
            role: Role::Post,
            article: None,
            messages: vec![Message::error(None, None, e.reason)],
            fingerprint: None,
            opening: Opening::Body,
            linked: false,
        }
    }

    /// Rejected because it looks cut short: likely still being written.
    pub fn looks_cut(&self) -> bool {
        self.article.is_none()
            && self
                .messages
                .iter()
                .any(|m| m.text.starts_with(crate::source::CUT_SHORT))
    }

    pub fn status(&self) -> Status {
        match (&self.article, self.messages.is_empty()) {
            (None, _) => Status::Rejected,
            (Some(_), true) => Status::Ok,
            (Some(_), false) => Status::Warning,
        }
    }

    /// The reason a summary groups this file under: the first message,
    /// without its location.
    pub fn reason(&self) -> Option<String> {
        self.messages.first().map(|m| match &m.field {
            Some(field) => format!("{field}: {}", m.text),
            None => m.text.clone(),
        })
    }
}
