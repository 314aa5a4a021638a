//! The contract's JSON, written by a small `serde::Serializer` of our own
//! (issue 13 item 2): the wire types' `#[derive(Serialize)]` stay the one
//! model of the schema, and this writes what serde_json with the old
//! `Contract` formatter wrote, byte for byte, at a fraction of the cost
//! (serde_json scans every struct key for escapes, byte by byte; a
//! `--once --json` snapshot has 20 000 objects of 30 keys).
//!
//! - struct keys (Rust identifiers or serde renames) are copied as they are;
//! - a string is copied in one piece when no byte needs escaping, else every
//!   control character (C0, DEL, C1) and U+2028/U+2029 becomes `\u00xx`
//!   (lowercase hex, never `\b`/`\f`), `"`, `\`, LF, CR and tab their short
//!   escapes, `/` stays;
//! - integers as `itoa` prints them, floats as Rust's `Display` (`0`, `1.5`),
//!   NaN and infinities as `null`, as serde_json does;
//! - what no wire type uses (bytes, enums with data, i128, f32) is an
//!   error.

use std::fmt::{self, Display};
use std::io::Write;

use serde::ser::{self, Impossible, Serialize};

/// Writes `value` as JSON at the end of `out`.
pub(crate) fn write(out: &mut Vec<u8>, value: &(impl Serialize + ?Sized)) -> Result<(), Error> {
    value.serialize(&mut Json { out })
}

/// Why a value has no JSON in the contract (a type no wire type uses).
#[derive(Debug)]
pub(crate) struct Error(String);

impl Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Error {}

impl ser::Error for Error {
    fn custom<T: Display>(msg: T) -> Error {
        Error(msg.to_string())
    }
}

fn unsupported(what: &str) -> Error {
    Error(format!("the JSON contract has no {what}"))
}

/// The serializer: everything goes to the end of `out`.
struct Json<'o> {
    out: &'o mut Vec<u8>,
}

impl Json<'_> {
    fn integer(&mut self, n: impl itoa::Integer) {
        self.out
            .extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
    }
}

/// A byte that cannot stand in a string as it is: a C0 control, `"`, `\`,
/// DEL, or any byte of a non-ASCII character (which may be a C1 control or
/// U+2028/U+2029: the slow path looks).
fn needs_care(b: u8) -> bool {
    b.wrapping_sub(0x20) >= 0x7f - 0x20 || b == b'"' || b == b'\\'
}

/// Whether `bytes` can be copied between quotes as they are. Tested 16
/// bytes at a time without an early exit inside a block, so it vectorises;
/// the tail as the last 16 bytes (a string under 16 padded with spaces),
/// not byte by byte.
fn is_plain(bytes: &[u8]) -> bool {
    fn any_care(block: &[u8]) -> bool {
        block.iter().fold(false, |any, &b| any | needs_care(b))
    }
    if bytes.len() < 16 {
        let mut block = [b' '; 16];
        block[..bytes.len()].copy_from_slice(bytes);
        return !any_care(&block);
    }
    let tail = &bytes[bytes.len() - 16..];
    !(bytes.chunks_exact(16).any(any_care) || any_care(tail))
}

/// `text` as a JSON string, quotes included.
fn write_str(out: &mut Vec<u8>, text: &str) {
    out.push(b'"');
    if is_plain(text.as_bytes()) {
        out.extend_from_slice(text.as_bytes());
    } else {
        write_escaped(out, text.as_bytes());
    }
    out.push(b'"');
}

/// The slow path: copies runs of plain bytes, escapes the rest. `text` is
/// UTF-8, so a lead byte `C2` or `E2` is never mistaken for a continuation
/// byte (those are `80..=BF`).
fn write_escaped(out: &mut Vec<u8>, text: &[u8]) {
    // The first byte not copied yet, and the one looked at.
    let (mut run, mut i) = (0, 0);
    while i < text.len() {
        // The character at `i`'s escape, and its length in bytes.
        let (escape, len) = match text[i..] {
            [b'"', ..] => (Escape::Short(b'"'), 1),
            [b'\\', ..] => (Escape::Short(b'\\'), 1),
            [b'\n', ..] => (Escape::Short(b'n'), 1),
            [b'\r', ..] => (Escape::Short(b'r'), 1),
            [b'\t', ..] => (Escape::Short(b't'), 1),
            // C0 controls (backspace and form feed too) and DEL.
            [b @ (0..=0x1f | 0x7f), ..] => (Escape::Unicode(b.into()), 1),
            // C1 controls: U+0080..=U+009F.
            [0xc2, b @ 0x80..=0x9f, ..] => (Escape::Unicode(b.into()), 2),
            // U+2028 LINE SEPARATOR and U+2029 PARAGRAPH SEPARATOR.
            [0xe2, 0x80, b @ (0xa8 | 0xa9), ..] => {
                (Escape::Unicode(0x2000 | u16::from(b - 0x80)), 3)
            }
            _ => {
                i += 1;
                continue;
            }
        };
        out.extend_from_slice(&text[run..i]);
        escape.write(out);
        i += len;
        run = i;
    }
    out.extend_from_slice(&text[run..]);
}

/// How one character is escaped.
enum Escape {
    /// `\` and the letter: `\"`, `\\`, `\n`, `\r`, `\t`.
    Short(u8),
    /// `\u` and four lowercase hex digits.
    Unicode(u16),
}

impl Escape {
    fn write(self, out: &mut Vec<u8>) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        match self {
            Escape::Short(letter) => out.extend_from_slice(&[b'\\', letter]),
            Escape::Unicode(code) => {
                let digit = |shift: u16| HEX[usize::from(code >> shift & 0xf)];
                out.extend_from_slice(&[b'\\', b'u', digit(12), digit(8), digit(4), digit(0)]);
            }
        }
    }
}

/// Arrays and objects being written: `first` until the first element.
struct Compound<'s, 'o> {
    json: &'s mut Json<'o>,
    first: bool,
}

impl Compound<'_, '_> {
    fn comma(&mut self) {
        if !std::mem::take(&mut self.first) {
            self.json.out.push(b',');
        }
    }
}

impl<'s, 'o> ser::Serializer for &'s mut Json<'o> {
    type Ok = ();
    type Error = Error;
    type SerializeSeq = Compound<'s, 'o>;
    type SerializeTuple = Compound<'s, 'o>;
    type SerializeTupleStruct = Compound<'s, 'o>;
    type SerializeTupleVariant = Impossible<(), Error>;
    type SerializeMap = Compound<'s, 'o>;
    type SerializeStruct = Compound<'s, 'o>;
    type SerializeStructVariant = Impossible<(), Error>;

    fn serialize_bool(self, v: bool) -> Result<(), Error> {
        self.out
            .extend_from_slice(if v { b"true" } else { b"false" });
        Ok(())
    }

    fn serialize_i8(self, v: i8) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_i16(self, v: i16) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_i32(self, v: i32) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_i64(self, v: i64) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u8(self, v: u8) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u16(self, v: u16) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u32(self, v: u32) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_u64(self, v: u64) -> Result<(), Error> {
        self.integer(v);
        Ok(())
    }

    fn serialize_f32(self, _: f32) -> Result<(), Error> {
        Err(unsupported("f32 (rates are f64)"))
    }

    fn serialize_f64(self, v: f64) -> Result<(), Error> {
        if !v.is_finite() {
            return self.serialize_unit();
        }
        write!(self.out, "{v}").map_err(ser::Error::custom)
    }

    fn serialize_char(self, v: char) -> Result<(), Error> {
        self.serialize_str(v.encode_utf8(&mut [0; 4]))
    }

    fn serialize_str(self, v: &str) -> Result<(), Error> {
        write_str(self.out, v);
        Ok(())
    }

    fn serialize_bytes(self, _: &[u8]) -> Result<(), Error> {
        Err(unsupported("bytes"))
    }

    fn serialize_none(self) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_some<T: Serialize + ?Sized>(self, value: &T) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_unit(self) -> Result<(), Error> {
        self.out.extend_from_slice(b"null");
        Ok(())
    }

    fn serialize_unit_struct(self, _: &'static str) -> Result<(), Error> {
        self.serialize_unit()
    }

    fn serialize_unit_variant(
        self,
        _: &'static str,
        _: u32,
        name: &'static str,
    ) -> Result<(), Error> {
        self.serialize_str(name)
    }

    fn serialize_newtype_struct<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        value.serialize(self)
    }

    fn serialize_newtype_variant<T: Serialize + ?Sized>(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: &T,
    ) -> Result<(), Error> {
        Err(unsupported("enum with data"))
    }

    fn serialize_seq(self, _: Option<usize>) -> Result<Self::SerializeSeq, Error> {
        self.out.push(b'[');
        Ok(Compound {
            json: self,
            first: true,
        })
    }

    fn serialize_tuple(self, len: usize) -> Result<Self::SerializeTuple, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_struct(
        self,
        _: &'static str,
        len: usize,
    ) -> Result<Self::SerializeTupleStruct, Error> {
        self.serialize_seq(Some(len))
    }

    fn serialize_tuple_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeTupleVariant, Error> {
        Err(unsupported("enum with data"))
    }

    fn serialize_map(self, _: Option<usize>) -> Result<Self::SerializeMap, Error> {
        self.out.push(b'{');
        Ok(Compound {
            json: self,
            first: true,
        })
    }

    fn serialize_struct(self, _: &'static str, len: usize) -> Result<Self::SerializeStruct, Error> {
        self.serialize_map(Some(len))
    }

    fn serialize_struct_variant(
        self,
        _: &'static str,
        _: u32,
        _: &'static str,
        _: usize,
    ) -> Result<Self::SerializeStructVariant, Error> {
        Err(unsupported("enum with data"))
    }

    /// Display straight into the line (an address, a service name), not
    /// through a `String` as serde's default does.
    fn collect_str<T: Display + ?Sized>(self, value: &T) -> Result<(), Error> {
        self.out.push(b'"');
        let start = self.out.len();
        write!(self.out, "{value}").map_err(ser::Error::custom)?;
        if !is_plain(&self.out[start..]) {
            let raw = self.out.split_off(start);
            write_escaped(self.out, &raw);
        }
        self.out.push(b'"');
        Ok(())
    }
}

impl ser::SerializeSeq for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.comma();
        value.serialize(&mut *self.json)
    }

    fn end(self) -> Result<(), Error> {
        self.json.out.push(b']');
        Ok(())
    }
}

impl ser::SerializeTuple for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_element<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeTupleStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    fn serialize_field<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        ser::SerializeSeq::serialize_element(self, value)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeSeq::end(self)
    }
}

impl ser::SerializeMap for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    /// Keys are strings (a state, a status class, a reason code, a
    /// flattened struct's field), escaped as any string is. Anything else
    /// (a number, `null`, an array) is refused once written.
    fn serialize_key<T: Serialize + ?Sized>(&mut self, key: &T) -> Result<(), Error> {
        self.comma();
        let start = self.json.out.len();
        key.serialize(&mut *self.json)?;
        if self.json.out.get(start) != Some(&b'"') {
            return Err(unsupported("map key that is not a string"));
        }
        Ok(())
    }

    fn serialize_value<T: Serialize + ?Sized>(&mut self, value: &T) -> Result<(), Error> {
        self.json.out.push(b':');
        value.serialize(&mut *self.json)
    }

    fn end(self) -> Result<(), Error> {
        self.json.out.push(b'}');
        Ok(())
    }
}

impl ser::SerializeStruct for Compound<'_, '_> {
    type Ok = ();
    type Error = Error;

    /// The key is a field name or a serde rename: copied, not scanned.
    fn serialize_field<T: Serialize + ?Sized>(
        &mut self,
        key: &'static str,
        value: &T,
    ) -> Result<(), Error> {
        debug_assert!(is_plain(key.as_bytes()), "{key:?} needs escaping");
        self.comma();
        let out = &mut *self.json.out;
        out.push(b'"');
        out.extend_from_slice(key.as_bytes());
        out.extend_from_slice(b"\":");
        value.serialize(&mut *self.json)
    }

    fn end(self) -> Result<(), Error> {
        ser::SerializeMap::end(self)
    }
}

#[cfg(test)]
pub(super) mod tests;
