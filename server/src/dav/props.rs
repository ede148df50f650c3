//! Dead properties (PROPPATCH) in memory, for the life of the process: what Windows and macOS
//! clients set (times, Finder data) and litmus checks. Keyed by storage path, so they follow
//! a WebDAV MOVE or COPY and go with a WebDAV DELETE; changes made over HTTP or FTP do not
//! touch them. Bounded: past [`MAX_RESOURCES`] resources or [`MAX_PER_RESOURCE`] properties on
//! one, a set is refused with 507. Who may set them is `UserFs`'s decision (a write there).

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use dav_server::fs::DavProp;
use poem::http::StatusCode;

use crate::vfs::VPath;

/// Most resources that carry dead properties at once.
pub const MAX_RESOURCES: usize = 10_000;
/// Most dead properties on one resource.
pub const MAX_PER_RESOURCE: usize = 64;

type Props = HashMap<(Option<String>, String), DavProp>;

#[derive(Default)]
pub struct DeadProps {
    map: Mutex<BTreeMap<VPath, Props>>,
}

fn key(p: &DavProp) -> (Option<String>, String) {
    (p.namespace.clone(), p.name.clone())
}

/// `p` without its value (a PROPFIND `propname`, or a PROPPATCH answer).
fn bare(p: &DavProp) -> DavProp {
    DavProp { xml: None, ..p.clone() }
}

impl DeadProps {
    fn map(&self) -> std::sync::MutexGuard<'_, BTreeMap<VPath, Props>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `patch` (set or remove, each) to `path`'s properties.
    pub fn patch(&self, path: &VPath, patch: Vec<(bool, DavProp)>) -> Vec<(StatusCode, DavProp)> {
        let mut map = self.map();
        let room = map.len() < MAX_RESOURCES || map.contains_key(path);
        let props = map.entry(path.clone()).or_default();
        let mut out = Vec::with_capacity(patch.len());
        for (set, p) in patch {
            let answer = bare(&p);
            if !set {
                props.remove(&key(&p));
            } else if room && (props.len() < MAX_PER_RESOURCE || props.contains_key(&key(&p))) {
                props.insert(key(&p), p);
            } else {
                out.push((StatusCode::INSUFFICIENT_STORAGE, answer));
                continue;
            }
            out.push((StatusCode::OK, answer));
        }
        if props.is_empty() {
            map.remove(path);
        }
        out
    }

    pub fn all(&self, path: &VPath, with_values: bool) -> Vec<DavProp> {
        let map = self.map();
        let props = map.get(path).into_iter().flat_map(|p| p.values());
        props.map(|p| if with_values { p.clone() } else { bare(p) }).collect()
    }

    pub fn one(&self, path: &VPath, prop: &DavProp) -> Option<Vec<u8>> {
        self.map().get(path)?.get(&key(prop))?.xml.clone()
    }

    /// The properties at and below `from` now belong at `to` as well (`keep`: a copy) or
    /// instead (a move).
    pub fn carry(&self, from: &VPath, to: &VPath, keep: bool) {
        let mut map = self.map();
        let moved: Vec<VPath> = map.keys().filter(|k| k.starts_with(from)).cloned().collect();
        self.drop_locked(&mut map, to);
        for k in moved {
            let Some(dest) = k.strip_prefix(from).and_then(|rel| to.join(&rel).ok()) else { continue };
            let props = if keep { map.get(&k).cloned() } else { map.remove(&k) };
            if let Some(props) = props
                && (map.len() < MAX_RESOURCES || !keep)
            {
                map.insert(dest, props);
            }
        }
    }

    /// Forgets the properties at and below `path` (it was deleted or replaced).
    pub fn forget(&self, path: &VPath) {
        self.drop_locked(&mut self.map(), path);
    }

    fn drop_locked(&self, map: &mut BTreeMap<VPath, Props>, path: &VPath) {
        map.retain(|k, _| !k.starts_with(path));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> VPath {
        VPath::parse(s).expect("vpath")
    }

    fn prop(name: &str) -> DavProp {
        DavProp { name: name.into(), prefix: None, namespace: Some("urn:x".into()), xml: Some(b"<x/>".to_vec()) }
    }

    #[test]
    fn dead_properties_follow_moves_and_copies_go_with_deletes_and_are_bounded() {
        let store = DeadProps::default();
        assert_eq!(store.patch(&v("/a/f"), vec![(true, prop("p"))])[0].0, StatusCode::OK);
        store.carry(&v("/a"), &v("/b"), true);
        assert!(store.one(&v("/a/f"), &prop("p")).is_some() && store.one(&v("/b/f"), &prop("p")).is_some());
        store.carry(&v("/b"), &v("/c"), false);
        assert!(store.one(&v("/b/f"), &prop("p")).is_none() && store.one(&v("/c/f"), &prop("p")).is_some());
        store.forget(&v("/c"));
        assert!(store.all(&v("/c/f"), true).is_empty());
        let many: Vec<_> = (0..=MAX_PER_RESOURCE).map(|i| (true, prop(&format!("p{i}")))).collect();
        let answers = store.patch(&v("/full"), many);
        assert_eq!(answers.iter().filter(|(s, _)| *s == StatusCode::INSUFFICIENT_STORAGE).count(), 1);
        assert_eq!(store.all(&v("/full"), false).len(), MAX_PER_RESOURCE);
        assert!(store.all(&v("/full"), false).iter().all(|p| p.xml.is_none()), "names only");
    }
}
