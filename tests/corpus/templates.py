"""Message templates for generate.py: verification codes, sign-in links and the everyday mail
that must yield neither (orders, shipping, invoices, meetings, promotions, bookings...)."""

import html as htmlmod

from phrases import LANGS

R = None  # set by build()

SAFE = {"©": "(c)", "’": "'", "“": '"', "”": '"', "—": "-", "–": "-", "…": "...", "₫": " VND", "€": "EUR",
        "\u00a0": " ", "•": "*"}


def fit(text, charset):
    """Replaces characters the charset cannot carry, as a sender's template engine would."""
    try:
        text.encode(charset)
        return text
    except UnicodeEncodeError:
        pass
    out = []
    for ch in text:
        try:
            ch.encode(charset)
            out.append(ch)
        except UnicodeEncodeError:
            out.append(SAFE.get(ch, "?"))
    return "".join(out)


def esc(s):
    return htmlmod.escape(s, quote=False)


def address_line():
    return R.choice([
        "Example Corp, 548 Market St #%d, San Francisco, CA 94104" % R.randrange(10000, 99999),
        "Example GmbH, Musterstraße %d, 10115 Berlin" % R.randrange(1, 200),
        "Example Ltd, %d Pine Road, London EC1A 1BB" % R.randrange(1, 300),
        "Example Inc., PO Box %d, Seattle, WA 98101-%04d" % (R.randrange(1000, 9999), R.randrange(10000)),
    ])


def year():
    return R.choice(["2024", "2025", "2026"])


def footer_html(p, svc, domain, links=True):
    parts = ['<table width="100%" cellpadding="0" cellspacing="0"><tr><td style="font-size:12px;color:#8a8a8a;padding:24px">']
    parts.append("<p>%s</p>" % esc(p.get("footer", "")))
    parts.append("<p>&copy; %s %s. %s</p>" % (year(), esc(svc), esc(address_line())))
    if links:
        items = [
            '<a href="https://%s/unsubscribe?u=%s" style="color:#8a8a8a">%s</a>' % (domain, R.randrange(10**8), esc(p["unsub"])),
            '<a href="https://%s/privacy" style="color:#8a8a8a">%s</a>' % (domain, esc(p["privacy"])),
            '<a href="https://help.%s/" style="color:#8a8a8a">%s</a>' % (domain, esc(p["help"])),
        ]
        R.shuffle(items)
        parts.append("<p>%s</p>" % " &middot; ".join(items))
    parts.append("</td></tr></table>")
    return "\n".join(parts)


def page(inner, p, svc, domain, preheader=None, top_links=True, head_css=""):
    css = (
        "body{margin:0;padding:0;background:#f4f4f7;font-family:Helvetica,Arial,sans-serif}"
        ".wrapper{width:100%%;background:#f4f4f7}.content{max-width:600px;margin:0 auto;background:#ffffff}"
        "a{color:#3869d4}.preheader{display:none!important;visibility:hidden;mso-hide:all;font-size:1px;"
        "line-height:1px;max-height:0;max-width:0;opacity:0;overflow:hidden}"
        "@media only screen and (max-width:600px){.content{width:100%%!important}.hide-mobile{display:none}}%s" % head_css
    )
    pre = ""
    if preheader:
        if R.random() < 0.5:
            pre = '<span class="preheader">%s</span>' % esc(preheader)
        else:
            pre = ('<div style="display:none;font-size:1px;color:#ffffff;line-height:1px;max-height:0px;'
                   'max-width:0px;opacity:0;overflow:hidden;">%s%s</div>' % (esc(preheader), "&#847; &zwnj; &nbsp; " * 12))
    top = ""
    if top_links:
        top = ('<tr><td align="center" style="padding:16px"><a href="https://%s/?utm_source=email&amp;utm_medium=logo">'
               '<img src="https://cdn.%s/img/logo.png" width="120" height="32" alt="%s" border="0"></a></td></tr>' % (domain, domain, esc(svc)))
        if R.random() < 0.3:
            top = ('<tr><td align="right" style="font-size:11px"><a href="https://%s/view/%s">View this email in your browser</a>'
                   '</td></tr>' % (domain, R.randrange(10**9))) + top
    pixel = '<img src="https://t.%s/open/%d.gif" width="1" height="1" alt="" style="display:block">' % (domain, R.randrange(10**9))
    return (
        '<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Transitional//EN" "http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd">\n'
        '<html xmlns="http://www.w3.org/1999/xhtml"><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1.0"><title>%s</title>'
        '<style type="text/css">%s</style>\n'
        '<!--[if mso]><style>table{border-collapse:collapse}</style><![endif]--></head>\n'
        '<body>%s<table class="wrapper" width="100%%" cellpadding="0" cellspacing="0" role="presentation"><tr><td align="center">\n'
        '<table class="content" width="600" cellpadding="0" cellspacing="0" role="presentation">%s\n'
        '<tr><td style="padding:32px 40px;color:#51545e;font-size:16px;line-height:1.6">\n%s\n</td></tr>\n'
        '<tr><td>%s</td></tr></table>%s\n</td></tr></table></body></html>'
        % (esc(svc), css, pre, top, inner, footer_html(p, svc, domain), pixel)
    )


def display_code(code, style):
    if style == "plain" or not code.isdigit():
        return esc(code)
    if style == "space" and len(code) == 6:
        return code[:3] + " " + code[3:]
    if style == "hyphen" and len(code) == 6:
        return code[:3] + "-" + code[3:]
    if style == "nbsp":
        return "&nbsp;".join(code)
    if style == "spans":
        return "".join('<span style="display:inline-block;padding:4px">%s</span>' % c for c in code)
    if style == "zwsp":
        return "&#8203;".join(code)
    return esc(code)


def code_block_html(p, code, layout, svc):
    """The part of an HTML body that shows the code, in one of the layouts templates use."""
    style = R.choice(["plain", "plain", "plain", "space", "hyphen", "nbsp", "spans", "zwsp"])
    shown = display_code(code, style)
    label = esc(p["label"].replace("{svc}", svc))
    intro = esc(p["intro"].replace("{svc}", svc))
    if layout == "cell":
        return ('<p>%s</p>\n<table align="center" cellpadding="0" cellspacing="0"><tr>'
                '<td align="center" bgcolor="#f0f2f5" style="font-size:%dpx;font-weight:bold;letter-spacing:%dpx;padding:16px 32px;'
                'font-family:Courier New,monospace;color:#222">%s</td></tr></table>' % (intro, R.choice([28, 32, 36]), R.choice([4, 6, 8]), shown))
    if layout == "class":
        return ('<p>%s</p><p>%s</p>\n<div class="otp-code">%s</div>' % (intro, label, shown))
    if layout == "inline":
        sentence = esc(p["inline"]).replace("{code}", "<strong>%s</strong>" % shown if R.random() < 0.5 else shown)
        return "<p>%s</p>" % sentence.replace("{svc}", esc(svc))
    if layout == "after":
        sentence = esc(p["after"]).replace("{code}", "<b>%s</b>" % shown).replace("{svc}", esc(svc))
        return "<p>%s</p>" % sentence
    if layout == "cells" and code.isdigit():
        cells = "".join('<td style="border:1px solid #ccc;font-size:28px;width:40px;text-align:center">%s</td>' % c for c in code)
        return '<p>%s</p><table cellspacing="6"><tr>%s</tr></table>' % (intro, cells)
    if layout == "h1":
        return "<p>%s</p><h1 style=\"text-align:center\">%s</h1>" % (label, shown)
    # label cell beside code cell
    return ('<table><tr><td style="padding:8px">%s</td><td style="padding:8px;font-size:22px"><b>%s</b></td></tr></table>' % (label, shown))


CODE_CSS = ".otp-code{font-size:34px;font-weight:700;letter-spacing:6px;text-align:center;padding:12px}"


def text_code(p, code, svc):
    shown = code
    if code.isdigit() and len(code) == 6 and R.random() < 0.2:
        shown = code[:3] + " " + code[3:]
    variant = R.choice(["label_line", "inline", "after"])
    lines = [p["greet"].replace("{svc}", svc), ""]
    if variant == "label_line":
        lines += [p["intro"].replace("{svc}", svc), "", "    " + shown, ""]
    elif variant == "inline":
        lines += [p["inline"].replace("{code}", shown).replace("{svc}", svc), ""]
    else:
        lines += [p["after"].replace("{code}", shown).replace("{svc}", svc), ""]
    lines += [p["expire"], "", p["footer"], "(c) %s %s" % (year(), svc)]
    return "\n".join(lines) + "\n"


def button_html(href, text, color="#3869d4"):
    kind = R.randrange(3)
    if kind == 0:
        return ('<table align="center" cellpadding="0" cellspacing="0"><tr><td align="center" bgcolor="%s" style="border-radius:4px">'
                '<a href="%s" target="_blank" style="display:inline-block;padding:12px 24px;color:#ffffff;text-decoration:none;font-weight:bold">%s</a>'
                '</td></tr></table>' % (color, esc(href).replace('"', "&quot;"), esc(text)))
    if kind == 1:
        return ('<p style="text-align:center"><a class="button button--blue" href="%s" style="background-color:%s;color:#fff;'
                'padding:10px 18px;border-radius:3px">%s</a></p>' % (esc(href), color, esc(text)))
    return '<div align="center"><a href="%s" class="btn-primary"><span style="font-size:16px">%s</span></a></div>' % (esc(href), esc(text))


def link_block_html(p, href, svc, domain):
    parts = ["<p>%s</p>" % esc(p["link_intro"].replace("{svc}", svc))]
    notme = '<p style="font-size:13px">%s? <a href="https://%s/security/not-me?t=%s">%s</a></p>' % (
        esc(p["notme"]), domain, R.randrange(10**9), esc(p["notme"]))
    if R.random() < 0.3:
        parts.insert(0, notme)
    parts.append(button_html(href, p["button"]))
    if R.random() < 0.5:
        parts.append('<p style="font-size:13px">%s<br><a href="%s">%s</a></p>' % (esc(p["fallback"]), esc(href), esc(href)))
    if R.random() < 0.4:
        parts.append(notme)
    return "\n".join(parts)


def text_link(p, href, svc):
    lines = [p["greet"].replace("{svc}", svc), "", p["link_intro"].replace("{svc}", svc), "", href, "",
             p["expire"], "", p["footer"], "%s: https://www.example.com/unsubscribe" % p["unsub"]]
    return "\n".join(lines) + "\n"


def verify_href(domain):
    return R.choice([
        "https://%s/verify-email?token=%s" % (domain, "{tok}"),
        "https://%s/confirm?code=%s&email=user%%40example.org" % (domain, "{tok}"),
        "https://%s/account/activate/%s" % (domain, "{tok}"),
        "https://links.%s/ls/click?upn=%s-2FVERIFY" % (domain, "{tok}"),
        "https://%s/auth/email/confirm/%s?lang=xx" % (domain, "{tok}"),
        "https://www.%s/r/%s" % (domain, "{tok}"),
    ])


def build(add, assemble, code_value, digits, token, rng):
    global R
    R = rng
    import english

    english.R = rng
    build_languages(add, assemble, code_value, token)
    english.build(add, assemble, code_value, digits, token)


def build_languages(add, assemble, code_value, token):
    for lang, p in LANGS.items():
        n_code = 3 if lang in ("zh-CN", "ja", "ko", "ru", "de", "fr", "zh-TW", "es", "pt", "tr") else 2
        for i in range(n_code):
            charset = p["charsets"][i % len(p["charsets"])]
            domain, name, service = R.choice(p["services"])
            svc = name
            code = code_value(R.choice(["6", "6", "6", "6z", "4", "8"]))
            subject = fit(R.choice(p["subj_code"]).replace("{svc}", svc), charset)
            layout = R.choice(["cell", "class", "inline", "after", "cells", "h1", "side"])
            structure = R.choice(["html", "alt", "alt_rev", "related", "mixed", "text"])
            preheader = p["label"] + " " + code if R.random() < 0.3 else p["intro"]
            inner = "<p>%s</p>\n%s\n<p>%s</p>" % (esc(p["greet"].replace("{svc}", svc)), code_block_html(p, code, layout, svc), esc(p["expire"]))
            html = fit(page(inner, p, svc, domain, preheader=preheader, head_css=CODE_CSS), charset)
            text = fit(text_code(p, code, svc), charset)
            msg = dict(subject=subject, from_name=svc, from_addr="no-reply@" + domain, text=text,
                       html=None if structure == "text" else html)
            if structure == "html":
                msg["text"] = None
            exp = {"code": code, "link": None}
            if service:
                exp["service"] = service
            add(assemble(msg, structure, charset), exp, "%s code, %s, %s, %s layout" % (lang, charset, structure, layout), lang)

        # Link
        charset = p["charsets"][-1 if len(p["charsets"]) > 1 and R.random() < 0.3 else 0]
        domain, name, service = R.choice(p["services"])
        href = verify_href(domain).replace("{tok}", token())
        structure = R.choice(["html", "alt", "alt_rev", "text", "related"])
        inner = "<p>%s</p>\n%s" % (esc(p["greet"].replace("{svc}", name)), link_block_html(p, href, name, domain))
        html = fit(page(inner, p, name, domain, preheader=p["link_intro"].replace("{svc}", name)), charset)
        msg = dict(subject=fit(p["subj_link"], charset), from_name=name, from_addr="noreply@" + domain,
                   text=fit(text_link(p, href, name), charset), html=html)
        if structure == "html":
            msg["text"] = None
        exp = {"code": None, "link": href}
        if service:
            exp["service"] = service
        add(assemble(msg, structure, charset), exp, "%s verification link, %s, %s" % (lang, charset, structure), lang)

        # Everyday mail in the language: an order that has shipped.
        o = p.get("order")
        if o:
            charset = p["charsets"][0]
            domain, name, _ = R.choice(p["services"])
            num = digits_str(R.choice([6, 8, 10]))
            trk = R.choice(["1Z%s" % digits_str(16), "SF%s" % digits_str(12), digits_str(12), "JD%s" % digits_str(14)])
            amt = R.choice(["1,299.00", "89.90", "12 450", "356", "2.499,00"])
            phone = R.choice(["400-820-%s" % digits_str(4), "+49 30 %s %s" % (digits_str(4), digits_str(4)),
                              "0120-%s-%s" % (digits_str(3), digits_str(3)), "1588-%s" % digits_str(4),
                              "8 800 %s-%s-%s" % (digits_str(3), digits_str(2), digits_str(2))])
            date = R.choice(["2026-11-24", "24.11.2026", "11/24/2026", "2026年11月24日"])
            rows = [o["line"].format(num=num), o["total"].format(amt=amt), o["tracking"].format(trk=trk),
                    o["date"].format(date=date), o["phone"].format(phone=phone)]
            track = "https://%s/orders/%s/tracking" % (domain, num)
            inner = "<p>%s</p><p>%s</p><table>%s</table>%s" % (
                esc(p["greet"].replace("{svc}", name)), esc(o["intro"]),
                "".join("<tr><td>%s</td></tr>" % esc(r) for r in rows), button_html(track, o["button"]))
            html = fit(page(inner, p, name, domain, preheader=o["intro"]), charset)
            text = fit("\n".join([p["greet"].replace("{svc}", name), o["intro"], ""] + rows + ["", track]) + "\n", charset)
            structure = R.choice(["html", "alt", "text"])
            msg = dict(subject=fit(o["subj"].format(num=num), charset), from_name=name, from_addr="order@" + domain,
                       text=text, html=html)
            add(assemble(msg, structure, charset), {"code": None, "link": None},
                "%s negative: shipped order with order, tracking, amount, phone, date" % lang, lang)


def digits_str(n):
    return "".join(R.choice("0123456789") for _ in range(n))
