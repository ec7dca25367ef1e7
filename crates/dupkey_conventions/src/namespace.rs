//! Namespaces: `db.coll`, where the database name cannot hold a dot and the collection name
//! may (`shop.orders.2024`), so a namespace splits at its first dot.

/// The collection `dupkey fix` archives originals and keeps its journal in, in each database
/// it repairs (unless told otherwise). A scan leaves it out unless `--collection` names it.
pub const FIX_ARCHIVE_COLLECTION: &str = "dupkey_archive";

/// `("shop", "orders.2024")` for `shop.orders.2024`; `None` when there is no dot.
pub fn split(namespace: &str) -> Option<(&str, &str)> {
    namespace.split_once('.')
}

/// `("shop", "orders")` when both parts are there; `None` for `users`, `.users` or `shop.`:
/// what a namespace written by dupkey itself (a plan, an archive entry) must look like.
pub fn split_whole(namespace: &str) -> Option<(&str, &str)> {
    split(namespace).filter(|(db, coll)| !db.is_empty() && !coll.is_empty())
}

/// `("", "users")` for `users`: a namespace without a dot names the collection alone.
pub fn split_or_collection(namespace: &str) -> (&str, &str) {
    split(namespace).unwrap_or(("", namespace))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_splits_at_its_first_dot() {
        assert_eq!(split("shop.orders.2024"), Some(("shop", "orders.2024")));
        assert_eq!(split("shop.users"), Some(("shop", "users")));
        assert_eq!(split("users"), None);
        assert_eq!(split_or_collection("users"), ("", "users"));
        assert_eq!(split_or_collection("a.b.c"), ("a", "b.c"));
        assert_eq!(split_whole("a.b.c"), Some(("a", "b.c")));
        for partial in ["users", ".users", "shop.", "."] {
            assert_eq!(split_whole(partial), None, "{partial}");
        }
    }
}
