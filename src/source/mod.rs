//! Finding article files and reading them as text.
//!
//! Everything that touches the file system on the way in lives here, so
//! the parsing modules are pure functions of strings: the walk below the
//! source folder (`walk`), what a file is called and what role it has
//! (`names`), reading its bytes (`read`) and decoding them (`decode`).

mod decode;
mod names;
mod read;
mod walk;

pub use decode::{decode, decode_slice};
pub use names::{Role, SourceFile, name_is_utf8, path_of, rel_of};
pub use read::{CUT_SHORT, Fingerprint, ReadError, Unread, read_bytes};
pub use walk::{
    LinkFence, Links, SourceError, WalkError, Walked, classify, discover, hidden, unreadable, walk,
};
