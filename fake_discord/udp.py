"""The voice UDP endpoint: IP discovery, RTP parsing and AEAD (rtpsize) decryption."""

from __future__ import annotations

import asyncio
import logging
import socket
import struct
import sys
import time
from dataclasses import dataclass, field

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from nacl.bindings import crypto_aead_xchacha20poly1305_ietf_decrypt
from nacl.exceptions import CryptoError

from fake_discord.ear import Ear
from fake_discord.records import Recorder

_log = logging.getLogger(__name__)

XCHACHA = "aead_xchacha20_poly1305_rtpsize"
AES_GCM = "aead_aes256_gcm_rtpsize"
SUPPORTED_MODES = (AES_GCM, XCHACHA)
_DISCOVERY_REQUEST, _DISCOVERY_RESPONSE, _DISCOVERY_LENGTH = 1, 2, 70
_RTP_VERSION = 2
_TAG_BYTES = 16
# Linux's SO_TIMESTAMPNS (not exported by the socket module): the kernel stamps each datagram on
# arrival, so timing statistics stay honest even when this process's event loop is busy.
_SO_TIMESTAMPNS = 35
_MAX_READS_PER_WAKEUP = 512
_RECEIVE_BUFFER_BYTES = 4 * 1024 * 1024


@dataclass
class VoiceMedia:
    """One SSRC's media state: key, mode, discovered address and the ear listening to it."""

    guild_id: str
    ssrc: int
    ear: Ear
    mode: str | None = None
    key: bytes | None = None
    speaking: bool = False
    discovered: tuple[str, int] | None = None
    _aes: AESGCM | None = field(default=None, repr=False)

    def set_key(self, mode: str, key: bytes) -> None:
        """Install the session key from SESSION_DESCRIPTION."""
        self.mode, self.key = mode, key
        self.ear.mode = mode
        self._aes = AESGCM(key) if mode == AES_GCM else None

    def decrypt(self, aad: bytes, ciphertext: bytes, nonce: bytes) -> bytes:
        """Open an rtpsize packet (the 4-byte nonce counter is zero-padded to the mode's size)."""
        if self._aes is not None:
            return self._aes.decrypt(nonce + bytes(8), ciphertext, aad)
        assert self.key is not None
        return crypto_aead_xchacha20poly1305_ietf_decrypt(
            ciphertext, aad, nonce + bytes(20), self.key
        )

    def on_rtp(self, packet: bytes, arrival: float) -> None:
        """Decrypt one RTP packet, drop its header extension and hand the Opus to the ear."""
        ear = self.ear
        if self.key is None:
            ear.count("packets_before_key")
            return
        csrc_count = packet[0] & 0x0F
        header_len = 12 + 4 * csrc_count
        extension_words = 0
        if packet[0] & 0x10:
            # rtpsize: the 4-byte extension header is authenticated but not encrypted;
            # the extension body is the start of the encrypted payload.
            extension_words = struct.unpack_from(">H", packet, header_len + 2)[0]
            header_len += 4
        if len(packet) < header_len + _TAG_BYTES + 4:
            ear.count("decrypt_failures")
            return
        nonce = packet[-4:]
        try:
            plain = self.decrypt(packet[:header_len], packet[header_len:-4], nonce)
        except (InvalidTag, CryptoError, ValueError):
            ear.count("decrypt_failures")
            return
        seq, timestamp = struct.unpack_from(">HI", packet, 2)
        ear.on_packet(
            seq,
            timestamp,
            plain[extension_words * 4 :],
            nonce=struct.unpack(">I", nonce)[0],
            speaking=self.speaking,
            arrival=arrival,
        )


class VoiceUdp:
    """One UDP socket for every voice connection, demultiplexed by SSRC like Discord's."""

    def __init__(self, recorder: Recorder, host: str) -> None:
        self._recorder = recorder
        self._host = host
        self.media: dict[int, VoiceMedia] = {}
        self.unknown_packets = 0
        self._sock: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._kernel_timestamps = False

    def open(self) -> None:
        """Bind an ephemeral port and start reading on the running loop."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        # Hundreds of streams land on this one socket: a busy fake must not drop datagrams
        # (and count them as the bot's losses) for want of buffer (capped by rmem_max).
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _RECEIVE_BUFFER_BYTES)
        sock.bind((self._host, 0))
        if sys.platform == "linux":
            try:
                sock.setsockopt(socket.SOL_SOCKET, _SO_TIMESTAMPNS, 1)
                self._kernel_timestamps = True
            except OSError:
                self._kernel_timestamps = False
        self._sock = sock
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(sock.fileno(), self._readable)

    def close(self) -> None:
        """Stop reading and close the socket."""
        if self._sock is not None and self._loop is not None:
            self._loop.remove_reader(self._sock.fileno())
            self._sock.close()
            self._sock = None

    @property
    def port(self) -> int:
        """The bound UDP port."""
        assert self._sock is not None
        return int(self._sock.getsockname()[1])

    def _readable(self) -> None:
        sock = self._sock
        if sock is None:
            return
        for _ in range(_MAX_READS_PER_WAKEUP):
            try:
                data, ancillary, _flags, addr = sock.recvmsg(2048, 64)
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:  # e.g. ICMP port unreachable after a client left
                _log.debug("voice UDP error: %s", exc)
                continue
            arrival = time.monotonic()
            for level, kind, payload in ancillary:
                if level == socket.SOL_SOCKET and kind == _SO_TIMESTAMPNS and len(payload) >= 16:
                    seconds, nanos = struct.unpack_from("qq", payload)
                    # Kernel stamps use the wall clock; map them onto the monotonic clock.
                    arrival = seconds + nanos / 1e9 - (time.time() - time.monotonic())
            self.datagram_received(data, (str(addr[0]), int(addr[1])), arrival)

    def datagram_received(self, data: bytes, addr: tuple[str, int], arrival: float) -> None:
        """Route a datagram: IP discovery request or RTP (RTCP and junk are counted)."""
        if len(data) == 74 and struct.unpack_from(">H", data)[0] == _DISCOVERY_REQUEST:
            self._discover(data, addr)
            return
        if len(data) < 12 or data[0] >> 6 != _RTP_VERSION or 200 <= data[1] <= 204:
            self.unknown_packets += 1
            return
        media = self.media.get(struct.unpack_from(">I", data, 8)[0])
        if media is None:
            self.unknown_packets += 1
            return
        media.on_rtp(data, arrival)

    def _discover(self, data: bytes, addr: tuple[str, int]) -> None:
        _kind, length, ssrc = struct.unpack_from(">HHI", data)
        media = self.media.get(ssrc)
        if length != _DISCOVERY_LENGTH or media is None:
            self._recorder.fail(
                "udp",
                "IP discovery for an unknown SSRC or bad length",
                {"ssrc": ssrc, "length": length},
            )
            return
        media.discovered = addr
        reply = struct.pack(">HHI", _DISCOVERY_RESPONSE, _DISCOVERY_LENGTH, ssrc)
        reply += addr[0].encode().ljust(64, b"\0") + struct.pack(">H", addr[1])
        assert self._sock is not None
        try:
            self._sock.sendto(reply, addr)
        except OSError as exc:
            _log.debug("could not answer IP discovery: %s", exc)
