"""Timed ID3 metadata in an MPEG-TS segment, the way Amazon IVS's transcoder puts it there.

IVS puts an ID3 tag at the start of every segment: a ``TXXX`` frame described
``segmentmetadata`` whose value is JSON. The IVS Web Player SDK reads it, not the playlist's
``EXT-X-PROGRAM-DATE-TIME``, for ``getSyncTime()`` and ``getLiveLatency()``: with
``{"cmd": "ld_lat_data", "transc_r": <UTC ms>}`` the SDK's sync time follows ``transc_r`` and its
latency is now minus ``transc_r`` (found by trying, SDK 1.56.1: without ``cmd`` or without
``transc_r`` both stay 0). ffmpeg's HLS muxer writes no such tag, so the sync benchmark adds one
to each segment as it serves it: ``inject(segment, json_text, continuity)``.

The tag is carried as Apple's "Timed Metadata for HTTP Live Streaming" describes: its own PID,
``stream_type`` 0x15 with a metadata descriptor ("ID3 ") in the PMT, and a PES packet
(``private_stream_1``) timed at the segment's first video frame.
"""

from __future__ import annotations

import struct

PACKET = 188
ID3_PID = 0x0102  # ffmpeg numbers its streams from 0x100: video 0x100, audio 0x101
STREAM_TYPE_H264 = 0x1B
STREAM_TYPE_METADATA = 0x15
# metadata_descriptor: application format 0xFFFF + "ID3 ", format 0xFF + "ID3 ", service 0,
# decoder_config_flags 0 / DSM-CC flag 0 (as ffmpeg writes it for timed_id3 streams).
METADATA_DESCRIPTOR = bytes([0x26, 13]) + b"\xff\xffID3 \xffID3 \x00\x0f"


def crc32_mpeg(data: bytes) -> int:
    crc = 0xFFFFFFFF
    for byte in data:
        crc ^= byte << 24
        for _ in range(8):
            crc = ((crc << 1) ^ 0x04C11DB7) if crc & 0x80000000 else crc << 1
            crc &= 0xFFFFFFFF
    return crc


def _syncsafe(n: int) -> bytes:
    return bytes([(n >> 21) & 0x7F, (n >> 14) & 0x7F, (n >> 7) & 0x7F, n & 0x7F])


def id3_txxx(description: str, value: str) -> bytes:
    """An ID3v2.4 tag holding one UTF-8 ``TXXX`` frame."""
    body = b"\x03" + description.encode() + b"\x00" + value.encode()
    frame = b"TXXX" + _syncsafe(len(body)) + b"\x00\x00" + body
    return b"ID3\x04\x00\x00" + _syncsafe(len(frame)) + frame


def _pts_field(pts: int) -> bytes:
    return bytes(
        [
            0x21 | ((pts >> 29) & 0x0E),
            (pts >> 22) & 0xFF,
            0x01 | ((pts >> 14) & 0xFE),
            (pts >> 7) & 0xFF,
            0x01 | ((pts << 1) & 0xFE),
        ]
    )


def _read_pts(field: bytes) -> int:
    return (
        (((field[0] >> 1) & 0x07) << 30)
        | (field[1] << 22)
        | ((field[2] >> 1) << 15)
        | (field[3] << 7)
        | (field[4] >> 1)
    )


def _pid(packet: bytes) -> int:
    return ((packet[1] & 0x1F) << 8) | packet[2]


def _starts_unit(packet: bytes) -> bool:
    return bool(packet[1] & 0x40)


def _payload(packet: bytes) -> bytes:
    control = (packet[3] >> 4) & 3
    if control == 1:
        return packet[4:]
    if control == 3:
        return packet[5 + packet[4] :]
    return b""


def _section(packet: bytes) -> bytes:
    payload = _payload(packet)
    return payload[1 + payload[0] :]


def _packets(data: bytes) -> list[bytes]:
    return [data[i : i + PACKET] for i in range(0, len(data) - PACKET + 1, PACKET)]


def _ts_packets(pid: int, payload: bytes, continuity: int) -> list[bytes]:
    """``payload`` (one PES packet) cut into TS packets, the last padded with stuffing."""
    out = []
    first = True
    while payload:
        chunk, payload = payload[:184], payload[184:]
        header = bytes([0x47, (0x40 if first else 0) | (pid >> 8), pid & 0xFF])
        counter = continuity & 0x0F
        if len(chunk) == 184:
            out.append(header + bytes([0x10 | counter]) + chunk)
        else:
            stuffing = 184 - len(chunk)
            adaptation = (
                b"\x00" if stuffing == 1 else bytes([stuffing - 1, 0]) + b"\xff" * (stuffing - 2)
            )
            out.append(header + bytes([0x30 | counter]) + adaptation + chunk)
        continuity += 1
        first = False
    return out


def _with_metadata_stream(packet: bytes) -> bytes:
    """The PMT packet with the ID3 stream added to its stream loop (and a new CRC)."""
    pointer = packet[4]
    start = 5 + pointer
    length = ((packet[start + 1] & 0x0F) << 8) | packet[start + 2]
    section = bytearray(packet[start : start + 3 + length - 4])  # up to the CRC
    pid_high, pid_low = 0xE0 | (ID3_PID >> 8), ID3_PID & 0xFF
    section += bytes([STREAM_TYPE_METADATA, pid_high, pid_low, 0xF0, len(METADATA_DESCRIPTOR)])
    section += METADATA_DESCRIPTOR
    length = len(section) - 3 + 4
    section[1] = (section[1] & 0xF0) | (length >> 8)
    section[2] = length & 0xFF
    section += struct.pack(">I", crc32_mpeg(bytes(section)))
    rewritten = packet[:start] + bytes(section)
    if len(rewritten) > PACKET:
        raise ValueError("the PMT does not fit one packet with the metadata stream added")
    return rewritten + b"\xff" * (PACKET - len(rewritten))


def first_video_pts(segment: bytes) -> tuple[int | None, int | None]:
    """(PMT PID, PTS of the first video frame) of a segment; None where not found."""
    pmt_pid = video_pid = None
    for packet in _packets(segment):
        pid = _pid(packet)
        if not _starts_unit(packet):
            continue
        if pid == 0:
            section = _section(packet)
            pmt_pid = ((section[10] & 0x1F) << 8) | section[11]
        elif pid == pmt_pid and video_pid is None:
            section = _section(packet)
            length = ((section[1] & 0x0F) << 8) | section[2]
            i = 12 + (((section[10] & 0x0F) << 8) | section[11])
            while i < 3 + length - 4:
                if section[i] == STREAM_TYPE_H264:
                    video_pid = ((section[i + 1] & 0x1F) << 8) | section[i + 2]
                    break
                i += 5 + (((section[i + 3] & 0x0F) << 8) | section[i + 4])
        elif pid == video_pid:
            pes = _payload(packet)
            if pes[:3] == b"\x00\x00\x01" and pes[7] & 0x80:
                return pmt_pid, _read_pts(pes[9:14])
    return pmt_pid, None


def inject(
    segment: bytes, value: str, continuity: int, description: str = "segmentmetadata"
) -> bytes:
    """``segment`` with an ID3 ``TXXX`` tag (``description``: ``value``) timed at its first
    video frame. ``continuity``: the ID3 PID's continuity counter for this segment (the media
    sequence number keeps it continuous from one segment to the next). A segment whose PMT or
    first frame is not found is returned unchanged."""
    pmt_pid, pts = first_video_pts(segment)
    if pmt_pid is None or pts is None:
        return segment
    tag = id3_txxx(description, value)
    header = bytes([0x84, 0x80, 5]) + _pts_field(pts)  # data aligned; PTS only
    pes = b"\x00\x00\x01\xbd" + struct.pack(">H", len(header) + len(tag)) + header + tag
    out: list[bytes] = []
    added = False
    for packet in _packets(segment):
        if _pid(packet) == pmt_pid and _starts_unit(packet):
            out.append(_with_metadata_stream(packet))
            if not added:
                out.extend(_ts_packets(ID3_PID, pes, continuity))
                added = True
        else:
            out.append(packet)
    return b"".join(out)
