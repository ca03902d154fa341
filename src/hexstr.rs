//! Lower-case hex text of bytes, written in one pass (`hex::encode` builds
//! its `String` a `char` at a time, ~30 instructions per digit).

/// `bytes` as lower-case hex.
pub fn lower(bytes: &[u8]) -> String {
    let mut out = vec![0u8; bytes.len() * 2];
    // The output is exactly twice the input, the one length encode_to_slice accepts.
    if hex::encode_to_slice(bytes, &mut out).is_err() {
        return hex::encode(bytes);
    }
    // Hex digits are ASCII.
    String::from_utf8(out).unwrap_or_else(|_| hex::encode(bytes))
}

#[cfg(test)]
mod tests {
    #[test]
    fn writes_what_a_format_of_each_byte_writes() {
        for bytes in [&[][..], &[0x00], &[0xff, 0x0a, 0x7f], &(0..=255).collect::<Vec<u8>>()] {
            let expected: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(super::lower(bytes), expected);
        }
    }
}
