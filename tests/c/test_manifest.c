/* The manifest and fragment API on real content: the dash.js test manifest, FFmpeg's Smooth
 * output (manifest and fragments), hand-written manifests for the rarer attributes; every
 * function with NULL and out-of-range arguments; malformed input; the offline manifest round
 * trip. Run from the repository root (the Makefile does). */
#include "check.h"
#include <dirent.h>
#include <inttypes.h>

#define INVALID SSC_ERR_INVALID_ARGUMENT
#define DASHJS "tests/fixtures/smooth/dashjs-mss-manifest.xml"
#define FFMPEG_DIR "tests/fixtures/smooth/ffmpeg"
#define MOVIE_URL "http://example.test/media/movie.ism/Manifest"

static uint8_t *read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        fprintf(stderr, "cannot open %s (run from the repository root)\n", path);
        exit(1);
    }
    buf_t b = {0};
    uint8_t chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof chunk, f)) > 0) buf_put(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.p;
}

static void check_message(const char *needle) {
    const char *e = ssc_last_error();
    CHECK(e != NULL);
    if (!strstr(e, needle)) {
        fprintf(stderr, "last error \"%s\" lacks \"%s\"\n", e, needle);
        exit(1);
    }
}

static int all_zero(const void *p, size_t n) {
    const uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        if (b[i]) return 0;
    return 1;
}

static ssc_manifest *parse_text(const char *xml, const char *url) {
    ssc_manifest *m = NULL;
    CHECK_STATUS(ssc_manifest_parse((const uint8_t *)xml, strlen(xml), url, &m), SSC_OK);
    CHECK(m != NULL);
    return m;
}

static ssc_manifest *parse_file(const char *path, const char *url) {
    size_t len;
    uint8_t *data = read_file(path, &len);
    ssc_manifest *m = NULL;
    CHECK_STATUS(ssc_manifest_parse(data, len, url, &m), SSC_OK);
    /* The bytes are read during the call only. */
    memset(data, 0, len);
    free(data);
    return m;
}

static void dashjs(void) {
    ssc_manifest *m = parse_file(DASHJS, MOVIE_URL);
    CHECK(!ssc_manifest_is_live(m));
    CHECK(ssc_manifest_timescale(m) == 10000000);
    CHECK(ssc_manifest_duration(m) == 4084405506ULL);
    CHECK(ssc_manifest_stream_count(m) == 2);

    ssc_manifest_info mi;
    CHECK_STATUS(ssc_manifest_get_info(m, &mi), SSC_OK);
    CHECK(mi.major_version == 1 && mi.minor_version == 0);
    CHECK(mi.timescale == 10000000 && mi.duration == 4084405506ULL);
    CHECK(mi.declared_duration == 4084405506ULL);
    CHECK(!mi.is_live && !mi.has_lookahead_count && mi.dvr_window_length == 0);
    CHECK(mi.stream_count == 2 && mi.protection_count == 0);
    CHECK(all_zero(mi.reserved, sizeof mi.reserved));

    ssc_stream_info v;
    CHECK_STATUS(ssc_manifest_stream(m, 0, &v), SSC_OK);
    CHECK(v.type == SSC_STREAM_VIDEO);
    CHECK(strcmp(v.name, "video") == 0);
    CHECK(v.subtype == NULL && v.language == NULL && v.parent_stream == NULL);
    CHECK(v.timescale == 10000000);
    CHECK(v.quality_count == 6);
    CHECK(v.chunk_count == 208);
    CHECK(strcmp(v.url_template, "QualityLevels({bitrate})/Fragments(video={start time})") == 0);
    CHECK(v.max_width == 1280 && v.max_height == 720); /* derived from the levels' Width/Height */
    CHECK(!v.manifest_output);
    CHECK(all_zero(v.reserved, sizeof v.reserved));

    static const uint64_t bitrates[6] = {3000000, 2400000, 1800000, 1300000, 800000, 500000};
    for (size_t q = 0; q < 6; q++) {
        ssc_quality_info qi;
        CHECK_STATUS(ssc_manifest_quality(m, 0, q, &qi), SSC_OK);
        CHECK(qi.index == q);
        CHECK(qi.bitrate == bitrates[q]);
        CHECK(strcmp(qi.fourcc, "AVC1") == 0);
        CHECK(qi.codec_private_data != NULL && qi.codec_private_data_len > 4);
        CHECK(qi.custom_attributes == NULL);
        CHECK(qi.nal_unit_length_field == 4);
    }
    ssc_quality_info q0;
    CHECK_STATUS(ssc_manifest_quality(m, 0, 0, &q0), SSC_OK);
    CHECK(q0.max_width == 1280 && q0.max_height == 720);
    static const uint8_t sps_start[5] = {0, 0, 0, 1, 0x67};
    CHECK(memcmp(q0.codec_private_data, sps_start, 5) == 0);
    CHECK(q0.codec_private_data_len == 41);

    uint64_t start, dur;
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 0, &start, &dur), SSC_OK);
    CHECK(start == 0 && dur == 19686294);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 1, &start, &dur), SSC_OK);
    CHECK(start == 19686294 && dur == 19686294);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 207, &start, &dur), SSC_OK);
    CHECK(start == 4075062858ULL && dur == 9008983);
    size_t k = 0;
    CHECK_STATUS(ssc_manifest_find_chunk(m, 0, 4075062858ULL, &k), SSC_OK);
    CHECK(k == 207);
    CHECK_STATUS(ssc_manifest_find_chunk(m, 0, 1, &k), SSC_MISS);
    CHECK(k == 207); /* not written on a miss */

    char *url = NULL;
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 0, 1, &url), SSC_OK);
    CHECK(strcmp(url, "http://example.test/media/movie.ism/QualityLevels(3000000)/Fragments(video=19686294)") == 0);
    url[0] = 'X'; /* the caller may modify it before freeing */
    ssc_string_free(url);
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 5, 207, &url), SSC_OK);
    CHECK(strcmp(url, "http://example.test/media/movie.ism/QualityLevels(500000)/Fragments(video=4075062858)") == 0);
    ssc_string_free(url);

    ssc_stream_info a;
    CHECK_STATUS(ssc_manifest_stream(m, 1, &a), SSC_OK);
    CHECK(a.type == SSC_STREAM_AUDIO && strcmp(a.name, "audio") == 0);
    CHECK(a.quality_count == 1 && a.chunk_count == 208);
    CHECK(a.max_width == 0 && a.max_height == 0);
    CHECK(a.total_duration == 4084869991ULL);
    ssc_quality_info aq;
    CHECK_STATUS(ssc_manifest_quality(m, 1, 0, &aq), SSC_OK);
    CHECK(aq.bitrate == 64000);
    CHECK(aq.codec_private_data == NULL && aq.codec_private_data_len == 0); /* empty for AAC */
    CHECK_STATUS(ssc_manifest_fragment_url(m, 1, 0, 0, &url), SSC_OK);
    CHECK(strcmp(url, "http://example.test/media/movie.ism/QualityLevels(64000)/Fragments(audio=0)") == 0);
    ssc_string_free(url);

    size_t s = 99;
    CHECK_STATUS(ssc_manifest_stream_by_name(m, "audio", &s), SSC_OK);
    CHECK(s == 1);
    CHECK_STATUS(ssc_manifest_stream_by_name(m, "Audio", &s), SSC_MISS);
    CHECK(s == 1);

    /* Out-of-range positions: SSC_ERR_INVALID_ARGUMENT, outputs cleared, a message. */
    CHECK_STATUS(ssc_manifest_stream(m, 2, &v), INVALID);
    check_message("stream 2 out of range");
    CHECK(v.name == NULL && v.chunk_count == 0);
    CHECK_STATUS(ssc_manifest_stream(m, SIZE_MAX, &v), INVALID);
    CHECK_STATUS(ssc_manifest_quality(m, 0, 6, &q0), INVALID);
    check_message("quality level 6 out of range");
    CHECK(q0.fourcc == NULL && q0.bitrate == 0);
    CHECK_STATUS(ssc_manifest_quality(m, 1, 1, &q0), INVALID);
    CHECK_STATUS(ssc_manifest_quality(m, 2, 0, &q0), INVALID);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 208, &start, &dur), INVALID);
    check_message("chunk 208 out of range");
    CHECK(start == 0 && dur == 0);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, SIZE_MAX, &start, &dur), INVALID);
    CHECK_STATUS(ssc_manifest_chunk(m, 2, 0, &start, &dur), INVALID);
    CHECK_STATUS(ssc_manifest_find_chunk(m, 2, 0, &k), INVALID);
    url = (char *)1;
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 0, 208, &url), INVALID);
    CHECK(url == NULL);
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 6, 0, &url), INVALID);
    CHECK_STATUS(ssc_manifest_fragment_url(m, 2, 0, 0, &url), INVALID);
    ssc_protection_info pi;
    CHECK_STATUS(ssc_manifest_protection(m, 0, &pi), INVALID);
    check_message("protection header 0 out of range");

    /* write_subset: levels 3 and 1 of the video plus the audio; parse the result again. */
    ssc_quality_ref keep[4] = {{0, 3}, {0, 1}, {1, 0}, {0, 3}};
    uint8_t *out = NULL;
    size_t out_len = 0;
    CHECK_STATUS(ssc_manifest_write_subset(m, keep, 4, &out, &out_len), SSC_OK);
    CHECK(out != NULL && out_len > 1000 && out_len < 15492);
    ssc_manifest *sub = NULL;
    CHECK_STATUS(ssc_manifest_parse(out, out_len, MOVIE_URL, &sub), SSC_OK);
    ssc_bytes_free(out);
    CHECK(ssc_manifest_stream_count(sub) == 2);
    CHECK(ssc_manifest_duration(sub) == 4084405506ULL);
    ssc_stream_info sv;
    CHECK_STATUS(ssc_manifest_stream(sub, 0, &sv), SSC_OK);
    CHECK(sv.quality_count == 2 && sv.chunk_count == 208);
    ssc_quality_info sq;
    CHECK_STATUS(ssc_manifest_quality(sub, 0, 0, &sq), SSC_OK);
    CHECK(sq.index == 0 && sq.bitrate == 2400000);
    CHECK_STATUS(ssc_manifest_quality(sub, 0, 1, &sq), SSC_OK);
    CHECK(sq.index == 1 && sq.bitrate == 1300000);
    CHECK_STATUS(ssc_manifest_quality(sub, 0, 2, &sq), INVALID);
    for (size_t c = 0; c < 208; c++) {
        uint64_t s1, d1, s2, d2;
        CHECK_STATUS(ssc_manifest_chunk(m, 0, c, &s1, &d1), SSC_OK);
        CHECK_STATUS(ssc_manifest_chunk(sub, 0, c, &s2, &d2), SSC_OK);
        CHECK(s1 == s2 && d1 == d2);
    }
    char *u1, *u2;
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 3, 7, &u1), SSC_OK);
    CHECK_STATUS(ssc_manifest_fragment_url(sub, 0, 1, 7, &u2), SSC_OK);
    CHECK(strcmp(u1, u2) == 0);
    ssc_string_free(u1);
    ssc_string_free(u2);
    ssc_manifest_free(sub);

    /* Only the audio: the video stream is dropped. */
    ssc_quality_ref audio_only = {1, 0};
    CHECK_STATUS(ssc_manifest_write_subset(m, &audio_only, 1, &out, &out_len), SSC_OK);
    CHECK_STATUS(ssc_manifest_parse(out, out_len, NULL, &sub), SSC_OK);
    ssc_bytes_free(out);
    CHECK(ssc_manifest_stream_count(sub) == 1);
    CHECK_STATUS(ssc_manifest_stream(sub, 0, &sv), SSC_OK);
    CHECK(sv.type == SSC_STREAM_AUDIO && sv.chunk_count == 208);
    /* Parsed without a manifest URL: everything works but fragment URLs. */
    CHECK_STATUS(ssc_manifest_fragment_url(sub, 0, 0, 0, &url), INVALID);
    check_message("manifest_url");
    CHECK(url == NULL);
    ssc_manifest_free(sub);

    /* write_subset misuse. */
    out = (uint8_t *)1;
    out_len = 5;
    ssc_quality_ref bad[2] = {{0, 0}, {0, 6}};
    CHECK_STATUS(ssc_manifest_write_subset(m, bad, 2, &out, &out_len), INVALID);
    check_message("quality level 6 out of range");
    CHECK(out == NULL && out_len == 0);
    ssc_quality_ref bad_stream = {2, 0};
    CHECK_STATUS(ssc_manifest_write_subset(m, &bad_stream, 1, &out, &out_len), INVALID);
    CHECK_STATUS(ssc_manifest_write_subset(m, keep, 0, &out, &out_len), INVALID);
    CHECK_STATUS(ssc_manifest_write_subset(m, NULL, 1, &out, &out_len), INVALID);
    CHECK_STATUS(ssc_manifest_write_subset(m, keep, 1, NULL, &out_len), INVALID);
    CHECK_STATUS(ssc_manifest_write_subset(m, keep, 1, &out, NULL), INVALID);
    CHECK_STATUS(ssc_manifest_write_subset(NULL, keep, 1, &out, &out_len), INVALID);
    CHECK(out == NULL);

    ssc_manifest_free(m);
}

/* Reads the time out of a file name like "Fragments(video=19272563)". */
static uint64_t time_in_name(const char *name) {
    const char *eq = strchr(name, '=');
    CHECK(eq != NULL);
    return strtoull(eq + 1, NULL, 10);
}

static void ffmpeg(void) {
    char path[2048];
    snprintf(path, sizeof path, "%s/Manifest", FFMPEG_DIR);
    ssc_manifest *m = parse_file(path, "http://test.invalid/ffmpeg.ism/Manifest");
    CHECK(ssc_manifest_duration(m) == 40170522);
    ssc_quality_info aq;
    CHECK_STATUS(ssc_manifest_quality(m, 1, 0, &aq), SSC_OK);
    CHECK(strcmp(aq.fourcc, "AACL") == 0);
    CHECK(aq.sampling_rate == 44100 && aq.channels == 1 && aq.bits_per_sample == 16);
    CHECK(aq.packet_size == 4 && aq.audio_tag == 255);
    static const uint8_t asc[5] = {0x12, 0x08, 0x56, 0xe5, 0x00};
    CHECK(aq.codec_private_data_len == 5 && memcmp(aq.codec_private_data, asc, 5) == 0);

    int seen = 0;
    static const char *dirs[2] = {"QualityLevels(100000)", "QualityLevels(32000)"};
    for (int d = 0; d < 2; d++) {
        char dir[512];
        snprintf(dir, sizeof dir, "%s/%s", FFMPEG_DIR, dirs[d]);
        DIR *dh = opendir(dir);
        CHECK(dh != NULL);
        struct dirent *e;
        while ((e = readdir(dh)) != NULL) {
            if (e->d_name[0] == '.') continue;
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            size_t len;
            uint8_t *data = read_file(path, &len);
            uint64_t t = time_in_name(e->d_name);
            int info_only = strncmp(e->d_name, "FragmentInfo(", 13) == 0;
            size_t stream = strstr(e->d_name, "video") ? 0 : 1;

            ssc_fragment_info fi;
            CHECK_STATUS(ssc_fragment_inspect(data, len, &fi), SSC_OK);
            CHECK(fi.has_tfxd);
            if (fi.tfxd_time != t) {
                fprintf(stderr, "%s: tfxd time %" PRIu64 ", name says %" PRIu64 "\n", path,
                        fi.tfxd_time, t);
                exit(1);
            }
            CHECK(fi.track_id == 1 && fi.track_count == 1 && fi.sample_count > 0);
            CHECK(fi.moof_offset == 0 && fi.moof_size > 0);
            CHECK(all_zero(fi.reserved, sizeof fi.reserved));
            if (info_only) {
                CHECK(fi.shape == SSC_FRAGMENT_MOOF_ONLY);
                CHECK(fi.mdat_size == 0 && fi.mdat_offset == 0 && fi.moof_size == len);
                CHECK_STATUS(ssc_fragment_inspect_as(data, len, SSC_FRAGMENT_FULL, &fi), SSC_ERR_MALFORMED);
                check_message("no mdat");
                CHECK_STATUS(ssc_fragment_inspect_as(data, len, SSC_FRAGMENT_MOOF_ONLY, &fi), SSC_OK);
            } else {
                CHECK(fi.shape == SSC_FRAGMENT_FULL);
                CHECK(fi.mdat_offset == fi.moof_size + 8);
                CHECK(fi.mdat_size == len - fi.moof_size - 8);
                CHECK_STATUS(ssc_fragment_inspect_as(data, len, SSC_FRAGMENT_MOOF_ONLY, &fi), SSC_ERR_MALFORMED);
                check_message("moof alone");
                CHECK_STATUS(ssc_fragment_inspect_as(data, len, SSC_FRAGMENT_FULL, &fi), SSC_OK);
            }
            /* The manifest agrees: a chunk starts at t, with the tfxd's duration, and the
             * fragment URL of that chunk names this file. */
            size_t k;
            CHECK_STATUS(ssc_manifest_find_chunk(m, stream, t, &k), SSC_OK);
            uint64_t start, dur;
            CHECK_STATUS(ssc_manifest_chunk(m, stream, k, &start, &dur), SSC_OK);
            CHECK(start == t && fi.tfxd_duration == dur);
            CHECK(fi.sequence_number == k + 1);
            CHECK(fi.duration + 1 >= dur && fi.duration <= dur + 1);
            if (!info_only) {
                char *url;
                char want[2048];
                CHECK_STATUS(ssc_manifest_fragment_url(m, stream, 0, k, &url), SSC_OK);
                snprintf(want, sizeof want, "http://test.invalid/ffmpeg.ism/%s/%s", dirs[d], e->d_name);
                CHECK(strcmp(url, want) == 0);
                ssc_string_free(url);
            }
            /* FFmpeg writes a tfrf announcing the next chunk, none after the last. */
            uint64_t lt = 1, ld = 1;
            if (ssc_manifest_chunk(m, stream, k + 1, &start, &dur) == SSC_OK) {
                CHECK(fi.lookahead_count == 1);
                CHECK_STATUS(ssc_fragment_lookahead(data, len, 0, &lt, &ld), SSC_OK);
                CHECK(lt == start && ld == dur);
            } else {
                CHECK(fi.lookahead_count == 0);
            }
            CHECK_STATUS(ssc_fragment_lookahead(data, len, fi.lookahead_count, &lt, &ld), INVALID);
            check_message("out of range");
            CHECK(lt == 0 && ld == 0);
            if (stream == 0 && !info_only) {
                CHECK(fi.first_sample_is_sync && !fi.all_samples_sync);
            }
            CHECK(!fi.encrypted && fi.pssh_count == 0 && !fi.has_tfdt);

            /* Truncated: malformed, never a crash. */
            CHECK_STATUS(ssc_fragment_inspect(data, len / 2, &fi), SSC_ERR_MALFORMED);
            CHECK(all_zero(&fi, sizeof fi));
            CHECK_STATUS(ssc_fragment_inspect(data, 7, &fi), SSC_ERR_MALFORMED);
            CHECK_STATUS(ssc_fragment_lookahead(data, len / 2, 0, &lt, &ld), SSC_ERR_MALFORMED);
            free(data);
            seen++;
        }
        closedir(dh);
    }
    CHECK(seen == 4);

    /* Keeping everything reproduces FFmpeg's manifest byte for byte. */
    ssc_quality_ref all[2] = {{0, 0}, {1, 0}};
    uint8_t *out;
    size_t out_len, orig_len;
    CHECK_STATUS(ssc_manifest_write_subset(m, all, 2, &out, &out_len), SSC_OK);
    snprintf(path, sizeof path, "%s/Manifest", FFMPEG_DIR);
    uint8_t *orig = read_file(path, &orig_len);
    CHECK(out_len == orig_len && memcmp(out, orig, out_len) == 0);
    free(orig);
    ssc_bytes_free(out);
    ssc_manifest_free(m);

    /* A fragment built by check.h, and the same bytes with a lying box size. */
    size_t len;
    uint8_t *frag = make_fragment(9, 123456789012ULL, 3, 100, 1, &len);
    ssc_fragment_info fi;
    CHECK_STATUS(ssc_fragment_inspect(frag, len, &fi), SSC_OK);
    CHECK(fi.sequence_number == 9 && fi.tfxd_time == 123456789012ULL && fi.tfxd_duration == 20000000);
    CHECK(fi.sample_count == 3 && fi.mdat_size == 300 && fi.lookahead_count == 0);
    CHECK(fi.first_sample_is_sync && fi.all_samples_sync); /* no flags: all sync */
    frag[3] = 0xFF; /* moof claims more bytes than there are */
    CHECK_STATUS(ssc_fragment_inspect(frag, len, &fi), SSC_ERR_MALFORMED);
    check_message("SSC_ERR_MALFORMED: fragment:");
    free(frag);
}

static const char *RICH =
    "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n"
    "<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"2\" TimeScale=\"1000\" Duration=\"0\" "
    "IsLive=\"TRUE\" LookaheadCount=\"2\" DVRWindowLength=\"600000\">\n"
    "<Protection><ProtectionHeader SystemID=\"{9A04F079-9840-4286-AB92E65BE0885F95}\">aGVsbG8=</ProtectionHeader>"
    "<ProtectionHeader SystemID=\"edef8ba9-79d6-4ace-a3c8-27dcd51d21ed\"></ProtectionHeader></Protection>\n"
    "<StreamIndex Type=\"video\" Name=\"cam\" TimeScale=\"90000\" DisplayWidth=\"1920\" DisplayHeight=\"1080\" "
    "Url=\"QualityLevels({bitrate},{CustomAttributes})/Fragments(cam={start_time})\">\n"
    "<QualityLevel Index=\"7\" Bitrate=\"307200\" FourCC=\"H264\" MaxWidth=\"640\" MaxHeight=\"360\" "
    "CodecPrivateData=\"zz\" NALUnitLengthField=\"2\">"
    "<CustomAttributes><Attribute Name=\"Compatibility\" Value=\"Handheld\"/><Attribute Name=\"x\" Value=\"1\"/></CustomAttributes>"
    "</QualityLevel>\n"
    "<QualityLevel Index=\"8\" Bitrate=\"100\" MaxWidth=\"1280\" MaxHeight=\"720\"/>\n"
    "<c t=\"900000\" d=\"180000\" r=\"3\"/><c d=\"90000\"/>\n"
    "</StreamIndex>\n"
    "<StreamIndex Type=\"text\" Subtype=\"CAPT\" Language=\"fra\" ParentStreamIndex=\"cam\" ManifestOutput=\"true\" "
    "Url=\"QualityLevels({bitrate})/Fragments(captions={start time})\">"
    "<QualityLevel Index=\"0\" Bitrate=\"1000\" FourCC=\"TTML\"/><c t=\"0\" d=\"5000\"/></StreamIndex>\n"
    "<StreamIndex Type=\"audio\" Name=\"noscheme\"><QualityLevel Bitrate=\"1\"/><c d=\"1\"/></StreamIndex>\n"
    "</SmoothStreamingMedia>\n";

static void rich(void) {
    ssc_manifest *m = parse_text(RICH, "https://cdn.test/live/ch1.isml/Manifest?token=abc#frag");
    CHECK(ssc_manifest_is_live(m));
    CHECK(ssc_manifest_timescale(m) == 1000);
    /* Duration=0: the longest stream, (3*2 s + 1 s) of video = 7 s at TimeScale 1000. */
    CHECK(ssc_manifest_duration(m) == 7000);
    ssc_manifest_info mi;
    CHECK_STATUS(ssc_manifest_get_info(m, &mi), SSC_OK);
    CHECK(mi.is_live && mi.has_lookahead_count && mi.lookahead_count == 2);
    CHECK(mi.dvr_window_length == 600000 && mi.declared_duration == 0 && mi.duration == 7000);
    CHECK(mi.protection_count == 2 && mi.stream_count == 3);

    ssc_protection_info pi;
    CHECK_STATUS(ssc_manifest_protection(m, 0, &pi), SSC_OK);
    static const uint8_t playready[16] = {0x9A, 0x04, 0xF0, 0x79, 0x98, 0x40, 0x42, 0x86,
                                          0xAB, 0x92, 0xE6, 0x5B, 0xE0, 0x88, 0x5F, 0x95};
    CHECK(memcmp(pi.system_id, playready, 16) == 0);
    CHECK(pi.data_len == 5 && memcmp(pi.data, "hello", 5) == 0);
    CHECK_STATUS(ssc_manifest_protection(m, 1, &pi), SSC_OK);
    CHECK(pi.system_id[0] == 0xED && pi.data == NULL && pi.data_len == 0);
    CHECK_STATUS(ssc_manifest_protection(m, 2, &pi), INVALID);
    CHECK(all_zero(&pi, sizeof pi));

    ssc_stream_info v;
    CHECK_STATUS(ssc_manifest_stream(m, 0, &v), SSC_OK);
    CHECK(v.type == SSC_STREAM_VIDEO && strcmp(v.name, "cam") == 0);
    CHECK(v.timescale == 90000 && v.quality_count == 2 && v.chunk_count == 4);
    CHECK(v.max_width == 1280 && v.max_height == 720);
    CHECK(v.display_width == 1920 && v.display_height == 1080);
    CHECK(v.total_duration == 630000);
    uint64_t start, dur;
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 2, &start, &dur), SSC_OK);
    CHECK(start == 1260000 && dur == 180000);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 3, &start, &dur), SSC_OK);
    CHECK(start == 1440000 && dur == 90000);
    ssc_quality_info q;
    CHECK_STATUS(ssc_manifest_quality(m, 0, 0, &q), SSC_OK);
    CHECK(q.index == 7 && q.bitrate == 307200 && q.nal_unit_length_field == 2);
    CHECK(q.codec_private_data == NULL && q.codec_private_data_len == 0); /* not hex: empty */
    CHECK(strcmp(q.custom_attributes, "Compatibility=Handheld,x=1") == 0);
    char *url;
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 0, 1, &url), SSC_OK);
    CHECK(strcmp(url, "https://cdn.test/live/ch1.isml/QualityLevels(307200,Compatibility=Handheld,x=1)/Fragments(cam=1080000)") == 0);
    ssc_string_free(url);
    CHECK_STATUS(ssc_manifest_quality(m, 0, 1, &q), SSC_OK);
    CHECK(q.fourcc == NULL && q.custom_attributes == NULL && q.sampling_rate == 0);
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 1, 3, &url), SSC_OK);
    CHECK(strcmp(url, "https://cdn.test/live/ch1.isml/QualityLevels(100)/Fragments(cam=1440000)") == 0);
    ssc_string_free(url);

    ssc_stream_info t;
    CHECK_STATUS(ssc_manifest_stream(m, 1, &t), SSC_OK);
    CHECK(t.type == SSC_STREAM_TEXT && strcmp(t.name, "text") == 0);
    CHECK(strcmp(t.subtype, "CAPT") == 0 && strcmp(t.language, "fra") == 0);
    CHECK(strcmp(t.parent_stream, "cam") == 0 && t.manifest_output);
    CHECK(t.timescale == 1000);

    /* A stream without a Url template: no fragment URLs, a clear message. */
    ssc_stream_info a;
    CHECK_STATUS(ssc_manifest_stream(m, 2, &a), SSC_OK);
    CHECK(a.url_template == NULL);
    CHECK_STATUS(ssc_manifest_fragment_url(m, 2, 0, 0, &url), INVALID);
    check_message("no Url template");

    /* Protection survives write_subset. */
    ssc_quality_ref keep = {0, 1};
    uint8_t *out;
    size_t out_len;
    CHECK_STATUS(ssc_manifest_write_subset(m, &keep, 1, &out, &out_len), SSC_OK);
    ssc_manifest *sub;
    CHECK_STATUS(ssc_manifest_parse(out, out_len, "http://h/x.isml/Manifest", &sub), SSC_OK);
    ssc_bytes_free(out);
    CHECK_STATUS(ssc_manifest_get_info(sub, &mi), SSC_OK);
    CHECK(mi.stream_count == 1 && mi.protection_count == 2 && mi.is_live);
    CHECK_STATUS(ssc_manifest_quality(sub, 0, 0, &q), SSC_OK);
    CHECK(q.index == 0 && q.bitrate == 100);
    ssc_manifest_free(sub);
    ssc_manifest_free(m);
}

static void malformed(void) {
    static const char *bad[] = {
        "",
        "not xml at all",
        "<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\" Duration=\"1\">",
        "<Other/>",
        "<SmoothStreamingMedia MajorVersion=\"3\" MinorVersion=\"0\"><StreamIndex Type=\"video\">"
        "<QualityLevel Bitrate=\"1\"/><c d=\"1\"/></StreamIndex></SmoothStreamingMedia>",
        "<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\"><StreamIndex Type=\"video\">"
        "<QualityLevel Bitrate=\"1\"/><c n=\"0\"/></StreamIndex></SmoothStreamingMedia>",
        "<!DOCTYPE x [<!ENTITY a \"b\">]><SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\"/>",
    };
    static const char *reasons[] = {
        "no root element", "text outside the root", "truncated", "not <SmoothStreamingMedia>",
        "MajorVersion", "neither t nor d", "DTD",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ssc_manifest *m = (ssc_manifest *)1;
        CHECK_STATUS(ssc_manifest_parse((const uint8_t *)bad[i], strlen(bad[i]), MOVIE_URL, &m),
                     SSC_ERR_MALFORMED);
        CHECK(m == NULL);
        check_message("SSC_ERR_MALFORMED: manifest:");
        check_message(reasons[i]);
    }
    /* Every prefix of a real manifest is refused, never a crash. */
    size_t len;
    char path[1024];
    snprintf(path, sizeof path, "%s/Manifest", FFMPEG_DIR);
    uint8_t *data = read_file(path, &len);
    for (size_t n = 0; n + 1 < len; n += under_valgrind() ? 37 : 1) {
        ssc_manifest *m = NULL;
        CHECK_STATUS(ssc_manifest_parse(data, n, NULL, &m), SSC_ERR_MALFORMED);
        CHECK(m == NULL);
    }
    /* A NUL byte inside a name: refused (XML 1.0 has no U+0000), never a truncated string. */
    static const char nul_name[] =
        "<SmoothStreamingMedia MajorVersion=\"2\" MinorVersion=\"0\"><StreamIndex Type=\"video\" "
        "Name=\"a\0b\" Url=\"{start time}\"><QualityLevel Bitrate=\"1\"/><c d=\"1\"/></StreamIndex>"
        "</SmoothStreamingMedia>";
    ssc_manifest *m = (ssc_manifest *)1;
    CHECK_STATUS(ssc_manifest_parse((const uint8_t *)nul_name, sizeof nul_name - 1, NULL, &m),
                 SSC_ERR_MALFORMED);
    CHECK(m == NULL);
    check_message("NUL");
    free(data);
}

static void null_arguments(void) {
    size_t len;
    uint8_t *data = read_file(DASHJS, &len);
    ssc_manifest *m = (ssc_manifest *)1;
    CHECK_STATUS(ssc_manifest_parse(NULL, len, MOVIE_URL, &m), INVALID);
    check_message("data is NULL");
    CHECK(m == NULL);
    CHECK_STATUS(ssc_manifest_parse(NULL, 0, MOVIE_URL, &m), INVALID);
    CHECK_STATUS(ssc_manifest_parse(data, len, MOVIE_URL, NULL), INVALID);
    check_message("out is NULL");
    CHECK_STATUS(ssc_manifest_parse(data, len, "", &m), INVALID);
    CHECK_STATUS(ssc_manifest_parse(data, len, "http://a/\xff/Manifest", &m), INVALID);
    check_message("UTF-8");
    CHECK(m == NULL);
    CHECK_STATUS(ssc_manifest_parse(data, len, MOVIE_URL, &m), SSC_OK);
    free(data);

    /* NULL handle: the documented fallback values. */
    CHECK(!ssc_manifest_is_live(NULL));
    check_message("manifest is NULL");
    CHECK(ssc_manifest_timescale(NULL) == 0);
    CHECK(ssc_manifest_duration(NULL) == 0);
    CHECK(ssc_manifest_stream_count(NULL) == 0);
    ssc_manifest_info mi;
    CHECK_STATUS(ssc_manifest_get_info(NULL, &mi), INVALID);
    CHECK_STATUS(ssc_manifest_get_info(m, NULL), INVALID);
    ssc_stream_info si;
    CHECK_STATUS(ssc_manifest_stream(NULL, 0, &si), INVALID);
    CHECK_STATUS(ssc_manifest_stream(m, 0, NULL), INVALID);
    size_t s;
    CHECK_STATUS(ssc_manifest_stream_by_name(NULL, "video", &s), INVALID);
    CHECK_STATUS(ssc_manifest_stream_by_name(m, NULL, &s), INVALID);
    CHECK_STATUS(ssc_manifest_stream_by_name(m, "vid\xc3", &s), INVALID);
    CHECK_STATUS(ssc_manifest_stream_by_name(m, "video", NULL), INVALID);
    ssc_quality_info qi;
    CHECK_STATUS(ssc_manifest_quality(NULL, 0, 0, &qi), INVALID);
    CHECK_STATUS(ssc_manifest_quality(m, 0, 0, NULL), INVALID);
    uint64_t a = 1, b = 1;
    CHECK_STATUS(ssc_manifest_chunk(NULL, 0, 0, &a, &b), INVALID);
    CHECK(a == 0 && b == 0);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 0, NULL, &b), INVALID);
    CHECK_STATUS(ssc_manifest_chunk(m, 0, 0, &a, NULL), INVALID);
    size_t k;
    CHECK_STATUS(ssc_manifest_find_chunk(NULL, 0, 0, &k), INVALID);
    CHECK_STATUS(ssc_manifest_find_chunk(m, 0, 0, NULL), INVALID);
    char *url = (char *)1;
    CHECK_STATUS(ssc_manifest_fragment_url(NULL, 0, 0, 0, &url), INVALID);
    CHECK(url == NULL);
    CHECK_STATUS(ssc_manifest_fragment_url(m, 0, 0, 0, NULL), INVALID);
    check_message("url_out is NULL");
    ssc_protection_info pi;
    CHECK_STATUS(ssc_manifest_protection(NULL, 0, &pi), INVALID);
    CHECK_STATUS(ssc_manifest_protection(m, 0, NULL), INVALID);
    ssc_string_free(NULL);
    ssc_bytes_free(NULL);
    ssc_manifest_free(NULL);
    ssc_manifest_free(m);

    size_t flen;
    uint8_t *frag = make_fragment(1, 0, 1, 1, 1, &flen);
    ssc_fragment_info fi;
    CHECK_STATUS(ssc_fragment_inspect(NULL, flen, &fi), INVALID);
    check_message("data is NULL");
    CHECK_STATUS(ssc_fragment_inspect(frag, flen, NULL), INVALID);
    CHECK_STATUS(ssc_fragment_inspect(frag, 0, &fi), SSC_ERR_MALFORMED);
    CHECK_STATUS(ssc_fragment_inspect_as(frag, flen, 3, &fi), INVALID);
    check_message("unknown fragment shape 3");
    CHECK_STATUS(ssc_fragment_inspect_as(frag, flen, -1, &fi), INVALID);
    CHECK_STATUS(ssc_fragment_inspect_as(NULL, flen, SSC_FRAGMENT_FULL, &fi), INVALID);
    CHECK_STATUS(ssc_fragment_inspect_as(frag, flen, SSC_FRAGMENT_FULL, NULL), INVALID);
    uint64_t t, d;
    CHECK_STATUS(ssc_fragment_lookahead(NULL, flen, 0, &t, &d), INVALID);
    CHECK_STATUS(ssc_fragment_lookahead(frag, flen, 0, NULL, &d), INVALID);
    CHECK_STATUS(ssc_fragment_lookahead(frag, flen, 0, &t, NULL), INVALID);
    CHECK_STATUS(ssc_fragment_lookahead(frag, flen, 0, &t, &d), INVALID); /* no tfrf */
    free(frag);
}

int main(void) {
    dashjs();
    ffmpeg();
    rich();
    malformed();
    null_arguments();
    printf("test_manifest: ok\n");
    return 0;
}
