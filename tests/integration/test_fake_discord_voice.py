"""The voice gateway and UDP ear driven by hand, byte for byte, per Discord's voice docs.

discord.py only exercises ``aead_xchacha20_poly1305_rtpsize`` without RTP header extensions;
these tests cover AES-GCM, header extensions, loss, duplicates, forged packets and DAVE rules.
"""

from __future__ import annotations

import asyncio
import math
import socket
import struct
import warnings
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import numpy as np
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from fake_discord.pointing import ssl_context_for
from fake_discord.server import FakeDiscord

with warnings.catch_warnings():
    # discord.py 2.7 imports audioop, deprecated since Python 3.11; warnings are errors here.
    warnings.filterwarnings("ignore", "'audioop' is deprecated", DeprecationWarning)
    from discord.opus import Encoder

JSON = dict[str, Any]
SESSION_ID = "fake-gateway-session"


def _opus_frames(frequency: float, count: int) -> list[bytes]:
    encoder = Encoder()
    t = np.arange(960 * count) / 48_000
    mono = (np.sin(2 * math.pi * frequency * t) * 12_000).astype(np.int16)
    stereo = np.repeat(mono, 2)
    return [encoder.encode(stereo[i * 1920 : (i + 1) * 1920].tobytes(), 960) for i in range(count)]


@pytest.fixture
async def voice_ws(fake_discord: FakeDiscord) -> AsyncIterator[aiohttp.ClientWebSocketResponse]:
    """A wss connection to the voice gateway, after a (simulated) opcode 4 created a grant."""
    fake = fake_discord
    seeded = fake.guilds[0]
    fake.gateway.voice.request(SESSION_ID, seeded.guild_id, seeded.voice_channel_id, False, False)
    connector = aiohttp.TCPConnector(ssl=ssl_context_for(fake.ca_file))
    async with (
        aiohttp.ClientSession(connector=connector) as session,
        session.ws_connect(f"wss://{fake.voice_endpoint}/?v=8") as ws,
    ):
        hello = await ws.receive_json()
        assert hello["op"] == 8 and hello["d"]["heartbeat_interval"] > 0
        yield ws


def _identify(fake: FakeDiscord, **overrides: Any) -> JSON:
    grant = fake.gateway.voice.grants[fake.guilds[0].guild_id]
    data = {
        "server_id": grant.guild_id,
        "user_id": fake.bot_user_id,
        "session_id": grant.session_id,
        "token": grant.token,
        "max_dave_protocol_version": 1,
    }
    return {"op": 0, "d": {**data, **overrides}}


async def test_a_client_without_dave_is_refused_with_4017(
    fake_discord: FakeDiscord,
    voice_ws: aiohttp.ClientWebSocketResponse,
) -> None:
    await voice_ws.send_json(_identify(fake_discord, max_dave_protocol_version=0))
    message = await voice_ws.receive()
    assert message.type == aiohttp.WSMsgType.CLOSE and voice_ws.close_code == 4017


async def test_a_wrong_voice_token_is_refused_with_4004(
    fake_discord: FakeDiscord,
    voice_ws: aiohttp.ClientWebSocketResponse,
) -> None:
    await voice_ws.send_json(_identify(fake_discord, token="nope"))
    await voice_ws.receive()
    assert voice_ws.close_code == 4004


async def test_aes_gcm_with_header_extensions_loss_and_duplicates(
    fake_discord: FakeDiscord,
    voice_ws: aiohttp.ClientWebSocketResponse,
) -> None:
    fake = fake_discord
    await voice_ws.send_json(_identify(fake))
    ready = await voice_ws.receive_json()
    assert ready["op"] == 2 and "aead_aes256_gcm_rtpsize" in ready["d"]["modes"]
    ssrc, port = ready["d"]["ssrc"], ready["d"]["port"]
    loop = asyncio.get_running_loop()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.setblocking(False)
        await loop.sock_connect(udp, ("127.0.0.1", port))
        # IP discovery: 74 bytes out, 74 bytes back with our address and port (big-endian)
        await loop.sock_sendall(udp, struct.pack(">HHI", 1, 70, ssrc) + bytes(66))
        answer = await asyncio.wait_for(loop.sock_recv(udp, 100), 5)
        assert len(answer) == 74 and answer[1] == 2
        ip = answer[8 : answer.index(0, 8)].decode()
        my_port = struct.unpack_from(">H", answer, 72)[0]
        assert (ip, my_port) == udp.getsockname()

        await voice_ws.send_json(
            {
                "op": 1,
                "d": {
                    "protocol": "udp",
                    "data": {"address": ip, "port": my_port, "mode": "aead_aes256_gcm_rtpsize"},
                },
            }
        )
        description = await voice_ws.receive_json()
        assert description["op"] == 4 and description["d"]["dave_protocol_version"] == 0
        key = bytes(description["d"]["secret_key"])
        await voice_ws.send_json({"op": 5, "d": {"speaking": 1, "delay": 0, "ssrc": ssrc}})
        await voice_ws.send_json({"op": 3, "d": {"t": 123, "seq_ack": description["seq"]}})
        assert (await voice_ws.receive_json()) == {"op": 6, "d": {"t": 123}}

        aes = AESGCM(key)
        frames = _opus_frames(1000.0, 100)
        for index, frame in enumerate(frames):
            if index == 50:
                continue  # lost
            header = struct.pack(">BBHII", 0x90, 0x78, index, index * 960, ssrc)
            extension_header = b"\xbe\xde\x00\x01"  # one 32-bit word of extension data
            nonce = struct.pack(">I", index)
            aad = header + extension_header
            sealed = aes.encrypt(nonce + bytes(8), b"\x10\xff\x00\x00" + frame, aad)
            packet = aad + sealed + nonce
            await loop.sock_sendall(udp, packet)
            if index == 60:
                await loop.sock_sendall(udp, packet)  # duplicate
            if index == 70:
                await loop.sock_sendall(udp, aad + bytes(len(sealed)) + nonce)  # forged
            await asyncio.sleep(0.004)
        report = await fake.wait_for_audio(0, seconds=99 * 0.02, timeout_s=10)

    assert report.mode == "aead_aes256_gcm_rtpsize"
    assert report.packets == 100  # 99 distinct + 1 duplicate
    assert report.lost == 1 and report.sequence_gaps == [(49, 1)]
    assert report.duplicates == 1 and report.decrypt_failures == 1
    assert report.decode_failures == 0 and report.nonce_regressions == 1  # the duplicate
    assert report.dominant_frequency_hz is not None
    assert abs(report.dominant_frequency_hz - 1000) <= 5
    assert abs(report.audio_s - 1.98) < 0.01
    assert fake.failures == []
