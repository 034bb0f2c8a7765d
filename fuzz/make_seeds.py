#!/usr/bin/env python3
"""Builds the fuzzers' seed corpora at build/run time (nothing large is committed).

  fuzz/make_seeds.py OUT_DIR SYNSCOPE_BINARY

OUT_DIR/<fuzzer>/ gets small inputs drawn from ../shared/pcaps (first packets of each capture, cut
with editcap, plus every captured frame re-wrapped in each link type the reader decodes), the
simulator's pcap and tcpdump text outputs, the seed printouts, scenarios/*.toml, this host's /proc
counters, a support bundle written by `synscope collect`, this host's real sock_diag replies, and
a few hand-built trace records. Seeds are capped in size so that libFuzzer's mutations stay fast.
"""
import gzip
import hashlib
import os
import shutil
import socket
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PCAPS = os.path.join(ROOT, "..", "shared", "pcaps")
PRINTOUTS = os.path.join(ROOT, "..", "shared", "spec", "seed-printouts")
MAX_SEED = 64 * 1024


def put(out, name, data):
    d = os.path.join(out, name)
    os.makedirs(d, exist_ok=True)
    if len(data) > MAX_SEED:
        data = data[:MAX_SEED]
    with open(os.path.join(d, hashlib.sha1(data).hexdigest()[:16]), "wb") as f:
        f.write(data)


def pcap_frames(data):
    """(linktype, frame) of a classic little/big-endian pcap."""
    if len(data) < 24:
        return []
    magic = data[:4]
    if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
        e = "<"
    elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
        e = ">"
    else:
        return []
    link = struct.unpack(e + "I", data[20:24])[0] & 0xFFFF
    out, pos = [], 24
    while pos + 16 <= len(data):
        caplen = struct.unpack(e + "I", data[pos + 8:pos + 12])[0]
        pos += 16
        out.append((link, data[pos:pos + caplen]))
        pos += caplen
    return out


def pcap_file(link, frames, ts=1559601910):
    hdr = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, link)
    body = b"".join(struct.pack("<IIII", ts + i, 0, len(f), len(f)) + f for i, f in enumerate(frames))
    return hdr + body


def small_captures(tmp):
    """The first 12 packets of every shared capture, in its own format (pcap or pcapng)."""
    out = []
    for name in sorted(os.listdir(PCAPS)):
        if not name.endswith((".pcap", ".pcapng")):
            continue
        dst = os.path.join(tmp, "head-" + name)
        subprocess.run(["editcap", "-r", os.path.join(PCAPS, name), dst, "1-12"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(dst, "rb") as f:
            out.append((name, f.read()))
    return out


# Link types the decoder handles (same order as fuzz/decode_frame_fuzzer.cpp's kLinkTypes).
LINKS = {"EN10MB": 0, "LINUX_SLL": 1, "LINUX_SLL2": 2, "RAW": 3, "LINKTYPE_RAW": 4, "IPV4": 5, "IPV6": 6,
         "NULL": 7, "LOOP": 8, "IEEE802_11": 9, "IEEE802_11_RADIO": 10}
DLT = {"EN10MB": 1, "LINUX_SLL": 113, "LINUX_SLL2": 276, "RAW": 12, "LINKTYPE_RAW": 101, "IPV4": 228,
       "IPV6": 229, "NULL": 0, "LOOP": 108, "IEEE802_11": 105, "IEEE802_11_RADIO": 127}


def rewrap(eth):
    """An Ethernet frame carrying IP, re-wrapped in every other link type: {link name: frame}."""
    if len(eth) < 14:
        return {}
    ethertype = struct.unpack(">H", eth[12:14])[0]
    ip = eth[14:]
    if ethertype not in (0x0800, 0x86DD):
        return {"EN10MB": eth}
    v6 = ethertype == 0x86DD
    llc = b"\xaa\xaa\x03\x00\x00\x00" + eth[12:14]
    wlan = b"\x08\x02\x00\x00" + eth[0:6] + eth[6:12] + b"\x00\x11\x22\x33\x44\x55" + b"\x00\x00"
    frames = {
        "EN10MB": eth,
        "LINUX_SLL": struct.pack(">HHH", 0, 1, 6) + eth[6:12] + b"\x00\x00" + eth[12:14] + ip,
        "LINUX_SLL2": eth[12:14] + b"\x00\x00" + struct.pack(">I", 2) + struct.pack(">HBB", 1, 0, 6)
                      + eth[6:12] + b"\x00\x00" + ip,
        "RAW": ip, "LINKTYPE_RAW": ip,
        "NULL": struct.pack("<I", 30 if v6 else 2) + ip,
        "LOOP": struct.pack(">I", 30 if v6 else 2) + ip,
        "IEEE802_11": wlan + llc + ip,
        "IEEE802_11_RADIO": struct.pack("<BBHI", 0, 0, 8, 0) + wlan + llc + ip,
        "IPV6" if v6 else "IPV4": ip,
    }
    # Ethernet with an 802.1Q tag, and QinQ.
    frames["EN10MB-vlan"] = eth[:12] + b"\x81\x00\x00\x05" + eth[12:]
    frames["EN10MB-qinq"] = eth[:12] + b"\x88\xa8\x00\x07\x81\x00\x00\x05" + eth[12:]
    return frames


def main():
    out, synscope = sys.argv[1], sys.argv[2]
    if os.path.isdir(out):
        shutil.rmtree(out)
    os.makedirs(out)
    tmp = tempfile.mkdtemp(prefix="synscope-seeds-")
    try:
        # Simulator outputs: pcap and tcpdump text of a few built-in scenarios.
        sim_pcaps, texts = [], []
        for scen in ("seed-nat-recycle-server-close", "accept-queue-overflow", "syn-flood", "seed-nginx-proxy"):
            d = os.path.join(tmp, scen)
            subprocess.run([synscope, "sim", scen, "--no-variants", "-o", d], check=True, stdout=subprocess.DEVNULL,
                           stderr=subprocess.DEVNULL)
            for f in sorted(os.listdir(d)):
                with open(os.path.join(d, f), "rb") as fh:
                    data = fh.read()
                if f.endswith(".pcap"):
                    sim_pcaps.append(data)
                elif f.endswith(".txt"):
                    texts.append(data)
        heads = small_captures(tmp)

        # Whole files (capture_file, analyze_input): small captures, plain and compressed.
        for name, data in heads:
            for fz in ("capture_file", "analyze_input"):
                put(out, fz, data)
        for data in sim_pcaps:
            for fz in ("capture_file", "analyze_input"):
                put(out, fz, data[:8192])
                put(out, fz, gzip.compress(data[:8192]))
        zst = subprocess.run(["zstd", "-q", "-c"], input=heads[0][1], stdout=subprocess.PIPE, check=True).stdout
        put(out, "capture_file", zst)
        put(out, "capture_file", gzip.compress(heads[1][1]))

        # Frames (decode_frame) and one small pcap per link type (capture_file).
        frames = []
        for name, data in heads:
            if data[:4] == b"\x0a\x0d\x0d\x0a":
                conv = os.path.join(tmp, "conv.pcap")
                subprocess.run(["editcap", "-F", "pcap", os.path.join(tmp, "head-" + name), conv], check=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                with open(conv, "rb") as fh:
                    data = fh.read()
            frames += [f for link, f in pcap_frames(data) if link == 1]
        for data in sim_pcaps:
            frames += [f for link, f in pcap_frames(data)[:20] if link == 1]
        per_link, per_variant = {}, {}
        for eth in frames:
            for link, f in rewrap(eth).items():
                base = link.split("-")[0]
                # Every 6th frame per variant, at most 60: enough variety, few enough to mutate fast.
                n = per_variant[link] = per_variant.get(link, 0) + 1
                if n % 6 == 1 and n <= 360:
                    put(out, "decode_frame", bytes([LINKS[base], 0]) + f)
                if len(per_link.setdefault(base, [])) < 8:
                    per_link[base].append(f)
        for base, fs in per_link.items():
            put(out, "capture_file", pcap_file(DLT[base], fs))

        # tcpdump text: seed printouts, the simulator's text, tcpdump's own printing of the captures.
        for f in sorted(os.listdir(PRINTOUTS)):
            with open(os.path.join(PRINTOUTS, f), "rb") as fh:
                data = fh.read()
            for fz in ("tcpdump_text", "analyze_input"):
                put(out, fz, data)
        for data in texts:
            put(out, "tcpdump_text", data[:8192])
        for name, _ in heads[:12]:
            for flags in (["-nn"], ["-nn", "-tttt"], ["-nn", "-e"], ["-nn", "-v"], ["-tt"], ["-nn", "-S"]):
                r = subprocess.run(["tcpdump", "-r", os.path.join(tmp, "head-" + name)] + flags,
                                   stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
                if r.stdout:
                    put(out, "tcpdump_text", r.stdout)

        # Scenarios.
        for d in ("scenarios", "scenarios/lab", "tests/analyze/data"):
            for f in sorted(os.listdir(os.path.join(ROOT, d))):
                if f.endswith(".toml"):
                    with open(os.path.join(ROOT, d, f), "rb") as fh:
                        put(out, "scenario", fh.read())

        # /proc counters: this host's, as netstat NUL snmp.
        with open("/proc/net/netstat", "rb") as a, open("/proc/net/snmp", "rb") as b:
            put(out, "proc_counters", a.read() + b"\0" + b.read())

        # A support bundle of this host (one sample), gzip and plain tar.
        bundle = os.path.join(tmp, "bundle.tar.gz")
        subprocess.run([synscope, "collect", "--interval", "0", "-o", bundle], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        with open(bundle, "rb") as fh:
            gz = fh.read()
        put(out, "bundle", gz)
        put(out, "bundle", gzip.decompress(gz))

        # sock_diag: this host's real replies to a LISTEN|SYN_RECV|SYN_SENT dump with SKMEMINFO.
        for family in (socket.AF_INET, socket.AF_INET6):
            s = socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, 4)  # NETLINK_SOCK_DIAG
            req_body = struct.pack("=BBBBI", family, socket.IPPROTO_TCP, 1 << (1 - 1), 0,
                                   (1 << 10) | (1 << 3) | (1 << 2)) + b"\0" * 48
            hdr = struct.pack("=IHHII", 16 + len(req_body), 20, 0x301, 1, 0)  # SOCK_DIAG_BY_FAMILY, REQUEST|DUMP
            s.sendto(hdr + req_body, (0, 0))
            for _ in range(4):
                data = s.recv(65536)
                put(out, "sock_diag", data)
                if len(data) < 4096:
                    break
            s.close()
        put(out, "sock_diag", struct.pack("=IHHIIi", 20, 2, 0, 1, 0, -2))  # NLMSG_ERROR ENOENT
        put(out, "sock_diag", struct.pack("=IHHII", 16, 3, 0, 1, 0))        # NLMSG_DONE

        # Trace records: a SYN, its SYN-ACK and the final ACK on a listener with room, then a SYN
        # on a full one (struct syn_trace_event, 104 bytes).
        def rec(ts, kind, found, flags, a, b, q, y, seq=1000, ack=0):
            peer = b"\0" * 10 + b"\xff\xff" + bytes([10, 0, 0, 2]) + b"\0" * 0
            local = b"\0" * 10 + b"\xff\xff" + bytes([10, 0, 0, 1])
            return (struct.pack("<QBBBBBBH", ts, kind, 4, found, flags, 1, 1, 0) + peer + local
                    + struct.pack(">HH", 40000, 8080) + struct.pack("<III", seq, ack, 12345)
                    + struct.pack("<IIII", a, b, q, y) + local + struct.pack("<HHI", 8080, 0, 0))
        put(out, "trace_events", b"\0" + rec(10, 1, 10, 0x02, 0, 128, 0, 0) + rec(20, 3, 12, 0x12, 0, 128, 1, 1)
            + rec(31, 2, 12, 0x10, 0, 128, 1, 1, 1001, 5000) + rec(400_000_000, 1, 10, 0x02, 129, 128, 0, 0))
        put(out, "trace_events", b"\x03" + rec(5, 1, 10, 0x02, 0, 0, 1024, 1024) + rec(7, 4, 10, 0x14, 0, 0, 0, 0))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    for d in sorted(os.listdir(out)):
        print(f"{d}: {len(os.listdir(os.path.join(out, d)))} seeds")


if __name__ == "__main__":
    main()
