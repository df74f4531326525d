#!/usr/bin/python3
"""adproxy.py - an LDAP proxy that ranges values as Active Directory does.

Usage: adproxy.py LISTEN_PORT UPSTREAM_HOST UPSTREAM_PORT MAXVALRANGE LOG [skip]

Listens on 127.0.0.1:LISTEN_PORT and relays every LDAP connection to the
upstream server (Samba or slapd), plain LDAP only (no TLS, no SASL
security layer: it must read the messages).  It changes two things, the
way AD applies its MaxValRange policy (MS-ADTS 3.1.1.3.1.3.3):

- a search request's attribute "attr;range=LOW-HIGH" is sent upstream as
  "attr", and the reply's values are cut to LOW..HIGH, at most MAXVALRANGE
  of them, named "attr;range=LOW-END", END being "*" when the last value
  is among them;
- a plain "attr" with more than MAXVALRANGE values comes back as
  "attr;range=0-(MAXVALRANGE-1)" with the first MAXVALRANGE values.

A range whose LOW is past the last value gives "attr;range=LOW-*" with no
values when LOW equals the number of values, and no attribute otherwise.
Value order is the upstream's, which is stable between reads of an
unchanged entry, as AD's is.  docs/HACKING.md ("The AD stand-in proxy")
says what else AD does that this leaves out.

With "skip" it lies as a broken server might: a ranged reply that is not
the last claims one value more than it holds, so a client that trusts
the bound skips a value.

LOG gets one line per ranged attribute sent ("ranged DN ATTR;range=L-H
N") and, for a paged search, "page-ends-ranged DN" when the last entry
of a page had a ranged attribute: the tests assert on both.
"""

import re
import socket
import sys
import threading

RANGE = re.compile(rb"^(.*?);range=([0-9]+)-([0-9]+|\*)$", re.I)


def ber_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def tlv(tag, content):
    return bytes([tag]) + ber_len(len(content)) + content


def parse(buf, off=0, end=None):
    """The TLVs in buf[off:end]: a list of (tag, content, raw)."""
    end = len(buf) if end is None else end
    out = []
    while off < end:
        tag = buf[off]
        first = buf[off + 1]
        p = off + 2
        if first & 0x80:
            k = first & 0x7F
            n = int.from_bytes(buf[p:p + k], "big")
            p += k
        else:
            n = first
        if p + n > end:
            raise ValueError("truncated BER element")
        out.append((tag, buf[p:p + n], buf[off:p + n]))
        off = p + n
    return out


def message(buf):
    """One whole LDAPMessage from the front of buf: (raw, rest), or None."""
    if len(buf) < 2:
        return None
    first = buf[1]
    p = 2
    if first & 0x80:
        k = first & 0x7F
        if len(buf) < 2 + k:
            return None
        n = int.from_bytes(buf[2:2 + k], "big")
        p += k
    else:
        n = first
    if len(buf) < p + n:
        return None
    return buf[:p + n], buf[p + n:]


class Conn:
    def __init__(self, cli, up, maxval, log, skip):
        self.cli, self.up, self.maxval, self.log = cli, up, maxval, log
        self.skip = skip
        self.asked = {}         # message ID -> {base name: (low, high)}
        self.paged = set()      # message IDs of paged searches
        self.last = {}          # message ID -> DN of its last entry, if ranged
        self.lock = threading.Lock()

    def note(self, line):
        with self.lock:
            self.log.write(line + "\n")
            self.log.flush()

    # client -> upstream: take the ranges out of search requests
    def request(self, raw):
        seq = parse(raw)[0][1]
        parts = parse(seq)
        msgid = int.from_bytes(parts[0][1], "big", signed=True)
        tag, op = parts[1][0], parts[1][1]
        if tag != 0x63:         # not a SearchRequest
            return raw
        fields = parse(op)
        ranges, names = {}, []
        for _, name, _ in parse(fields[7][1]):
            m = RANGE.match(name)
            if m:
                high = None if m.group(3) == b"*" else int(m.group(3))
                ranges[m.group(1).lower()] = (int(m.group(2)), high)
                name = m.group(1)
            names.append(tlv(0x04, name))
        with self.lock:
            self.asked[msgid] = ranges
            if len(parts) > 2 and b"1.2.840.113556.1.4.319" in parts[2][2]:
                self.paged.add(msgid)
        attrs = tlv(0x30, b"".join(names))
        op = b"".join(f[2] for f in fields[:7]) + attrs
        rest = b"".join(p[2] for p in parts[2:])
        return tlv(0x30, parts[0][2] + tlv(0x63, op) + rest)

    def cut(self, dn, name, vals, ranges):
        """One PartialAttribute as AD sends it, and whether it is ranged."""
        base = name.split(b";")[0]
        want = ranges.get(base.lower())
        if want is None and len(vals) <= self.maxval:
            return tlv(0x30, tlv(0x04, name) + tlv(0x31, b"".join(vals))), False
        low, high = want if want is not None else (0, None)
        if low > len(vals):
            return b"", False
        last = len(vals) - 1 if high is None else min(high, len(vals) - 1)
        last = min(last, low + self.maxval - 1)
        part = vals[low:last + 1]
        if last >= len(vals) - 1:
            end = b"*"
        else:
            end = str(last + 1 if self.skip else last).encode()
        rname = base + b";range=" + str(low).encode() + b"-" + end
        self.note("ranged %s %s %d" % (dn.decode("utf-8", "replace"),
                                       rname.decode(), len(part)))
        return tlv(0x30, tlv(0x04, rname) + tlv(0x31, b"".join(part))), True

    # upstream -> client: range the values of entries
    def reply(self, raw):
        seq = parse(raw)[0][1]
        parts = parse(seq)
        msgid = int.from_bytes(parts[0][1], "big", signed=True)
        tag, op = parts[1][0], parts[1][1]
        with self.lock:
            ranges = self.asked.get(msgid)
            paged = msgid in self.paged
        if tag == 0x65:         # SearchResultDone
            with self.lock:
                self.asked.pop(msgid, None)
                self.paged.discard(msgid)
                dn = self.last.pop(msgid, None)
            if paged and dn is not None:
                self.note("page-ends-ranged %s" % dn)
            return raw
        if tag != 0x64 or ranges is None:
            return raw
        dnf, attrs = parse(op)
        out, ranged = [], False
        for _, pa, _ in parse(attrs[1]):
            name, vals = parse(pa)
            v = [t[2] for t in parse(vals[1])]
            a, r = self.cut(dnf[1], name[1], v, ranges)
            ranged = ranged or r
            out.append(a)
        with self.lock:
            if ranged:
                self.last[msgid] = dnf[1].decode("utf-8", "replace")
            else:
                self.last.pop(msgid, None)
        op = dnf[2] + tlv(0x30, b"".join(out))
        rest = b"".join(p[2] for p in parts[2:])
        return tlv(0x30, parts[0][2] + tlv(0x64, op) + rest)

    def pump(self, src, dst, fix):
        buf = b""
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                buf += data
                while True:
                    m = message(buf)
                    if m is None:
                        break
                    raw, buf = m
                    dst.sendall(fix(raw))
        except (OSError, ValueError, IndexError) as e:
            self.note("connection ends: %s" % e)
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(port, host, uport, maxval, logpath, skip):
    log = open(logpath, "a")
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(16)
    while True:
        cli, _ = ls.accept()
        try:
            up = socket.create_connection((host, uport), 10)
            up.settimeout(None)
        except OSError as e:
            log.write("upstream: %s\n" % e)
            log.flush()
            cli.close()
            continue
        c = Conn(cli, up, maxval, log, skip)
        threading.Thread(target=c.pump, args=(cli, up, c.request),
                         daemon=True).start()
        threading.Thread(target=c.pump, args=(up, cli, c.reply),
                         daemon=True).start()


if __name__ == "__main__":
    if len(sys.argv) not in (6, 7) or sys.argv[6:] not in ([], ["skip"]):
        sys.exit("usage: adproxy.py PORT UPSTREAM_HOST UPSTREAM_PORT "
                 "MAXVALRANGE LOG [skip]")
    serve(int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
          int(sys.argv[4]), sys.argv[5], len(sys.argv) == 7)
