//! The one place where the validated configuration becomes what each
//! module needs (ripgrep's low-level arguments turned into high-level
//! ones), so that the modules it feeds never read `Config`.

use crate::article::Loader;
use crate::config::Config;

/// How posts are read and parsed.
pub fn loader(config: &Config) -> Loader {
    Loader {
        dates: config.date_context(),
        base: config.site.url.clone(),
        max_file_size: config.load.max_file_size,
        links: config.load.links(),
        max_body_bytes: config.load.max_body_bytes,
    }
}
