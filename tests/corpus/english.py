"""English templates for generate.py: codes and links as well-known services lay them out, the
cases users report as bugs in OTP tools, and everyday mail that holds no code or link."""

from templates import (CODE_CSS, button_html, code_block_html, esc, page, text_code, text_link, verify_href,
                       year, address_line)

R = None

EN = [
    dict(greet="Hi there,", intro="Use the verification code below to finish signing in.", label="Your verification code:",
         inline="Your verification code is {code}. It expires in 10 minutes.", after="{code} is your {svc} verification code.",
         expire="This code expires in 10 minutes. If you didn't request it, you can safely ignore this email.",
         link_intro="Click the button below to verify your email address and finish setting up your {svc} account.",
         button="Verify email address", fallback="Or paste this link into your browser:", footer="You received this email because you signed up for {svc}.",
         unsub="Unsubscribe", privacy="Privacy Policy", help="Help Center", notme="This wasn't me"),
    dict(greet="Hello,", intro="Enter this one-time code to continue:", label="One-time code",
         inline="Here is your one-time passcode: {code}", after="{code} is your login code. Don't share it with anyone.",
         expire="For your security, never share this code. It will expire in 15 minutes.",
         link_intro="We received a request to sign in to {svc} using this email address. Click below to sign in.",
         button="Sign in to {svc}", fallback="If the button doesn't work, copy and paste this URL:", footer="{svc} Inc.",
         unsub="Manage email preferences", privacy="Privacy", help="Support", notme="Didn't request this?"),
    dict(greet="Hey!", intro="To confirm it's you, enter the following security code:", label="Security code:",
         inline="Your security code: {code}", after="{code} is your {svc} security code",
         expire="Code valid for 30 minutes. {svc} will never ask you for this code.",
         link_intro="Someone (hopefully you) asked to log in to {svc}. Use this magic link to log in:",
         button="Log in with magic link", fallback="Link not working? Copy this:", footer="Sent by {svc}",
         unsub="Unsubscribe from these emails", privacy="Privacy notice", help="Get help", notme="Not you?"),
    dict(greet="Welcome!", intro="Please enter the code below on the sign-up page:", label="Confirmation code",
         inline="Your confirmation code is {code}.", after="{code} — that's your code.",
         expire="If you did not sign up, ignore this message.",
         link_intro="You're almost there! Confirm your email to activate your {svc} account.",
         button="Confirm my account", fallback="Or open this link:", footer="{svc}, all rights reserved.",
         unsub="Unsubscribe", privacy="Privacy", help="FAQ", notme="Report this"),
    dict(greet="Hi,", intro="We received a request to reset your password. Your password reset code is:", label="Reset code:",
         inline="Your password reset code is {code}", after="{code} is your reset code.",
         expire="This code expires in 1 hour.",
         link_intro="We received a request to reset the password for your {svc} account.",
         button="Reset password", fallback="Or copy this link:", footer="{svc} Security",
         unsub="Unsubscribe", privacy="Privacy", help="Help", notme="I didn't request this"),
]

SERVICES = [
    ("github.com", "GitHub", "GitHub"), ("accountprotection.microsoft.com", "Microsoft account team", "Microsoft"),
    ("steampowered.com", "Steam", "Steam"), ("accounts.google.com", "Google", "Google"), ("id.apple.com", "Apple", "Apple"),
    ("amazon.com", "Amazon.com", "Amazon"), ("discord.com", "Discord", "Discord"), ("slack.com", "Slack", "Slack"),
    ("mail.notion.so", "Notion Team", "Notion"), ("binance.com", "Binance", "Binance"), ("paypal.com", "PayPal", "PayPal"),
    ("dropbox.com", "Dropbox", "Dropbox"), ("epicgames.com", "Epic Games", "Epic Games"), ("twitch.tv", "Twitch", "Twitch"),
    ("tm.openai.com", "OpenAI", "OpenAI"), ("stripe.com", "Stripe", "Stripe"), ("coinbase.com", "Coinbase", "Coinbase"),
    ("account.netflix.com", "Netflix", "Netflix"), ("spotify.com", "Spotify", "Spotify"), ("uber.com", "Uber", "Uber"),
    ("redditmail.com", "Reddit", "Reddit"), ("x.com", "X", "X"), ("mail.instagram.com", "Instagram", "Instagram"),
    ("facebookmail.com", "Facebook", "Facebook"), ("zoom.us", "Zoom", "Zoom"), ("figma.com", "Figma", "Figma"),
    ("vercel.com", "Vercel", "Vercel"), ("cloudflare.com", "Cloudflare", "Cloudflare"), ("linkedin.com", "LinkedIn", "LinkedIn"),
    ("mail.acmecloud.io", "Acme Cloud", None), ("notify.pixelforge.app", "PixelForge", None), ("hello.tidyly.co", "Tidyly", None),
]

SUBJECTS_CODE = ["Your {svc} verification code", "{code} is your {svc} code", "Your one-time code", "{svc} security code",
                 "Verify your email", "Your login code for {svc}", "[{svc}] Please verify your device", "Sign in to {svc}",
                 "Confirm your email address", "Your {svc} code is {code}"]


def fill(s, svc, code=""):
    return s.replace("{svc}", svc).replace("{code}", code)


def build(add, assemble, code_value, digits, token):
    generic_codes(add, assemble, code_value)
    generic_links(add, assemble, token)
    hard_cases(add, assemble, code_value, digits, token)
    negatives(add, assemble, digits, token)


def generic_codes(add, assemble, code_value):
    for i in range(40):
        domain, name, service = SERVICES[i % len(SERVICES)]
        p = {k: fill(v, name) if isinstance(v, str) and k not in ("inline", "after") else v for k, v in EN[i % len(EN)].items()}
        kind = R.choice(["6", "6", "6", "6z", "4", "5", "7", "8", "alnum6"])
        code = code_value(kind)
        layout = R.choice(["cell", "class", "inline", "after", "cells", "h1", "side"])
        structure = R.choice(["html", "alt", "alt_rev", "related", "mixed", "text", "alt"])
        subject = fill(R.choice(SUBJECTS_CODE), name, code)
        pre = R.choice([None, p["intro"], "Your code is %s" % code, "Don't share this code with anyone."])
        inner = "<p>%s</p>\n%s\n<p>%s</p>" % (esc(p["greet"]), code_block_html(p, code, layout, name), esc(fill(p["expire"], name)))
        if R.random() < 0.3:
            inner += button_html("https://%s/login" % domain, "Open %s" % name) if R.random() < 0.5 else ""
        html = page(inner, p, name, domain, preheader=pre, head_css=CODE_CSS)
        text = text_code(p, code, name)
        msg = dict(subject=subject, from_name=name, from_addr="noreply@" + domain, text=text, html=html)
        if structure == "html":
            msg["text"] = None
        if structure == "text":
            msg["html"] = None
        exp = {"code": code, "link": None}
        if service:
            exp["service"] = service
        charset = R.choice(["utf-8", "us-ascii", "iso8859_1"]) if code.isascii() else "utf-8"
        add(assemble(msg, structure, charset), exp, "en code %s, %s layout, %s" % (kind, layout, structure))


def generic_links(add, assemble, token):
    for i in range(24):
        domain, name, service = SERVICES[(i * 7 + 3) % len(SERVICES)]
        p = {k: fill(v, name) if isinstance(v, str) else v for k, v in EN[(i + 2) % len(EN)].items()}
        href = verify_href(domain).replace("{tok}", token())
        structure = R.choice(["html", "alt", "alt_rev", "text", "related"])
        subject = R.choice(["Verify your email address", "Confirm your %s account" % name, "Your sign-in link",
                            "Sign in to %s" % name, "Reset your %s password" % name, "Activate your account",
                            "Welcome to %s! Please confirm your email" % name, "Your magic link"])
        from templates import link_block_html
        inner = "<p>%s</p>\n%s" % (esc(p["greet"]), link_block_html(p, href, name, domain))
        if R.random() < 0.3:
            inner = ('<p><a href="https://%s/">%s</a> &bull; <a href="https://%s/blog">Blog</a></p>' % (domain, name, domain)) + inner
        html = page(inner, p, name, domain, preheader=p["link_intro"])
        msg = dict(subject=subject, from_name=name, from_addr="no-reply@" + domain, text=text_link(p, href, name), html=html)
        if structure == "html":
            msg["text"] = None
        if structure == "text":
            msg["html"] = None
        exp = {"code": None, "link": href}
        if service:
            exp["service"] = service
        add(assemble(msg, structure, "utf-8"), exp, "en link, %s, %s" % (p["button"], structure))


def simple(add, assemble, subject, name, domain, html=None, text=None, code=None, link=None, service=None, note="",
           charset="utf-8"):
    structure = "alt" if html and text else ("html" if html else "text")
    msg = dict(subject=subject, from_name=name, from_addr="noreply@" + domain, text=text, html=html)
    exp = {"code": code, "link": link}
    if service:
        exp["service"] = service
    add(assemble(msg, structure, charset), exp, note)


P0 = EN[0]


def hard_cases(add, assemble, code_value, digits, token):
    """Cases from bug reports against OTP tools: the wrong number picked, or none."""
    c = code_value("6")
    html = page("<p>Your Steam account: Access from new computer</p><p>Here is the Steam Guard code you need to login to account demo_user:</p>"
                '<table><tr><td style="font-size:24px;font-weight:bold;padding:12px">%s</td></tr></table>'
                "<p>This email was generated because of a login attempt from a web or mobile device located at 203.0.113.7 (DE).</p>"
                "<p>The login attempt included your correct account name and password.</p>" % "4K7XQ", P0, "Steam", "steampowered.com")
    simple(add, assemble, "Your Steam account: Access from new computer", "Steam", "steampowered.com", html=html,
           code="4K7XQ", service="Steam", note="Steam Guard: five-character alphanumeric code; IP address and year nearby")

    c = code_value("7")
    text = ("Microsoft account\n\nSecurity code\n\nPlease use the following security code for the Microsoft account ab*****@example.org.\n\n"
            "Security code: %s\n\nIf you don't recognize the Microsoft account ab*****@example.org, you can click https://account.live.com/dp?token=x to remove your email address from that account.\n\n"
            "Thanks,\nThe Microsoft account team\n" % c)
    simple(add, assemble, "Microsoft account security code", "Microsoft account team", "accountprotection.microsoft.com",
           text=text, code=c, service="Microsoft", note="Microsoft: seven-digit security code; masked address; removal link is not the action")

    c = code_value("6")
    simple(add, assemble, "Your Apple ID Code", "Apple", "id.apple.com",
           text="Your Apple ID code is: %s. Don't share it with anyone.\n\nApple Support: 1-800-275-2273\nOne Apple Park Way, Cupertino, CA 95014\n" % c,
           code=c, service="Apple", note="phone number and ZIP code in the same text as the code")

    c = code_value("6")
    text = ("Your One Time Password (OTP) for transaction of INR 1,299.00 at AMAZON on 12/05/2026 is %s.\n"
            "Valid for 10 minutes. Card ending 4821. Do not share this OTP with anyone.\nCall 1800 123 4567 if not initiated by you.\n" % c)
    simple(add, assemble, "OTP for your transaction", "HDFC Demo Bank", "alerts.hdfc-demo.in", text=text, code=c,
           note="bank OTP among amount, date, card last-4 and a phone number")

    c = code_value("6")
    text = "Your order #%s is almost done.\nYour verification code is %s.\nOrder total: $54.20\n" % (digits(6, False), c)
    simple(add, assemble, "Verify to complete your order", "Shop Demo", "shop-demo.com", text=text, code=c,
           note="an order number before the code in the same mail")

    c = code_value("6z")
    html = page("<p>Your verification code is</p><p style=\"font-size:30px\"><b>%s</b></p><p>Expires in 1440 minutes.</p>" % c, P0, "Acme", "acme-demo.io")
    simple(add, assemble, "Verification code", "Acme", "acme-demo.io", html=html, code=c,
           note="leading zero kept; 'expires in 1440 minutes' is not a code")

    c = code_value("6")
    simple(add, assemble, "%s is your Instagram code" % c, "Instagram", "mail.instagram.com",
           html=page('<p>Hi demo_user,</p><p>Someone tried to log in to your Instagram account. If this was you, please use the following code to confirm your identity:</p>'
                     '<p style="font-size:32px;font-weight:600">%s</p><p>If this wasn\'t you, please <a href="https://instagram.com/accounts/password/reset/">reset your password</a>.</p>' % c,
                     P0, "Instagram", "instagram.com"),
           code=c, service="Instagram", note="'If this wasn't you, reset your password' link is not the action")

    c = code_value("6")
    simple(add, assemble, "Your verification code", "Acme", "acme-demo.io",
           html=page('<div style="color:#333333;background:#ffffff">Your verification code: <span style="color:#112233">%s</span></div><p>Theme colour 445566 in our new app.</p>' % c, P0, "Acme", "acme-demo.io"),
           code=c, note="hex colours as text near the code")

    c = code_value("6")
    href = "https://www.notion.so/loginwithemail?token=%s" % token()
    simple(add, assemble, "Sign-in code", "Notion Team", "mail.notion.so",
           text="Your sign-in code is %s\n\nOr sign in with this link: %s\n" % (c, href),
           code=c, link=href, service="Notion", note="code and a magic sign-in link in one text mail")

    # The code sits in the link's query string and in the text.
    c = code_value("6")
    href = "https://auth.demo-app.dev/verify?code=%s&uid=%s" % (c, digits(8))
    simple(add, assemble, "Confirm your email", "Demo App", "demo-app.dev",
           html=page('<p>Your confirmation code is <b>%s</b>.</p>%s' % (c, button_html(href, "Confirm email")), P0, "Demo App", "demo-app.dev"),
           code=c, link=href, note="code in text and in the verify link's query")

    c = code_value("6")
    simple(add, assemble, "Your code", "Telegram", "telegram.org",
           text="Your login code: %s\nDo not give this code to anyone, even if they say they are from Telegram!\n\n"
                "This code can be used to log in to your Telegram account. We never ask it for anything else.\n" % c[:5],
           code=c[:5], service="Telegram", note="five-digit login code")

    c = code_value("6")
    simple(add, assemble, "Google verification code", "Google", "accounts.google.com",
           text="G-%s is your Google verification code.\n" % c, code=c, service="Google",
           note="G- prefix: the user types the digits")

    c = code_value("alnum6")
    disp = c[:3] + "-" + c[3:]
    simple(add, assemble, "Slack confirmation code: %s" % disp, "Slack", "slack.com",
           html=page('<h1>Confirm your email address</h1><p>Your confirmation code is below — enter it in your open browser window and we\'ll help you get signed in.</p>'
                     '<div style="background:#f5f4f5;font-size:30px;padding:24px;text-align:center">%s</div>' % disp, P0, "Slack", "slack.com"),
           code=c, service="Slack", note="hyphenated alphanumeric code; separator removed")

    c = code_value("8")
    simple(add, assemble, "[GitHub] Please verify your device", "GitHub", "github.com",
           text=("Hey demo!\n\nA sign in attempt requires further verification because we did not recognize your device. "
                 "To complete the sign in, enter the verification code on the unrecognized device.\n\n"
                 "Device: Chrome on Windows\nVerification code: %s\n\nIf you did not attempt to sign in to your account, your password may be compromised. "
                 "Visit https://github.com/settings/security to create a new, strong password for your GitHub account.\n\nThanks,\nThe GitHub Team\n" % c),
           code=c, service="GitHub", note="eight-digit code; security settings link is not a verification link")

    c = code_value("6")
    simple(add, assemble, "Your code", "Acme", "acme-demo.io",
           html=page("<p>Enter this code:</p><p style=\"font-size:28px;letter-spacing:8px\">%s</p>" % "&#8203;".join(c), P0, "Acme", "acme-demo.io"),
           code=c, note="zero-width spaces between the digits")

    c = code_value("6")
    simple(add, assemble, "Your Epic Games security code", "Epic Games", "epicgames.com",
           html=page("<p>Your security code is:</p><table><tr>%s</tr></table><p>© 2026 Epic Games, Inc. 620 Crossroads Blvd, Cary, NC 27518</p>"
                     % "".join("<td style=\"font-size:30px;padding:4px\">%s</td>" % d for d in c), P0, "Epic Games", "epicgames.com"),
           code=c, service="Epic Games", note="one digit per cell; ZIP and year in footer")

    c = code_value("4")
    simple(add, assemble, "Your PIN", "Demo Pay", "demopay-demo.com",
           text="Your verification PIN is %s. It expires in 5 minutes.\n" % c, code=c, note="four-digit PIN")

    c = code_value("6")
    simple(add, assemble, "Your Amazon verification code", "Amazon.com", "amazon.com",
           html=page("<p>To verify your identity, please use the following code:</p><p style=\"font-size:24px\"><strong>%s</strong></p>"
                     "<p>Amazon takes your account security very seriously. Amazon will never email you and ask you to disclose or verify your Amazon password, credit card, or banking account number.</p>"
                     "<p>We hope to see you again soon.</p>" % c, P0, "Amazon", "amazon.com"),
           code=c, service="Amazon", note="warning paragraph with 'account number' after the code")

    c = code_value("6")
    simple(add, assemble, "Your Binance verification code", "Binance", "binance.com",
           text="[Binance] Verification code: %s. You are trying to log in to your account. The code is valid for 30 minutes.\n"
                "Time: 2026-11-21 08:14:22 (UTC)\nIP: 198.51.100.24\n" % c, code=c, service="Binance",
           note="timestamp and IP address after the code")

    # Codes in both parts that differ in layout; alternative with text first.
    c = code_value("6")
    simple(add, assemble, "Code for Discord", "Discord", "discord.com",
           html=page("<p>Here is your Discord verification code:</p><h2>%s</h2>" % c, P0, "Discord", "discord.com"),
           text="Here is your Discord verification code: %s\n" % c, code=c, service="Discord", note="alternative: same code in both parts")

    # A magic link whose first links are a logo and 'view in browser', and 'this wasn't me' comes before the button.
    href = "https://slack.com/z-app-%s?magic=%s" % (digits(8), token())
    html = page('<p><a href="https://slack.com/help/wasnt-me?t=1">This wasn\'t me</a></p><p>Confirm your email to sign in.</p>%s' % button_html(href, "Confirm sign-in"),
                P0, "Slack", "slack.com")
    simple(add, assemble, "Confirm your sign-in", "Slack", "slack.com", html=html, link=href, service="Slack",
           note="'this wasn't me' link before the button")

    href = "https://www.example-app.io/magic?email=user%40example.org&token=" + token()
    simple(add, assemble, "Your magic link", "Example App", "example-app.io",
           text="Hi,\n\nClick the link below to sign in to Example App:\n%s\n\nThis link expires in 15 minutes.\nTo stop receiving these emails, visit https://www.example-app.io/unsubscribe\n" % href,
           link=href, note="text-only magic link before an unsubscribe URL")

    href = "https://accounts.demo-forum.org/activate.php?uid=%s&key=%s" % (digits(6), token())
    simple(add, assemble, "Activate your forum account", "Demo Forum", "demo-forum.org",
           html=page('<p>Thanks for registering. To activate your account, <a href="%s">click here</a>.</p><p>Your user ID is %s.</p>' % (esc(href), digits(6, False)),
                     P0, "Demo Forum", "demo-forum.org"),
           link=href, note="'click here' link whose sentence says what it does; user ID is not a code")


def negatives(add, assemble, digits, token):
    def amt():
        return R.choice(["$1,299.00", "$54.20", "€89,90", "£12.50", "$2,450", "USD 320.00"])

    for i in range(6):
        num = digits(R.choice([6, 7, 8]), False)
        html = page("<p>Thanks for your order!</p><table><tr><td>Order number</td><td><b>%s</b></td></tr><tr><td>Order date</td><td>Nov %d, 2026</td></tr>"
                    "<tr><td>Total</td><td>%s</td></tr></table><p>Questions? Call us at (555) %s-%s.</p>%s"
                    % (num, R.randrange(1, 28), amt(), digits(3), digits(4), button_html("https://shop-demo.com/orders/%s" % num, "View your order")),
                    P0, "Shop Demo", "shop-demo.com")
        simple(add, assemble, R.choice(["Your order #%s is confirmed" % num, "Order confirmation", "Thanks for your purchase!"]),
               "Shop Demo", "shop-demo.com", html=html, note="order confirmation: order number in its own cell")

    for i in range(5):
        trk = R.choice(["1Z999AA1%s" % digits(10), "9400 1000 0000 %s %s" % (digits(4), digits(4)), "TBA%s" % digits(12), digits(12)])
        text = ("Your package is on the way!\n\nTracking number: %s\nCarrier: UPS\nEstimated delivery: Tuesday, November %d\n"
                "Order #%s\n\nTrack your package: https://track-demo.com/t/%s\n" % (trk, R.randrange(1, 28), digits(7), digits(10)))
        simple(add, assemble, "Shipped: your order is on its way", "Shop Demo", "ship-demo.com", text=text,
               note="shipping notification with tracking number")

    for i in range(4):
        inv = "INV-%s" % digits(6)
        html = page("<h2>Invoice %s</h2><p>Account number: %s</p><p>Amount due: %s</p><p>Due date: 12/%02d/2026</p><p>Customer ID: %s</p>%s"
                    % (inv, digits(8), amt(), R.randrange(1, 28), digits(6), button_html("https://billing-demo.com/pay/%s" % digits(8), "Pay invoice")),
                    P0, "Billing Demo", "billing-demo.com")
        simple(add, assemble, "Your invoice %s" % inv, "Billing Demo", "billing-demo.com", html=html, note="invoice with amounts and account number")

    for i in range(5):
        mid = "%s %s %s" % (digits(3, False), digits(4), digits(4))
        pw = digits(6, False)
        kind = i % 3
        if kind == 0:
            text = ("Demo User is inviting you to a scheduled Zoom meeting.\n\nTopic: Weekly sync\nTime: Nov 24, 2026 10:00 AM Pacific Time\n\n"
                    "Join Zoom Meeting\nhttps://us02web.zoom.us/j/%s?pwd=%s\n\nMeeting ID: %s\nPasscode: %s\n\nOne tap mobile\n+16699006833,,%s#,,,,*%s# US\n\n"
                    "Dial by your location\n        +1 669 900 6833 US (San Jose)\n        +1 646 558 8656 US (New York)\n" % (mid.replace(" ", ""), token(), mid, pw, mid.replace(" ", ""), pw))
        elif kind == 1:
            text = ("Microsoft Teams meeting\nJoin on your computer, mobile app or room device\nClick here to join the meeting\n"
                    "Meeting ID: %s\nPasscode: %s\n\nOr call in (audio only)\n+1 323-555-0199,,%s#   United States, Los Angeles\n"
                    "Phone Conference ID: %s %s %s#\n" % (mid, token()[:6], digits(9), digits(3), digits(3), digits(3)))
        else:
            text = ("Join with Google Meet\nmeet.google.com/abc-defg-hij\n\nJoin by phone\n(US) +1 650-555-0134 PIN: %s %s %s#\n\n"
                    "Invitation from Google Calendar\nWeekly planning\nMonday Nov 24, 2026 ⋅ 9:30am – 10:00am\n" % (digits(3), digits(3), digits(3)))
        simple(add, assemble, "Invitation: Weekly sync @ Mon Nov 24, 2026", "Demo User", "calendar-demo.com", text=text,
               note="meeting invitation: meeting ID, passcode and dial-in PIN are not codes")

    promo = [
        ("Use code SAVE20 at checkout and get 20% off your next order!", "SAVE20"),
        ("Your exclusive code: WELCOME15 — 15% off everything. Shop now.", "WELCOME15"),
        ("Black Friday deal: promo code BF2026 gives you $30 off orders over $150.", "BF2026"),
        ("Redeem voucher code GIFT5000 before Dec 31.", "GIFT5000"),
    ]
    for text_line, _ in promo:
        html = page("<h1>Big savings this week</h1><p style=\"font-size:22px\">%s</p>%s<p>Sale ends Sunday. Offer valid on orders over $50.</p>"
                    '<p><a href="https://shop-demo.com/account">Log in</a> to see your rewards.</p>'
                    % (esc(text_line), button_html("https://shop-demo.com/sale?utm_campaign=bf", "Shop now")), P0, "Shop Demo", "shop-demo.com")
        simple(add, assemble, R.choice(["Don't miss out: 20% off", "Your weekend deal is here", "Last chance: sale ends tonight"]),
               "Shop Demo", "news.shop-demo.com", html=html, note="promotion: promo, coupon and voucher codes; a footer 'Log in' link")

    for i in range(3):
        text = ("Card ending in %s\n\nA purchase of %s was made at COFFEE DEMO on 11/%02d/2026 at 8:14 AM.\n"
                "Available balance: $%s.%s\nIf you don't recognize this transaction, call us at 1-800-555-%s.\n"
                % (digits(4), amt(), R.randrange(1, 28), digits(4, False), digits(2), digits(4)))
        simple(add, assemble, "Transaction alert", "Demo Bank", "alerts.demobank-demo.com", text=text,
               note="bank alert: card last-4, amount, balance, phone")

    for i in range(3):
        ref = "".join(R.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(6))
        html = page("<h2>Your flight is booked</h2><p>Booking reference: <b style=\"font-size:24px\">%s</b></p><p>Flight DL %s · Departure Nov 24, 2026 07:45 · Seat 23C</p>"
                    "<p>Your confirmation code is %s. Check-in opens 24 hours before departure.</p>%s"
                    % (ref, digits(4, False), ref, button_html("https://airline-demo.com/trips/%s" % ref, "Manage booking")),
                    P0, "Demo Air", "airline-demo.com")
        simple(add, assemble, "Your trip confirmation - %s" % ref, "Demo Air", "airline-demo.com", html=html,
               note="flight booking: booking reference and 'confirmation code' of a trip")

    for i in range(3):
        t = digits(5, False)
        simple(add, assemble, "[Ticket #%s] Your request has been updated" % t, "Demo Support", "support-demo.com",
               text="Hello,\n\nTicket #%s has a new reply from our team.\nCase number: %s\nReference: %s\n\nReply to this email to add a comment.\n" % (t, t, digits(8)),
               note="support ticket update: ticket and case numbers")

    html = page("<p>We noticed a new sign-in to your account.</p><p>Device: Chrome on Windows<br>Location: Berlin, Germany<br>Time: November 21, 2026 at 10:42</p>"
                '<p>If this was you, you can ignore this message. If not, <a href="https://account-demo.com/security/secure">secure your account</a>.</p>'
                '%s' % button_html("https://account-demo.com/security/activity", "Check activity"), P0, "Demo Account", "account-demo.com")
    simple(add, assemble, "New sign-in to your account", "Demo Account", "account-demo.com", html=html,
           note="security alert without code: neither 'secure your account' nor 'check activity' is the action")

    html = page("<p>Your password was changed on November 21, 2026.</p><p>If you didn't change your password, "
                '<a href="https://account-demo.com/reset">reset your password</a> immediately.</p>', P0, "Demo Account", "account-demo.com")
    simple(add, assemble, "Your password was changed", "Demo Account", "account-demo.com", html=html,
           note="password changed notice; the reset link is for 'if this wasn't you'")

    for i in range(3):
        html = page("<h1>This week at Demo Weekly</h1><p>Over 12,000 readers and 4500 new members joined in 2026.</p>"
                    "<p>Read: How two-factor codes keep you safe, and why you should never share your verification code.</p>"
                    '<p><a href="https://weekly-demo.com/posts/2fa">Read more</a></p><p><a href="https://weekly-demo.com/login">Log in</a> to comment.</p>',
                    P0, "Demo Weekly", "weekly-demo.com")
        simple(add, assemble, "Demo Weekly #%s: security tips" % digits(3, False), "Demo Weekly", "weekly-demo.com", html=html,
               note="newsletter that talks about codes but has none")

    simple(add, assemble, "Reminder: dentist appointment", "Demo Clinic", "clinic-demo.com",
           text="Your appointment is on Monday, November 24, 2026 at 14:30.\nAddress: 1200 Main St, Suite 400, Springfield, IL 62704\nPhone: 217-555-0142\n",
           note="appointment reminder: date, time, address and phone")
    simple(add, assemble, "You have 5 new notifications", "Demo Social", "social-demo.com",
           html=page("<p>You have 5 new notifications and 12 messages.</p><p>Jane and 1234 others liked your post.</p>", P0, "Demo Social", "social-demo.com"),
           note="social notification with counts")
    simple(add, assemble, "Welcome to Demo Cloud", "Demo Cloud", "cloud-demo.com",
           text="Welcome aboard!\n\nYour account ID is %s.\nYour customer number: %s\nPlan: Pro (renews 2027-11-21)\n" % (digits(8, False), digits(7, False)),
           note="welcome mail with account ID and customer number")
    simple(add, assemble, "Your subscription renews soon", "Demo Stream", "stream-demo.com",
           html=page("<p>Your plan renews in 7 days for $9.99/month.</p><p>Expires in 10 days unless renewed.</p>%s"
                     % button_html("https://stream-demo.com/account/plan", "Manage subscription"), P0, "Demo Stream", "stream-demo.com"),
           note="renewal notice with amounts and 'expires in'")
    simple(add, assemble, "Re: [demo/repo] Fix parser crash (PR #4821)", "GitHub", "github.com",
           text="@demo approved this pull request.\n\nIn src/parse.rs:\n> line 1024\n\nView it on GitHub: https://github.com/demo/repo/pull/4821#pullrequestreview-%s\n" % digits(9),
           service="GitHub", note="pull request notification: PR number and line numbers")
    simple(add, assemble, "Your receipt from Demo Taxi", "Demo Taxi", "taxi-demo.com",
           text="Thanks for riding with us.\nTotal: $23.40\nTrip ID: %s\nTransaction ID: %s\nPickup 08:12 - Dropoff 08:37\n" % (token()[:8].upper(), digits(10)),
           note="receipt with trip and transaction IDs")
    simple(add, assemble, "Two-factor authentication enabled", "Demo Account", "account-demo.com",
           text="Two-factor authentication is now enabled on your account.\nStore your recovery codes somewhere safe.\nChanged on 2026-11-21 at 09:15 UTC from IP 203.0.113.9.\n",
           note="2FA enabled notice without a code")
    simple(add, assemble, "Your delivery is scheduled", "Demo Grocer", "grocer-demo.com",
           text="Delivery window: 10:00-12:00\nDelivery address: 42 Elm Street, Apt 7, Boston, MA 02118\nDriver phone: +1 617 555 0187\nOrder 30215874\n",
           note="delivery details: address, ZIP, phone, order number")
