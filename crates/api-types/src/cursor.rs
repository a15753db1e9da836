//! The listing's paging cursor: opaque to clients, the sort key and id of a page's last row,
//! hex-encoded. Decoding takes whatever a client sends back and never panics.

/// The longest cursor accepted, in characters.
pub const MAX_CURSOR: usize = 2048;

pub fn encode(key: &str, id: i64) -> String {
    format!("{key}\u{1f}{id}").bytes().map(|b| format!("{b:02x}")).collect()
}

/// The key and id of a cursor, or `None` for anything this hub did not make.
pub fn decode(cursor: &str) -> Option<(String, i64)> {
    if !cursor.is_ascii() || !cursor.len().is_multiple_of(2) || cursor.len() > MAX_CURSOR {
        return None;
    }
    let bytes = cursor
        .as_bytes()
        .chunks(2)
        .map(|pair| std::str::from_utf8(pair).ok().and_then(|hex| u8::from_str_radix(hex, 16).ok()))
        .collect::<Option<Vec<u8>>>()?;
    let text = String::from_utf8(bytes).ok()?;
    let (key, id) = text.rsplit_once('\u{1f}')?;
    Some((key.to_owned(), id.parse().ok()?))
}
