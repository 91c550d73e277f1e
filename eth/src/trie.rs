//! A Merkle-Patricia trie over 32-byte keys whose nodes are shared between
//! versions ([`Trie`]): an update copies only the nodes on the paths it
//! changes, and each node hashes once, so a new root costs what the changes
//! touch, and an older version stays readable (and provable) as long as it
//! is held.
//!
//! Nodes are encoded with alloy-trie's node types, as Ethereum encodes them;
//! the keys are the hashed keys of Ethereum's secure tries, so every key is
//! 64 nibbles long and no branch holds a value.

use std::sync::{Arc, OnceLock};

use alloy_primitives::{B256, Bytes, keccak256};
use alloy_trie::nodes::{BranchNodeRef, ExtensionNodeRef, LeafNodeRef, RlpNode};
use alloy_trie::{EMPTY_ROOT_HASH, Nibbles, TrieMask};

/// A value a trie's leaves hold, as its leaf encodes it.
pub(crate) trait TrieValue: Clone + Send + Sync {
    /// Appends the value's RLP encoding (the leaf's value field).
    fn encode_value(&self, out: &mut Vec<u8>);
}

/// A trie: `None` is the empty one. Cloning it is one reference count.
#[derive(Clone, Debug)]
pub(crate) struct Trie<V> {
    root: Option<Node<V>>,
}

impl<V> Default for Trie<V> {
    fn default() -> Self {
        Self { root: None }
    }
}

#[derive(Debug)]
enum Node<V> {
    Leaf(Arc<Leaf<V>>),
    Extension(Arc<Extension<V>>),
    Branch(Arc<Branch<V>>),
}

impl<V> Clone for Node<V> {
    fn clone(&self) -> Self {
        match self {
            Node::Leaf(l) => Node::Leaf(l.clone()),
            Node::Extension(e) => Node::Extension(e.clone()),
            Node::Branch(b) => Node::Branch(b.clone()),
        }
    }
}

/// A leaf at `depth` nibbles: its path is the rest of `key`.
#[derive(Debug)]
struct Leaf<V> {
    key: B256,
    depth: u8,
    value: V,
    rlp: OnceLock<RlpNode>,
}

/// An extension: the nibbles `path` shared by every key below, then `child`
/// (a branch).
#[derive(Debug)]
struct Extension<V> {
    path: Nibbles,
    child: Node<V>,
    rlp: OnceLock<RlpNode>,
}

#[derive(Debug)]
struct Branch<V> {
    children: [Option<Node<V>>; 16],
    rlp: OnceLock<RlpNode>,
}

/// What a removal left of a subtree.
enum Removed<V> {
    /// The key was not there: the subtree is unchanged.
    Unchanged,
    /// Nothing is left.
    Gone,
    /// This is left.
    Now(Node<V>),
}

fn nibble(key: &B256, i: usize) -> u8 {
    let byte = key[i / 2];
    if i.is_multiple_of(2) { byte >> 4 } else { byte & 0x0f }
}

fn leaf<V>(key: B256, depth: usize, value: V) -> Node<V> {
    Node::Leaf(Arc::new(Leaf { key, depth: depth as u8, value, rlp: OnceLock::new() }))
}

/// An extension of `path` over `child`, or `child` itself for no path.
fn extension<V>(path: Nibbles, child: Node<V>) -> Node<V> {
    if path.is_empty() {
        return child;
    }
    Node::Extension(Arc::new(Extension { path, child, rlp: OnceLock::new() }))
}

fn branch<V>(children: [Option<Node<V>>; 16]) -> Node<V> {
    Node::Branch(Arc::new(Branch { children, rlp: OnceLock::new() }))
}

impl<V: TrieValue> Trie<V> {
    /// Whether the trie holds no key.
    pub(crate) fn is_empty(&self) -> bool {
        self.root.is_none()
    }

    /// The value under `key`.
    pub(crate) fn get(&self, key: &B256) -> Option<&V> {
        match self.path(key).last()? {
            Node::Leaf(l) if l.key == *key => Some(&l.value),
            _ => None,
        }
    }

    /// Every value the trie holds, in no particular order.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&V)) {
        let mut stack: Vec<&Node<V>> = self.root.iter().collect();
        while let Some(node) = stack.pop() {
            match node {
                Node::Leaf(l) => f(&l.value),
                Node::Extension(e) => stack.push(&e.child),
                Node::Branch(b) => stack.extend(b.children.iter().flatten()),
            }
        }
    }

    /// The nodes from the root toward `key`: to its leaf, or to the node
    /// where its absence shows.
    fn path(&self, key: &B256) -> Path<'_, V> {
        Path { next: self.root.as_ref(), key: *key, depth: 0 }
    }

    /// Sets `key` to `value`.
    pub(crate) fn insert(&mut self, key: B256, value: V) {
        let node = match &self.root {
            None => leaf(key, 0, value),
            Some(root) => insert(root, 0, key, value),
        };
        self.root = Some(node);
    }

    /// Removes `key`, where it is held.
    pub(crate) fn remove(&mut self, key: &B256) {
        let Some(root) = &self.root else { return };
        match remove(root, 0, key) {
            Removed::Unchanged => {}
            Removed::Gone => self.root = None,
            Removed::Now(node) => self.root = Some(node),
        }
    }

    /// The root hash (the empty trie's for no key). Only nodes not hashed
    /// before are hashed.
    pub(crate) fn root(&self) -> B256 {
        self.root_on(1)
    }

    /// [`Self::root`], the root branch's subtrees hashed on up to `threads`
    /// threads.
    pub(crate) fn root_on(&self, threads: usize) -> B256 {
        let Some(root) = &self.root else { return EMPTY_ROOT_HASH };
        if let (Node::Branch(b), 2..) = (root, threads) {
            let children: Vec<&Node<V>> = b.children.iter().flatten().collect();
            lanes_runtime::parallel_map(
                children.len(),
                threads,
                || (),
                |_, i| {
                    rlp_node(children[i]);
                },
            );
        }
        let rlp = rlp_node(root);
        match rlp.as_hash() {
            Some(hash) => hash,
            None => keccak256(rlp.as_slice()),
        }
    }

    /// EIP-1186's proof of `key`: the encoded nodes on its path, root
    /// first, to its leaf or to where its absence shows; a node embedded in
    /// its parent (under 32 bytes) is not listed, as geth lists them.
    pub(crate) fn proof(&self, key: &B256) -> Vec<Bytes> {
        let mut out = Vec::new();
        for node in self.path(key) {
            let encoded = encode(node);
            if out.is_empty() || encoded.len() >= 32 {
                out.push(Bytes::from(encoded));
            }
        }
        out
    }
}

/// [`Trie::path`]'s walk.
struct Path<'a, V> {
    next: Option<&'a Node<V>>,
    key: B256,
    depth: usize,
}

impl<'a, V> Iterator for Path<'a, V> {
    type Item = &'a Node<V>;

    fn next(&mut self) -> Option<&'a Node<V>> {
        let node = self.next?;
        self.next = match node {
            Node::Leaf(_) => None,
            Node::Extension(e) => {
                let at = self.depth;
                self.depth += e.path.len();
                (key_path(&self.key, at, e.path.len()) == e.path).then_some(&e.child)
            }
            Node::Branch(b) => {
                self.depth += 1;
                b.children[nibble(&self.key, self.depth - 1) as usize].as_ref()
            }
        };
        Some(node)
    }
}

/// The `len` nibbles of `key` from nibble `depth` on.
fn key_path(key: &B256, depth: usize, len: usize) -> Nibbles {
    Nibbles::unpack(key).slice(depth..depth + len)
}

fn insert<V: TrieValue>(node: &Node<V>, depth: usize, key: B256, value: V) -> Node<V> {
    match node {
        Node::Leaf(l) if l.key == key => leaf(key, depth, value),
        Node::Leaf(l) => {
            // The first nibble where the two keys part is a new branch's.
            let common = (depth..64).take_while(|&i| nibble(&l.key, i) == nibble(&key, i)).count();
            let at = depth + common;
            let mut children: [Option<Node<V>>; 16] = Default::default();
            children[nibble(&l.key, at) as usize] = Some(leaf(l.key, at + 1, l.value.clone()));
            children[nibble(&key, at) as usize] = Some(leaf(key, at + 1, value));
            extension(key_path(&key, depth, at - depth), branch(children))
        }
        Node::Extension(e) => {
            let common = e.path.common_prefix_length(&key_path(&key, depth, e.path.len()));
            if common == e.path.len() {
                let child = insert(&e.child, depth + common, key, value);
                return extension(e.path, child);
            }
            // The key parts from the extension inside its path.
            let at = depth + common;
            let mut children: [Option<Node<V>>; 16] = Default::default();
            let rest = extension(e.path.slice(common + 1..), e.child.clone());
            children[e.path.get_unchecked(common) as usize] = Some(rest);
            children[nibble(&key, at) as usize] = Some(leaf(key, at + 1, value));
            extension(e.path.slice(..common), branch(children))
        }
        Node::Branch(b) => {
            let i = nibble(&key, depth) as usize;
            let mut children = b.children.clone();
            children[i] = Some(match &b.children[i] {
                None => leaf(key, depth + 1, value),
                Some(child) => insert(child, depth + 1, key, value),
            });
            branch(children)
        }
    }
}

fn remove<V: TrieValue>(node: &Node<V>, depth: usize, key: &B256) -> Removed<V> {
    match node {
        Node::Leaf(l) if l.key == *key => Removed::Gone,
        Node::Leaf(_) => Removed::Unchanged,
        Node::Extension(e) => {
            if key_path(key, depth, e.path.len()) != e.path {
                return Removed::Unchanged;
            }
            match remove(&e.child, depth + e.path.len(), key) {
                Removed::Unchanged => Removed::Unchanged,
                Removed::Gone => Removed::Gone,
                Removed::Now(child) => Removed::Now(lift(e.path, child, depth)),
            }
        }
        Node::Branch(b) => {
            let i = nibble(key, depth) as usize;
            let Some(child) = &b.children[i] else { return Removed::Unchanged };
            let mut children = b.children.clone();
            match remove(child, depth + 1, key) {
                Removed::Unchanged => return Removed::Unchanged,
                Removed::Gone => children[i] = None,
                Removed::Now(child) => children[i] = Some(child),
            }
            let mut left = children.iter().enumerate().filter(|(_, c)| c.is_some());
            match (left.next(), left.next()) {
                (Some((only, child)), None) => {
                    // A branch of one child folds into it.
                    let child = child.clone().expect("filtered to present children");
                    Removed::Now(lift(Nibbles::from_nibbles([only as u8]), child, depth))
                }
                _ => Removed::Now(branch(children)),
            }
        }
    }
}

/// `child`, reached from `depth` through `path`, as one node at `depth`: a
/// leaf moves up, an extension's path grows, a branch gets an extension.
fn lift<V: TrieValue>(path: Nibbles, child: Node<V>, depth: usize) -> Node<V> {
    match child {
        Node::Leaf(l) => leaf(l.key, depth, l.value.clone()),
        Node::Extension(e) => extension(path.join(&e.path), e.child.clone()),
        branch @ Node::Branch(_) => extension(path, branch),
    }
}

/// The node as its parent refers to it: its encoding, or the hash of it
/// from 32 bytes on. Computed once per node.
fn rlp_node<V: TrieValue>(node: &Node<V>) -> RlpNode {
    let cell = match node {
        Node::Leaf(l) => &l.rlp,
        Node::Extension(e) => &e.rlp,
        Node::Branch(b) => &b.rlp,
    };
    cell.get_or_init(|| RlpNode::from_rlp(&encode(node))).clone()
}

/// The node's RLP encoding.
fn encode<V: TrieValue>(node: &Node<V>) -> Vec<u8> {
    let mut out = Vec::with_capacity(128);
    match node {
        Node::Leaf(l) => {
            let path = Nibbles::unpack(l.key).slice(l.depth as usize..);
            let mut value = Vec::with_capacity(64);
            l.value.encode_value(&mut value);
            LeafNodeRef::new(&path, &value).rlp(&mut out);
        }
        Node::Extension(e) => {
            let child = rlp_node(&e.child);
            ExtensionNodeRef::new(&e.path, &child).rlp(&mut out);
        }
        Node::Branch(b) => {
            let mut mask = TrieMask::default();
            let mut stack = Vec::with_capacity(16);
            for (i, child) in b.children.iter().enumerate() {
                if let Some(child) = child {
                    mask.set_bit(i as u8);
                    stack.push(rlp_node(child));
                }
            }
            BranchNodeRef::new(&stack, mask).rlp(&mut out);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use alloy_primitives::U256;
    use alloy_trie::HashBuilder;
    use alloy_trie::proof::ProofRetainer;
    use proptest::prelude::*;

    use super::*;

    impl TrieValue for u64 {
        fn encode_value(&self, out: &mut Vec<u8>) {
            alloy_rlp::Encodable::encode(&U256::from(*self), out);
        }
    }

    /// The root and a proof of `target` by alloy-trie's builder, from every
    /// leaf at once (geth proves nothing in an empty trie: no node).
    fn built(map: &BTreeMap<B256, u64>, target: B256) -> (B256, Vec<Bytes>) {
        if map.is_empty() {
            return (EMPTY_ROOT_HASH, Vec::new());
        }
        let path = Nibbles::unpack(target);
        let mut builder =
            HashBuilder::default().with_proof_retainer(ProofRetainer::new(vec![path]));
        for (key, value) in map {
            let mut out = Vec::new();
            value.encode_value(&mut out);
            builder.add_leaf(Nibbles::unpack(key), &out);
        }
        let root = builder.root();
        let proof = builder.take_proof_nodes().matching_nodes_sorted(&path);
        (root, proof.into_iter().map(|(_, node)| node).collect())
    }

    /// Keys from a small pool, so updates and removals hit held keys, with
    /// shared prefixes (a low-entropy first byte) so extensions form.
    fn key() -> impl Strategy<Value = B256> {
        (0u8..4, 0u8..3, any::<u8>()).prop_map(|(a, b, c)| {
            let mut key = keccak256([c]);
            key[0] = a;
            key[1] = if b == 0 { 0 } else { key[1] };
            key
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]
        /// Every version's root and proofs equal a trie built whole from
        /// the same keys; older versions stay as they were.
        #[test]
        fn test_updates_equal_a_whole_build(
            ops in prop::collection::vec((key(), 0u64..4), 1..80),
            probe in key(),
        ) {
            let mut trie = Trie::default();
            let mut map = BTreeMap::new();
            let mut versions = Vec::new();
            for (key, value) in ops {
                match value {
                    0 => { trie.remove(&key); map.remove(&key); }
                    v => { trie.insert(key, v); map.insert(key, v); }
                }
                let (root, proof) = built(&map, probe);
                prop_assert_eq!(trie.root(), root);
                prop_assert_eq!(trie.proof(&probe), proof);
                prop_assert_eq!(trie.get(&key), map.get(&key));
                prop_assert_eq!(trie.is_empty(), map.is_empty());
                versions.push((trie.clone(), map.clone()));
            }
            for (trie, map) in versions {
                prop_assert_eq!(trie.root(), built(&map, probe).0);
                let mut values = Vec::new();
                trie.for_each(|v| values.push(*v));
                values.sort_unstable();
                let mut held: Vec<u64> = map.values().copied().collect();
                held.sort_unstable();
                prop_assert_eq!(values, held);
            }
        }
    }
}
