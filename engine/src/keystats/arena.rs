//! The key arena: keys stored back to back in one buffer, and their hex serialisation.

use std::fmt;

use serde::de::{self, SeqAccess, Visitor};
use serde::ser::SerializeStruct;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bookkeeping bytes per retained key (its end offset in the arena).
pub(super) const ITEM_OVERHEAD_BYTES: usize = std::mem::size_of::<usize>();

/// Keys stored back to back in one buffer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(super) struct KeyList {
    pub(super) data: Vec<u8>,
    /// End offset of every key in `data`.
    pub(super) ends: Vec<usize>,
}

impl KeyList {
    pub(super) fn len(&self) -> usize {
        self.ends.len()
    }

    #[inline]
    pub(super) fn get(&self, i: usize) -> &[u8] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] };
        &self.data[start..self.ends[i]]
    }

    #[inline]
    pub(super) fn push(&mut self, key: &[u8]) {
        self.data.extend_from_slice(key);
        self.ends.push(self.data.len());
    }

    pub(super) fn clear(&mut self) {
        self.data.clear();
        self.ends.clear();
    }

    pub(super) fn extend_from(&mut self, other: &KeyList) {
        let base = self.data.len();
        self.data.extend_from_slice(&other.data);
        self.ends.extend(other.ends.iter().map(|e| e + base));
    }

    /// Memory held, capacity included (what a byte budget must see).
    pub(super) fn bytes(&self) -> usize {
        self.data.capacity() + self.ends.capacity() * ITEM_OVERHEAD_BYTES
    }

    pub(super) fn shrink_to_fit(&mut self) {
        self.data.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    pub(super) fn iter(&self) -> impl Iterator<Item = &[u8]> + '_ {
        (0..self.len()).map(move |i| self.get(i))
    }
}

/// Serialized as `{"data": <hex string, or bytes in binary formats>, "lens": [key lengths]}`.
impl Serialize for KeyList {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut prev = 0;
        let lens: Vec<usize> = self
            .ends
            .iter()
            .map(|&e| {
                let l = e - prev;
                prev = e;
                l
            })
            .collect();
        let mut st = s.serialize_struct("KeyList", 2)?;
        st.serialize_field("data", &HexBytes(&self.data))?;
        st.serialize_field("lens", &lens)?;
        st.end()
    }
}

impl<'de> Deserialize<'de> for KeyList {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Repr {
            data: ByteBuf,
            lens: Vec<usize>,
        }
        let r = Repr::deserialize(d)?;
        let mut ends = Vec::with_capacity(r.lens.len());
        let mut end = 0usize;
        for l in r.lens {
            end = end
                .checked_add(l)
                .ok_or_else(|| de::Error::custom("key lengths overflow"))?;
            ends.push(end);
        }
        if end != r.data.0.len() {
            return Err(de::Error::custom(format!(
                "key lengths sum to {end} but {} key bytes were given",
                r.data.0.len()
            )));
        }
        Ok(KeyList { data: r.data.0, ends })
    }
}

pub(super) const HEX: &[u8; 16] = b"0123456789abcdef";

pub(super) struct HexBytes<'a>(&'a [u8]);

impl Serialize for HexBytes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            let mut out = String::with_capacity(self.0.len() * 2);
            for b in self.0 {
                out.push(HEX[(b >> 4) as usize] as char);
                out.push(HEX[(b & 15) as usize] as char);
            }
            s.serialize_str(&out)
        } else {
            s.serialize_bytes(self.0)
        }
    }
}

pub(super) struct ByteBuf(Vec<u8>);

impl<'de> Deserialize<'de> for ByteBuf {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ByteBuf;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a hex string or bytes")
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<ByteBuf, E> {
                fn nibble(c: u8) -> Option<u8> {
                    match c {
                        b'0'..=b'9' => Some(c - b'0'),
                        b'a'..=b'f' => Some(c - b'a' + 10),
                        b'A'..=b'F' => Some(c - b'A' + 10),
                        _ => None,
                    }
                }
                let s = v.as_bytes();
                if !s.len().is_multiple_of(2) {
                    return Err(E::custom("hex string of odd length"));
                }
                s.chunks_exact(2)
                    .map(|p| match (nibble(p[0]), nibble(p[1])) {
                        (Some(h), Some(l)) => Ok((h << 4) | l),
                        _ => Err(E::custom("invalid hex digit")),
                    })
                    .collect::<Result<Vec<u8>, E>>()
                    .map(ByteBuf)
            }

            fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v.to_vec()))
            }

            fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<ByteBuf, E> {
                Ok(ByteBuf(v))
            }

            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ByteBuf, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(b) = seq.next_element::<u8>()? {
                    out.push(b);
                }
                Ok(ByteBuf(out))
            }
        }
        if d.is_human_readable() {
            d.deserialize_str(V)
        } else {
            d.deserialize_byte_buf(V)
        }
    }
}
