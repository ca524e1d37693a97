from functools import partial

from captions.frames import DirectSockets, Outgoing, daphne_protocol


def test_a_message_is_framed_once_as_an_unmasked_text_frame():
    message = Outgoing('{"type":"caption","text":"héllo"}', seq=3)
    frame = message.prepared.payloadHybi
    payload = message.text.encode()
    assert frame[0] == 0x81  # FIN + text
    assert frame[1] == len(payload)  # no mask bit, short length
    assert frame[2:] == payload
    assert message.prepared is message.prepared


def test_a_long_message_gets_the_extended_length():
    message = Outgoing("x" * 70_000)
    frame = message.prepared.payloadHybi
    assert frame[:2] == bytes([0x81, 127])
    assert int.from_bytes(frame[2:10], "big") == 70_000
    assert len(frame) == 10 + 70_000


async def test_other_servers_get_no_direct_socket():
    async def plain_send(message):
        pass

    def handle_reply(protocol, message):
        pass

    assert daphne_protocol(plain_send) is None
    assert daphne_protocol(partial(handle_reply, object())) is None

    scopes = []

    async def app(scope, receive, send):
        scopes.append(scope)

    await DirectSockets(app)({"type": "websocket", "path": "/"}, None, plain_send)
    assert scopes == [{"type": "websocket", "path": "/"}]
