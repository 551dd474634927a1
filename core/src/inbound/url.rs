//! Percent-decoding (RFC 3986) of what AWS hands over URL-encoded: IAM's trust policies, and the
//! `x-amz-copy-source` of a copy as CloudTrail records the header.

/// Decodes `%XX`; anything else, a stray `%` included, is kept as it is. Plain text is unchanged
/// unless it contains `%XX`.
pub fn url_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |j: usize| bytes.get(j).and_then(|c| (*c as char).to_digit(16));
        match (b, hex(i + 1), hex(i + 2)) {
            (b'%', Some(h), Some(l)) => {
                out.push((h * 16 + l) as u8);
                i += 3;
            }
            _ => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}
