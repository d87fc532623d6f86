//! Bytes to text: UTF-8 with or without BOM, UTF-16 (LE or BE) with BOM, and GBK, which is
//! what supplier files in the wild come in.

use std::borrow::Cow;

/// Decodes an account file. A BOM decides; without one, valid UTF-8 is taken as is and
/// anything else is read as GBK (whose decoder also accepts plain ASCII). Line endings are
/// left alone: every parser here accepts CRLF and LF.
pub fn decode(bytes: &[u8]) -> Cow<'_, str> {
    if let Some((encoding, bom)) = encoding_rs::Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_without_bom_handling(&bytes[bom..]);
        return text;
    }
    match std::str::from_utf8(bytes) {
        Ok(s) => Cow::Borrowed(s),
        Err(_) => encoding_rs::GBK.decode_without_bom_handling(bytes).0,
    }
}
