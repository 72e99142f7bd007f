//! Reading object listings: what files a store holds.

/// The files an object listing holds: the parts of a merged file
/// (`…files/<sha256>/<attempt>/<index>`) count once, as their folder; any
/// other object (a chunk, a one-request upload) as itself; the store's
/// identity (`ferry-store.json`) is no file. Sorted.
pub fn files_among(keys: &[String]) -> Vec<String> {
    let mut files: Vec<String> = keys
        .iter()
        .filter(|key| !key.ends_with("ferry-store.json"))
        .map(|key| match key.rsplit_once('/') {
            Some((folder, part))
                if folder.contains("files/") && part.bytes().all(|byte| byte.is_ascii_digit()) =>
            {
                folder.to_owned()
            }
            _ => key.clone(),
        })
        .collect();
    files.sort();
    files.dedup();
    files
}
