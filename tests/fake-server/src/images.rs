//! NeuroMorpho.Org's picture of each neuron (`/images/imageFiles/{Archive}/{name}.png`, the
//! record's `png_url`, with the archive as the record spells it): a small real PNG made from
//! the neuron's id, so that two neurons' pictures differ and a client can check the format.

use super::catalog::Catalog;
use super::http::percent_encode;

impl Catalog {
    /// Row `i`'s picture as the current release serves it, and the release it dates from:
    /// drawn from the neuron's current CNG file, so that a release that changes the file
    /// changes its picture too (and `--update` replaces it).
    pub fn png_at_release(&self, i: usize) -> (Vec<u8>, u32) {
        match self.cng_at(i, self.release()) {
            Some((_, hash, release)) => (neuron_png(hash), release),
            None => (
                neuron_png(self.id(i).unwrap_or(i as u64)),
                self.release_added(i),
            ),
        }
    }

    /// Row `i`'s picture as the current release serves it.
    pub fn png_bytes(&self, i: usize) -> Vec<u8> {
        self.png_at_release(i).0
    }

    /// URL path of row `i`'s picture: `/images/imageFiles/{encoded Archive}/{encoded name}.png`.
    pub fn png_path(&self, i: usize) -> Option<String> {
        Some(format!(
            "/images/imageFiles/{}/{}.png",
            percent_encode(self.archive(i)?),
            percent_encode(&self.name(i))
        ))
    }
}

/// `{PNG signature}IHDR IDAT IEND`: an 8 x 8 RGB image whose colour and pattern come from
/// `seed` (lit pixels in one colour, the others white), its pixels in one stored
/// (uncompressed) deflate block.
pub fn neuron_png(seed: u64) -> Vec<u8> {
    const SIDE: u32 = 8;
    let mut raw = Vec::new();
    for y in 0..SIDE {
        raw.push(0); // filter: none
        for x in 0..SIDE {
            let lit = (seed >> ((x + y * SIDE) % 64)) & 1 == 1;
            if lit {
                raw.extend_from_slice(&[(seed % 200) as u8, 40, 120]);
            } else {
                raw.extend_from_slice(&[255, 255, 255]);
            }
        }
    }
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&SIDE.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB, deflate, no interlace
    chunk(&mut png, b"IHDR", &ihdr);
    chunk(&mut png, b"IDAT", &zlib_stored(&raw));
    chunk(&mut png, b"IEND", &[]);
    png
}

fn chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) {
    out.extend_from_slice(&(data.len() as u32).to_be_bytes());
    let start = out.len();
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let crc = crc32(&out[start..]);
    out.extend_from_slice(&crc.to_be_bytes());
}

/// A zlib stream of one stored block (`data` is under 64 KiB).
fn zlib_stored(data: &[u8]) -> Vec<u8> {
    let len = data.len() as u16;
    let mut out = vec![0x78, 0x01, 0x01];
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&(!len).to_le_bytes());
    out.extend_from_slice(data);
    let (mut a, mut b) = (1u32, 0u32);
    for &byte in data {
        a = (a + u32::from(byte)) % 65521;
        b = (b + a) % 65521;
    }
    out.extend_from_slice(&((b << 16) | a).to_be_bytes());
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xffff_ffffu32;
    for &byte in bytes {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xedb8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}
