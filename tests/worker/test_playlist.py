"""Reading HLS playlists as the worker does (RFC 8216)."""

from __future__ import annotations

import pytest

from captions.worker.playlist import NotAPlaylist, audio_playlist_url, parse_media

BASE = "https://example.live-video.net/api/video/v1/channel.m3u8?token=abc"

# As IVS answers for a channel (shortened): renditions by size, and an audio-only one.
IVS_MULTIVARIANT = """#EXTM3U
#EXT-X-INDEPENDENT-SEGMENTS
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="chunked",NAME="1080p60",AUTOSELECT=YES,DEFAULT=YES
#EXT-X-STREAM-INF:BANDWIDTH=8500000,RESOLUTION=1920x1080,CODECS="avc1.64002A,mp4a.40.2",VIDEO="chunked"
https://video-weaver.example.hls.live-video.net/v1/playlist/chunked.m3u8
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="360p30",NAME="360p",AUTOSELECT=YES,DEFAULT=YES
#EXT-X-STREAM-INF:BANDWIDTH=630000,RESOLUTION=640x360,CODECS="avc1.4D401E,mp4a.40.2",VIDEO="360p30"
https://video-weaver.example.hls.live-video.net/v1/playlist/360p30.m3u8
#EXT-X-MEDIA:TYPE=VIDEO,GROUP-ID="audio_only",NAME="audio_only",AUTOSELECT=NO,DEFAULT=NO
#EXT-X-STREAM-INF:BANDWIDTH=160000,CODECS="mp4a.40.2",VIDEO="audio_only"
https://video-weaver.example.hls.live-video.net/v1/playlist/audio_only.m3u8
"""


def test_it_follows_the_smallest_variant_with_sound_ivss_audio_only_one():
    assert audio_playlist_url(IVS_MULTIVARIANT, BASE).endswith("/audio_only.m3u8")


def test_a_video_only_variant_is_never_chosen():
    text = """#EXTM3U
#EXT-X-STREAM-INF:BANDWIDTH=100000,CODECS="avc1.4D401E"
video.m3u8
#EXT-X-STREAM-INF:BANDWIDTH=900000,CODECS="avc1.4D401E,mp4a.40.2"
both.m3u8
"""
    assert audio_playlist_url(text, BASE) == "https://example.live-video.net/api/video/v1/both.m3u8"


def test_audio_in_a_rendition_of_its_own_is_followed_there():
    text = """#EXTM3U
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="Commentary",DEFAULT=NO,URI="commentary/a.m3u8"
#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="aac",NAME="Main",DEFAULT=YES,URI="main/a.m3u8"
#EXT-X-STREAM-INF:BANDWIDTH=500000,CODECS="avc1.4D401E,mp4a.40.2",AUDIO="aac"
video/v.m3u8
"""
    assert audio_playlist_url(text, BASE).endswith("/v1/main/a.m3u8")


def test_an_error_page_is_not_a_playlist():
    with pytest.raises(NotAPlaylist):
        parse_media("<html>Service unavailable</html>", BASE)
    with pytest.raises(NotAPlaylist):
        audio_playlist_url('#EXTM3U\n#EXT-X-STREAM-INF:CODECS="avc1"\nv.m3u8\n', BASE)


def test_segments_carry_sequence_numbers_and_program_date_times():
    text = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MEDIA-SEQUENCE:41
#EXT-X-PROGRAM-DATE-TIME:2026-05-01T12:00:00.000Z
#EXTINF:2.000,
a.ts
#EXTINF:1.500,
b.ts
#EXTINF:2.000,live
c.ts
"""
    playlist = parse_media(text, BASE)
    assert playlist.target_duration == 2
    assert [s.seq for s in playlist.segments] == [41, 42, 43]
    assert [s.url.rsplit("/", 1)[1] for s in playlist.segments] == ["a.ts", "b.ts", "c.ts"]
    first = playlist.segments[0].program_date_time
    # The date of a segment without a tag follows from the one before (RFC 8216, 4.3.2.6).
    assert [s.program_date_time - first for s in playlist.segments] == [0, 2000, 3500]
    assert not playlist.ended


def test_a_discontinuity_forgets_the_date_unless_it_brings_one():
    text = """#EXTM3U
#EXT-X-TARGETDURATION:1
#EXT-X-PROGRAM-DATE-TIME:2026-05-01T12:00:00.000+0000
#EXTINF:1.0,
a.ts
#EXT-X-DISCONTINUITY
#EXTINF:1.0,
b.ts
#EXT-X-PROGRAM-DATE-TIME:2026-05-01T12:05:00.250+00:00
#EXT-X-DISCONTINUITY
#EXTINF:1.0,
c.ts
#EXT-X-GAP
#EXTINF:1.0,
d.ts
#EXTINF:1.0,
e.ts
#EXT-X-ENDLIST
"""
    a, b, c, e = parse_media(text, BASE).segments
    assert (a.discontinuity, b.discontinuity, c.discontinuity) == (False, True, True)
    assert b.program_date_time is None
    assert c.program_date_time - a.program_date_time == 300_250
    assert (e.seq, e.program_date_time - c.program_date_time) == (4, 2000)  # d is a gap
    assert parse_media(text, BASE).ended


def test_an_initialization_section_goes_with_its_segments():
    text = """#EXTM3U
#EXT-X-TARGETDURATION:2
#EXT-X-MAP:URI="init.mp4"
#EXTINF:2.0,
s1.m4s
"""
    (segment,) = parse_media(text, BASE).segments
    assert segment.init_url == "https://example.live-video.net/api/video/v1/init.mp4"
