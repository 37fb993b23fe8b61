#!/usr/bin/env python3
"""An independent TLS peer for `tofu echo tls://...`: Python's ssl module, tofu's frames by hand.

Usage: tls_python_client.py HOST PORT CA_FILE

Connects trusting CA_FILE (and checking that the certificate names HOST), then speaks tofu's wire
format (docs: DESIGN.md section 2.4, wire/vectors.json): HelloRequest, Request, ByeRequest, and
checks the HelloResponse, the echoed Response and the ByeResponse. Exits 0 when all came back as
they should; otherwise prints why on stderr and exits 1. Standard library only.
"""

import socket
import ssl
import struct
import sys

# 16-byte big-endian header: channel, proto (op code in bits 0-3, more in bit 5), status,
# message_id, text headers length, body length.
HEADER = struct.Struct(">HBBQHH")
REQUEST, RESPONSE, HELLO_REQUEST, HELLO_RESPONSE, BYE_REQUEST, BYE_RESPONSE = 0, 1, 3, 4, 5, 6
CHANNEL = 1  # our local channel number; the server replaces it with its own
TIMEOUT_SECONDS = 30  # a safety net for a hung server, not a measurement


def frame(op_code, message_id, headers=b"", body=b""):
    return HEADER.pack(CHANNEL, op_code, 0, message_id, len(headers), len(body)) + headers + body


def read_exactly(stream, n):
    data = b""
    while len(data) < n:
        chunk = stream.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"the server closed the connection after {len(data)} of {n} bytes")
        data += chunk
    return data


def read_frame(stream):
    _, proto, status, message_id, headers_length, body_length = HEADER.unpack(
        read_exactly(stream, HEADER.size))
    headers = read_exactly(stream, headers_length)
    body = read_exactly(stream, body_length)
    return {"op": proto & 0x0F, "more": bool(proto & 0x20), "status": status,
            "message_id": message_id, "headers": headers, "body": body}


def expect(frame_read, op_code, message_id, what):
    if frame_read["op"] != op_code or frame_read["message_id"] != message_id:
        raise AssertionError(f"expected {what} (op code {op_code}, id {message_id}), got {frame_read}")
    if frame_read["status"] != 0 or frame_read["more"]:
        raise AssertionError(f"{what}: unexpected status or more bit: {frame_read}")


def main(argv):
    if len(argv) != 4:
        print(__doc__, file=sys.stderr)
        return 2
    host, port, ca_file = argv[1], int(argv[2]), argv[3]
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=ca_file)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    body = b"hello over TLS from Python \x00\x01\xff"
    headers = b"Job:python\r\n"
    with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as raw:
        with context.wrap_socket(raw, server_hostname=host) as tls:
            # No ~confirm:1 in the HelloRequest: the server then sends no confirmations (op code 10).
            tls.sendall(frame(HELLO_REQUEST, 1, f"~connect_to:tls|{host}|{port}\r\n".encode()))
            tls.sendall(frame(REQUEST, 2, headers, body))
            expect(read_frame(tls), HELLO_RESPONSE, 1, "HelloResponse")
            response = read_frame(tls)
            expect(response, RESPONSE, 2, "the echoed Response")
            if response["body"] != body:
                raise AssertionError(f"echoed body {response['body']!r}, sent {body!r}")
            if response["headers"] != headers:
                raise AssertionError(f"echoed headers {response['headers']!r}, sent {headers!r}")
            tls.sendall(frame(BYE_REQUEST, 3))
            expect(read_frame(tls), BYE_RESPONSE, 3, "ByeResponse")
            version = tls.version()
    print(f"tls_python_client: round trip over {version} passed")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv))
    except (AssertionError, OSError, ssl.SSLError) as error:
        print(f"tls_python_client: {error}", file=sys.stderr)
        sys.exit(1)
