//! Whether a string can be written into JSON as it is: the fast path of
//! every JSON writer of the gateway (audit lines, log lines), which copy a
//! string whole unless this finds a character JSON escapes.

/// Whether JSON escapes any of `bytes` (a control character, `"` or `\\`),
/// eight bytes at a time.
pub fn needs_escape(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    // Exact for the word as a whole: some byte of `x` is below `n` (n <= 0x80).
    let below = |x: u64, n: u8| x.wrapping_sub(ONES * u64::from(n)) & !x & HIGHS != 0;
    let has = |x: u64, b: u8| below(x ^ (ONES * u64::from(b)), 1);
    let mut words = bytes.chunks_exact(8);
    let special = |x: u64| below(x, 0x20) || has(x, b'"') || has(x, b'\\');
    let in_words = words.by_ref().any(|w| {
        let mut word = [0u8; 8];
        word.copy_from_slice(w);
        special(u64::from_ne_bytes(word))
    });
    in_words || words.remainder().iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\')
}

#[cfg(test)]
mod tests {
    use super::needs_escape;

    #[test]
    fn every_byte_that_needs_an_escape_is_found_wherever_it_is() {
        let scalar = |bytes: &[u8]| bytes.iter().any(|&b| b < 0x20 || b == b'"' || b == b'\\');
        for b in 0..=255u8 {
            for at in 0..19 {
                let mut bytes = vec![b'a'; 19];
                bytes[at] = b;
                assert_eq!(needs_escape(&bytes), scalar(&bytes), "byte {b:#04x} at {at}");
                // Next to bytes of multi-byte characters too.
                bytes.iter_mut().enumerate().filter(|(i, _)| *i != at).for_each(|(_, x)| *x = 0xc3);
                assert_eq!(needs_escape(&bytes), scalar(&bytes), "byte {b:#04x} at {at} among 0xc3");
            }
        }
    }
}
