//! [`SortedSet`]: the set type of the policy model.

use std::borrow::Borrow;

/// A set kept as a sorted, deduplicated vector. Policies hold many tiny sets (one to a few actions,
/// resources, principals, condition values); a vector is one allocation where a B-tree is several, and
/// building and dropping B-trees was a quarter of the time to read a policy.
///
/// Iteration is in ascending order, which is the order the canonical form writes.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct SortedSet<T>(Vec<T>);

impl<T> Default for SortedSet<T> {
    fn default() -> Self {
        SortedSet(Vec::new())
    }
}

impl<T: Ord> SortedSet<T> {
    pub fn new() -> Self {
        SortedSet(Vec::new())
    }

    /// Sorts (stably, so the first of equal elements is kept) and drops duplicates.
    pub fn from_vec(mut items: Vec<T>) -> Self {
        items.sort();
        items.dedup();
        SortedSet(items)
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, T> {
        self.0.iter()
    }

    pub fn first(&self) -> Option<&T> {
        self.0.first()
    }

    pub fn as_slice(&self) -> &[T] {
        &self.0
    }

    pub fn contains<Q: Ord + ?Sized>(&self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        self.0.binary_search_by(|x| x.borrow().cmp(item)).is_ok()
    }

    /// Inserts `item`; false (and no change) if an equal element is present.
    pub fn insert(&mut self, item: T) -> bool {
        match self.0.binary_search(&item) {
            Ok(_) => false,
            Err(at) => {
                self.0.insert(at, item);
                true
            }
        }
    }

    pub fn remove<Q: Ord + ?Sized>(&mut self, item: &Q) -> bool
    where
        T: Borrow<Q>,
    {
        match self.0.binary_search_by(|x| x.borrow().cmp(item)) {
            Ok(at) => {
                self.0.remove(at);
                true
            }
            Err(_) => false,
        }
    }
}

impl<T: Ord> FromIterator<T> for SortedSet<T> {
    fn from_iter<I: IntoIterator<Item = T>>(iter: I) -> Self {
        SortedSet::from_vec(iter.into_iter().collect())
    }
}

impl<T: Ord, const N: usize> From<[T; N]> for SortedSet<T> {
    fn from(items: [T; N]) -> Self {
        SortedSet::from_vec(Vec::from(items))
    }
}

impl<'a, T> IntoIterator for &'a SortedSet<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<T> IntoIterator for SortedSet<T> {
    type Item = T;
    type IntoIter = std::vec::IntoIter<T>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.into_iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_like_a_set() {
        let mut s = SortedSet::from(["b".to_owned(), "a".to_owned(), "b".to_owned()]);
        assert_eq!(s.as_slice(), ["a", "b"]);
        assert!(s.contains("a"));
        assert!(!s.insert("a".to_owned()));
        assert!(s.insert("c".to_owned()));
        assert!(s.remove("b"));
        assert!(!s.remove("b"));
        assert_eq!(s.iter().cloned().collect::<Vec<_>>(), ["a", "c"]);
    }
}
