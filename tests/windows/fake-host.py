#!/usr/bin/env python3
"""fake-host: a hostile host for the Windows agent's tests. Connects to a port stand-in's host
socket and answers every guest frame with what a broken or hostile host might send: garbage,
a frame whose header check fails, a reply of another session, a header announcing more bytes
than follow, and a frame with a bad frame check. Never a usable reply."""
import socket
import struct
import sys
import time


def crc32c(data):
    crc = 0xFFFFFFFF
    for b in data:
        crc ^= b
        for _ in range(8):
            crc = (crc >> 1) ^ (0x82F63B78 if crc & 1 else 0)
    return crc ^ 0xFFFFFFFF


def frame(mtype, session, seq, payload=b"", bad_crc=False, bad_header=False, claim=None):
    length = len(payload) if claim is None else claim
    head = b"\xffAVK" + struct.pack(">BBBBIII", 1, mtype, 0, 0, session, seq, length)
    hcrc = crc32c(head) ^ (1 if bad_header else 0)
    head += struct.pack(">I", hcrc)
    body = head + payload
    fcrc = crc32c(body) ^ (1 if bad_crc else 0)
    return body + struct.pack(">I", fcrc)


def connect(sock_path):
    for _ in range(100):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            s.connect(sock_path)
            return s
        except OSError:
            s.close()
            time.sleep(0.05)
    sys.exit("fake-host: cannot connect to %s" % sock_path)


def main():
    sock_path, log_path = sys.argv[1], sys.argv[2]
    log = open(log_path, "a")
    s = connect(sock_path)
    # The stand-in takes one host at a time and closes a second at once: if the previous host's
    # hang-up was not seen yet, try again rather than wait for a guest that never reaches us.
    for _ in range(20):
        s.settimeout(0.2)
        try:
            data = s.recv(65536)
        except socket.timeout:
            data = None
        if data != b"":
            break
        s.close()
        time.sleep(0.1)
        s = connect(sock_path)
    s.settimeout(None)
    log.write("connected\n")
    log.flush()
    buf = data or b""
    while True:
        # Answer each guest frame header we can see (session and seq from the guest's header).
        while True:
            i = buf.find(b"\xffAVK")
            if i < 0 or len(buf) < i + 24:
                break
            _, mtype, _, _, session, seq, length = struct.unpack(">BBBBIII", buf[i + 4:i + 20])
            buf = buf[i + 24 + min(length, 16384) + 4:]
            log.write("guest frame type %d session %08x seq %d\n" % (mtype, session, seq))
            log.flush()
            empty = struct.pack(">H", 0)
            out = b"garbage \x00\x01\x02 not a frame\n"
            out += frame(0x02, session, seq, empty, bad_header=True)
            out += frame(0x02, session ^ 0x5A5A5A5A, seq, empty)  # another session
            out += frame(0x02, session, seq + 7, empty)  # another seq
            out += frame(0x02, session, seq, empty, bad_crc=True)
            out += frame(0x21, session, seq, b"\x00\x01\x07", claim=None)  # bad records
            out += frame(0x02, session, seq, b"", claim=16000)[:40]  # announces more than sent
            s.sendall(out)
        data = s.recv(65536)
        if not data:
            return
        buf += data


if __name__ == "__main__":
    main()
