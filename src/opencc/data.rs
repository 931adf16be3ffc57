//! OpenCC's conversion configurations and dictionaries, as ferrous-opencc
//! ships them, bundled by build.rs: `(file stem, text)`.

include!(concat!(env!("OUT_DIR"), "/opencc_data.rs"));
