#!/usr/bin/env python3
"""Writes the extraction corpus: NNN.eml + NNN.expected.json.

Deterministic (fixed seed): running it again rewrites the same files. Every message is made
up by the team from templates that imitate real verification, sign-in and everyday mail;
no real mail is copied. Bodies are really encoded in their charsets (GBK, Big5, ISO-2022-JP,
Shift_JIS, EUC-KR, KOI8-R, windows-125x, ISO-8859-x, TIS-620...) with quoted-printable,
base64 or 8bit transfer encodings, and subjects use RFC 2047 words.

Usage: python3 tests/corpus/generate.py   (from the repository root or this folder)
"""

import base64
import json
import os
import quopri
import random

from phrases import LANGS, NEGATIVE_LANGS

HERE = os.path.dirname(os.path.abspath(__file__))
R = random.Random(20261121)

# --------------------------------------------------------------------------- encoding helpers


def header_words(text, charset):
    """RFC 2047 encoded words (B or Q) for a non-ASCII header value."""
    try:
        text.encode("ascii")
        return text
    except UnicodeEncodeError:
        pass
    from templates import fit

    text = fit(text, charset)
    data = text.encode(charset)
    name = CHARSET_NAMES.get(charset, charset)
    if charset in ("iso2022_jp",) or R.random() < 0.6:
        # Split into chunks so no encoded word passes 75 characters.
        words, chunk = [], ""
        for ch in text:
            if len((chunk + ch).encode(charset)) > 36:
                words.append(chunk)
                chunk = ""
            chunk += ch
        if chunk:
            words.append(chunk)
        return "\r\n ".join(
            "=?%s?B?%s?=" % (name, base64.b64encode(w.encode(charset)).decode()) for w in words
        )
    q = quopri.encodestring(data, header=True).decode("ascii").replace("\n", "")
    return "=?%s?Q?%s?=" % (name, q)


CHARSET_NAMES = {
    "us-ascii": "us-ascii",
    "gbk": "GBK", "gb2312": "GB2312", "gb18030": "GB18030", "big5": "Big5", "iso2022_jp": "ISO-2022-JP",
    "shift_jis": "Shift_JIS", "euc_jp": "EUC-JP", "euc_kr": "EUC-KR", "koi8_r": "KOI8-R", "koi8_u": "KOI8-U",
    "cp1251": "windows-1251", "cp1252": "windows-1252", "cp1250": "windows-1250", "cp1254": "windows-1254",
    "cp1255": "windows-1255", "cp1256": "windows-1256", "cp1257": "windows-1257", "iso8859_1": "ISO-8859-1",
    "iso8859_2": "ISO-8859-2", "iso8859_5": "ISO-8859-5", "iso8859_6": "ISO-8859-6", "iso8859_7": "ISO-8859-7",
    "iso8859_9": "ISO-8859-9", "iso8859_15": "ISO-8859-15", "tis_620": "TIS-620", "utf-8": "UTF-8",
    "cp874": "windows-874",
}


def encode_body(text, charset, cte):
    from templates import fit

    data = fit(text, charset).encode(charset)
    if cte == "base64":
        return base64.encodebytes(data).replace(b"\n", b"\r\n")
    if cte == "quoted-printable":
        return quopri.encodestring(data).replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    return data.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def part(ctype, text, charset, cte):
    name = CHARSET_NAMES.get(charset, charset)
    head = 'Content-Type: %s; charset="%s"\r\nContent-Transfer-Encoding: %s\r\n\r\n' % (ctype, name, cte)
    return head.encode("ascii") + encode_body(text, charset, cte)


def boundary():
    return "----=_Part_%d_%d" % (R.randrange(10**6), R.randrange(10**9))


def multipart(subtype, parts, extra=""):
    b = boundary()
    out = ('Content-Type: multipart/%s; boundary="%s"%s\r\n\r\n' % (subtype, b, extra)).encode()
    out += b"This is a multi-part message in MIME format.\r\n"
    for p in parts:
        out += ("\r\n--%s\r\n" % b).encode() + p
    out += ("\r\n--%s--\r\n" % b).encode()
    return out


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg=="
)


def binary_part(ctype, name, data, inline=False):
    disp = "inline" if inline else "attachment"
    head = (
        'Content-Type: %s; name="%s"\r\nContent-Transfer-Encoding: base64\r\n'
        'Content-Disposition: %s; filename="%s"\r\n' % (ctype, name, disp, name)
    )
    if inline:
        head += "Content-ID: <logo@mail>\r\n"
    return (head + "\r\n").encode() + base64.encodebytes(data).replace(b"\n", b"\r\n")


def pick_cte(charset):
    if charset == "iso2022_jp":
        return "7bit"
    return R.choice(["quoted-printable", "base64", "8bit"] if charset != "us-ascii" else ["7bit", "quoted-printable"])


def assemble(msg, structure, charset):
    """msg: dict(subject, from_name, from_addr, text, html). Returns the raw message bytes."""
    cte = pick_cte(charset)
    text, html = msg.get("text"), msg.get("html")
    parts = {}
    if text is not None:
        parts["text"] = part("text/plain", text, charset, pick_cte(charset))
    if html is not None:
        parts["html"] = part("text/html", html, charset, cte)
    if structure == "text" or html is None:
        body = parts["text"]
    elif structure == "html" or text is None:
        body = parts["html"]
    elif structure == "alt":
        body = multipart("alternative", [parts["text"], parts["html"]])
    elif structure == "alt_rev":
        body = multipart("alternative", [parts["html"], parts["text"]])
    elif structure == "related":
        alt = multipart("alternative", [parts["text"], parts["html"]])
        body = multipart("related", [alt, binary_part("image/png", "logo.png", PNG, inline=True)], '; type="multipart/alternative"')
    elif structure == "mixed":
        alt = multipart("alternative", [parts["text"], parts["html"]])
        pdf = b"%PDF-1.4\n" + bytes(R.randrange(256) for _ in range(600))
        body = multipart("mixed", [alt, binary_part("application/pdf", "details.pdf", pdf)])
    else:
        raise ValueError(structure)
    day = R.randrange(1, 28)
    hour, minute = R.randrange(24), R.randrange(60)
    from_name = msg["from_name"]
    from_header = '%s <%s>' % (header_words(from_name, charset) if from_name else "", msg["from_addr"])
    if not from_name:
        from_header = msg["from_addr"]
    elif all(ord(c) < 128 for c in from_name) and any(c in from_name for c in ",.()"):
        from_header = '"%s" <%s>' % (from_name, msg["from_addr"])
    headers = [
        "Return-Path: <bounce@%s>" % msg["from_addr"].split("@")[1],
        "Received: from mta.example.net (mta.example.net [192.0.2.%d]) by mx.example.org; "
        "%s, %02d Nov 2026 %02d:%02d:%02d +0000" % (R.randrange(1, 254), "Mon", day, hour, minute, R.randrange(60)),
        "From: " + from_header,
        "To: user%d@example.org" % R.randrange(1000),
        "Subject: " + header_words(msg["subject"], charset),
        "Date: %s, %02d Nov 2026 %02d:%02d:%02d %s" % (
            R.choice(["Mon", "Tue", "Wed", "Thu", "Fri"]), day, hour, minute, R.randrange(60),
            R.choice(["+0000", "+0100", "-0500", "+0800", "+0900"])),
        "Message-ID: <%d.%d@%s>" % (R.randrange(10**9), R.randrange(10**6), msg["from_addr"].split("@")[1]),
        "MIME-Version: 1.0",
    ]
    return ("\r\n".join(headers) + "\r\n").encode() + body


# --------------------------------------------------------------------------- values


def digits(n, zero_ok=True):
    s = "".join(R.choice("0123456789") for _ in range(n))
    if not zero_ok and s[0] == "0":
        s = str(R.randrange(1, 10)) + s[1:]
    return s


def code_value(kind):
    if kind == "6":
        return digits(6)
    if kind == "6z":
        return "0" + digits(5)
    if kind in ("4", "5", "7", "8"):
        return digits(int(kind), zero_ok=False)
    if kind == "steam":
        return "".join(R.choice("23456789BCDFGHJKMNPQRTVWXY") for _ in range(5))
    if kind == "alnum6":
        s = [R.choice("ABCDEFGHJKLMNPQRSTUVWXYZ") for _ in range(6)]
        s[R.randrange(6)] = R.choice("23456789")
        return "".join(s)
    raise ValueError(kind)


def token():
    return "".join(R.choice("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(32))


# --------------------------------------------------------------------------- writing

OUT = []


def add(raw, expected, note, lang="en"):
    OUT.append((raw, dict(expected, lang=lang, note=note)))


def write_all():
    for name in os.listdir(HERE):
        if name.endswith(".eml") or name.endswith(".expected.json"):
            os.remove(os.path.join(HERE, name))
    for i, (raw, expected) in enumerate(OUT, start=1):
        with open(os.path.join(HERE, "%03d.eml" % i), "wb") as f:
            f.write(raw)
        with open(os.path.join(HERE, "%03d.expected.json" % i), "w", encoding="utf-8") as f:
            json.dump(expected, f, ensure_ascii=False, indent=2)
            f.write("\n")


if __name__ == "__main__":
    import templates

    import classes
    import handwritten

    templates.build(add, assemble, code_value, digits, token, R)
    handwritten.build(add)
    classes.build(add)
    write_all()
    print("wrote %d messages" % len(OUT))
