//! Which feeds there are: the whole site, every node of the Hexo category
//! tree (a node is its path of names, so `A > B` and `C > B` are different
//! nodes) and every tag; and which of them a post is filed under.

use std::sync::Arc;

/// A feed, independent of its format.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedKey {
    Site,
    /// A category node as its path of names, root first.
    Category(Arc<[String]>),
    Tag(Arc<str>),
    /// A configured feed (`feeds:`), by its slug.
    Configured(Arc<str>),
}

impl FeedKey {
    /// Served even with no article: the site's feed and configured feeds
    /// exist because the configuration says so.
    pub fn always_served(&self) -> bool {
        matches!(self, FeedKey::Site | FeedKey::Configured(_))
    }
}

/// Every node of one category hierarchy, root first: `[A]`, `[A, B]`, …
/// (a node's feed holds its whole subtree).
pub fn nodes(path: &[String]) -> impl Iterator<Item = &[String]> {
    (1..=path.len()).map(move |depth| &path[..depth])
}

/// The category nodes of a post's hierarchies, in order; a node two
/// hierarchies share comes once for each.
pub fn category_keys(categories: &[Vec<String>]) -> impl Iterator<Item = FeedKey> + '_ {
    categories
        .iter()
        .flat_map(|path| nodes(path))
        .map(|node| FeedKey::Category(node.into()))
}

/// The feeds a post is filed under besides the site's, in the order
/// documents show them: every category node, then the tags.
pub fn filed_under<'a>(
    categories: &'a [Vec<String>],
    tags: &'a [String],
) -> impl Iterator<Item = FeedKey> + 'a {
    category_keys(categories).chain(tags.iter().map(|t| FeedKey::Tag(t.as_str().into())))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(path: &[&str]) -> Vec<String> {
        path.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn every_node_of_every_hierarchy_then_the_tags() {
        let categories = [names(&["A", "B"]), names(&["A", "C"])];
        let tags = names(&["t"]);
        let category = |p: &[&str]| FeedKey::Category(names(p).into());
        let keys: Vec<FeedKey> = filed_under(&categories, &tags).collect();
        assert_eq!(
            keys,
            [
                category(&["A"]),
                category(&["A", "B"]),
                category(&["A"]),
                category(&["A", "C"]),
                FeedKey::Tag("t".into()),
            ]
        );
    }
}
