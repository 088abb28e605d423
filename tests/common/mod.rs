//! Helpers shared by the integration tests: real Smooth Streaming bytes built box by box.
#![allow(dead_code)]

pub fn boxed(kind: &[u8; 4], payload: &[u8]) -> Vec<u8> {
    let mut b = Vec::with_capacity(payload.len() + 8);
    b.extend_from_slice(&((payload.len() + 8) as u32).to_be_bytes());
    b.extend_from_slice(kind);
    b.extend_from_slice(payload);
    b
}

fn full_box(kind: &[u8; 4], version: u8, flags: u32, body: &[u8]) -> Vec<u8> {
    let mut p = vec![version];
    p.extend_from_slice(&flags.to_be_bytes()[1..]);
    p.extend_from_slice(body);
    boxed(kind, &p)
}

pub const TFXD: [u8; 16] = [
    0x6D, 0x1D, 0x9B, 0x05, 0x42, 0xD5, 0x44, 0xE6, 0x80, 0xE2, 0x14, 0x1D, 0xAF, 0xF7, 0x57, 0xB2,
];

/// A fragment (`moof` with mfhd/traf(tfhd, trun, tfxd v1), then `mdat`) of `samples` samples
/// of `sample_size` bytes each, whose tfxd says `time`.
pub fn fragment(seq: u32, time: u64, samples: u32, sample_size: u32) -> Vec<u8> {
    let moof = moof(seq, time, samples, sample_size);
    let mut mdat_payload = Vec::with_capacity((samples * sample_size) as usize);
    for i in 0..samples * sample_size {
        mdat_payload.push((i as u64 ^ time ^ u64::from(seq)) as u8);
    }
    let mut out = moof;
    out.extend_from_slice(&boxed(b"mdat", &mdat_payload));
    out
}

/// The `moof` alone (a FragmentInfo response).
pub fn moof(seq: u32, time: u64, samples: u32, sample_size: u32) -> Vec<u8> {
    let mfhd = full_box(b"mfhd", 0, 0, &seq.to_be_bytes());
    let mut tfhd_body = 1u32.to_be_bytes().to_vec(); // track_ID
    tfhd_body.extend_from_slice(&sample_size.to_be_bytes()); // default_sample_size (0x10)
    let tfhd = full_box(b"tfhd", 0, 0x10, &tfhd_body);
    let mut tfxd_body = TFXD.to_vec();
    tfxd_body.extend_from_slice(&[1, 0, 0, 0]);
    tfxd_body.extend_from_slice(&time.to_be_bytes());
    tfxd_body.extend_from_slice(&20_000_000u64.to_be_bytes());
    let tfxd = boxed(b"uuid", &tfxd_body);
    // trun: sample_count, data_offset (0x001); sizes from tfhd's default.
    let trun_len = 8 + 4 + 4 + 4;
    let traf_len = 8 + tfhd.len() + trun_len + tfxd.len();
    let moof_len = 8 + mfhd.len() + traf_len;
    let data_offset = (moof_len + 8) as u32;
    let mut trun_body = samples.to_be_bytes().to_vec();
    trun_body.extend_from_slice(&data_offset.to_be_bytes());
    let trun = full_box(b"trun", 0, 0x001, &trun_body);
    let mut traf_payload = tfhd;
    traf_payload.extend_from_slice(&trun);
    traf_payload.extend_from_slice(&tfxd);
    let traf = boxed(b"traf", &traf_payload);
    let mut moof_payload = mfhd;
    moof_payload.extend_from_slice(&traf);
    let moof = boxed(b"moof", &moof_payload);
    assert_eq!(moof.len(), moof_len);
    moof
}

/// A small valid client manifest: one video stream with `levels` quality levels and `chunks`
/// chunks of 2 s, one audio stream.
pub fn manifest(levels: usize, chunks: usize) -> Vec<u8> {
    let mut s = String::from(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"2\" Duration=\"0\">\n",
    );
    s += &format!(
        "<StreamIndex Type=\"video\" Name=\"video\" Chunks=\"{chunks}\" QualityLevels=\"{levels}\" Url=\"QualityLevels({{bitrate}})/Fragments(video={{start time}})\">\n"
    );
    for i in 0..levels {
        s += &format!(
            "<QualityLevel Index=\"{i}\" Bitrate=\"{}\" FourCC=\"H264\" MaxWidth=\"640\" MaxHeight=\"360\" CodecPrivateData=\"000000016742C01E\"/>\n",
            (i + 1) * 100_000
        );
    }
    s += &format!("<c t=\"0\" d=\"20000000\" r=\"{chunks}\"/>\n</StreamIndex>\n");
    s += &format!(
        "<StreamIndex Type=\"audio\" Name=\"audio\" Chunks=\"{chunks}\" QualityLevels=\"1\" Url=\"QualityLevels({{bitrate}})/Fragments(audio={{start time}})\">\n<QualityLevel Index=\"0\" Bitrate=\"48000\" FourCC=\"AACL\" SamplingRate=\"44100\" Channels=\"2\" BitsPerSample=\"16\" PacketSize=\"4\" AudioTag=\"255\" CodecPrivateData=\"\"/>\n<c t=\"0\" d=\"20000000\" r=\"{chunks}\"/>\n</StreamIndex>\n</SmoothStreamingMedia>\n"
    );
    s.into_bytes()
}

pub fn fragment_url(base: &str, bitrate: u64, stream: &str, time: u64) -> String {
    format!("{base}/QualityLevels({bitrate})/Fragments({stream}={time})")
}

pub fn tempdir() -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix("ssc-test-")
        .tempdir()
        .expect("cannot make a temp dir")
}
pub mod origin;
