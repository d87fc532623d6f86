"""Hand-written cases of the kind users report against OTP tools: a grouped code, a code
beside a magic link, a courier's delivery code in an order mail, a meeting passcode, a
double opt-in, a card's last four beside a real code, full-width digits. Sent as 8bit UTF-8
with raw (unencoded) UTF-8 headers, as some senders do."""

CASES = [
    # (subject, from, content type, body, code, link, service)
    ("Your one-time passcode", "Okta <noreply@okta.com>", "text/plain", "Hi Jane,\n\nYour one-time passcode is\n\n   739 104\n\nThis passcode will expire in 5 minutes.\n", "739104", None, "Okta"),
    ("Confirm your email", "Linear <notifications@linear.app>", "text/html", "<p>Your login code is</p><div style='font-family:monospace;font-size:24px'>XH4-9KD</div><p>Or click <a href='https://linear.app/auth/magic?token=abcDEF123456789xyzABC'>this magic link</a> to sign in.</p>", "XH49KD", "https://linear.app/auth/magic?token=abcDEF123456789xyzABC", None),
    ("Order 88213 confirmed", "Shop <orders@shop.example>", "text/plain", "Thanks! Order 88213 confirmed. Total $120.00. Delivery code for the courier: 4417.\n", None, None, None),
    ("Your Zoom meeting is starting", "Zoom <no-reply@zoom.us>", "text/plain", "Your meeting starts in 10 minutes.\nMeeting ID: 845 1234 9981\nPasscode: 551201\n", None, None, "Zoom"),
    ("Zoom verification code", "Zoom <no-reply@zoom.us>", "text/plain", "Your Zoom verification code is 092817. This code expires in 10 minutes.\n", "092817", None, "Zoom"),
    ("Security alert", "Google <no-reply@accounts.google.com>", "text/html", "<p>New sign-in on Windows</p><p>We noticed a new sign-in to your Google Account on a Windows device. If this was you, you don't need to do anything. If not, we'll help you secure your account.</p><a href='https://accounts.google.com/AccountChooser?Email=x&amp;continue=https://myaccount.google.com/alert/nt/1700000000000'>Check activity</a>", None, None, "Google"),
    ("验证您的邮箱", "某某云 <noreply@cloud.example.cn>", "text/html", "<p>您好！</p><p>您的注册验证码为：<span style='color:red;font-size:20px'>662019</span>，有效期30分钟。</p><p>客服热线：400-123-4567</p>", "662019", None, None),
    ("Ваш код", "Сервис <noreply@service.example.ru>", "text/plain", "Здравствуйте!\nКод для входа: 4471\nНикому не сообщайте этот код.\nСлужба поддержки: 8 800 555-35-35\n", "4471", None, None),
    ("Please confirm your subscription", "Newsletter <news@blog.example.com>", "text/html", "<p>Thanks for signing up for our newsletter!</p><p><a href='https://blog.example.com/subscribe/confirm?id=a8f9d7e6c5b4a3' style='background:#333;color:#fff;padding:10px'>Yes, subscribe me to this list</a></p><p><a href='https://blog.example.com/unsubscribe'>Unsubscribe</a></p>", None, "https://blog.example.com/subscribe/confirm?id=a8f9d7e6c5b4a3", None),
    ("Your receipt #2291-4410", "Paddle <help@paddle.com>", "text/plain", "Receipt #2291-4410\nAmount paid: $29.00\nDate paid: 21 Nov 2026\nPayment method: Visa - 4242\n", None, None, None),
    ("Welcome to Acme!", "Acme <hi@acme.example>", "text/html", "<h1>Welcome!</h1><p>We're glad you're here. Get started by exploring your dashboard.</p><a href='https://app.acme.example/dashboard' style='background:#00f;color:#fff;padding:12px'>Go to dashboard</a>", None, None, None),
    ("Verify your email address", "Figma <support@figma.com>", "text/html", "<p>Hi there,</p><p>Please verify your email address by clicking the button below.</p><table><tr><td bgcolor='#18A0FB'><a href='https://www.figma.com/verify?token=3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c'>Verify email</a></td></tr></table><p>Figma, Inc. 760 Market St, San Francisco, CA 94102</p>", None, "https://www.figma.com/verify?token=3f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c", "Figma"),
    ("Your code", "PlayStation <reply@txn-email.playstation.com>", "text/html", "<p>Your verification code:</p><table><tr><td style='font-size:28px'>9</td><td style='font-size:28px'>0</td><td style='font-size:28px'>4</td><td style='font-size:28px'>4</td><td style='font-size:28px'>1</td><td style='font-size:28px'>2</td></tr></table>", "904412", None, "PlayStation"),
    ("Your flight confirmation ABC123", "Airline <noreply@air.example>", "text/plain", "Confirmation code: XK9P2Q\nFlight UA 1234 departs 07:45 from SFO.\nSeat 14C. Boarding pass available at check-in.\n", None, None, None),
    ("Your security code", "Chase <no.reply.alerts@chase.com>", "text/plain", "Your Chase security code is 48213910. Don't share it. We'll never call you to ask for it. Account ending in 4421.\n", "48213910", None, None),
    ("2-Step Verification", "Acme <no-reply@acme.example>", "text/plain", "Enter the code 7713 to complete 2-step verification. Reference: 88120931\n", "7713", None, None),
    ("Reset your password", "Acme <no-reply@acme.example>", "text/plain", "Someone requested a password reset for your account.\nReset it here: https://acme.example/reset/9f8e7d6c5b4a39281706\nIf you didn't request this, ignore this email.\n", None, "https://acme.example/reset/9f8e7d6c5b4a39281706", None),
    ("Black Friday: 40% off", "Store <deals@store.example>", "text/html", "<p style='font-size:30px'><b>BLACKFRIDAY40</b></p><p>Use this code at checkout for 40% off. Offer ends 11/28.</p>", None, None, None),
    ("Your verification code", "WhatsApp <noreply@whatsapp.com>", "text/plain", "Your WhatsApp code: 412-779\nYou can also tap on this link to verify your phone: v.whatsapp.com/412779\nDon't share this code with others\n", "412779", None, "WhatsApp"),
    ("認証コード", "Example <no-reply@example.jp>", "text/plain", "認証コード：８３９２０１\n有効期限：2026年11月21日 10:30\nお問い合わせ：03-1234-5678\n", "839201", None, None),
]

NON_ENGLISH = {"验证您的邮箱": "zh-CN", "Ваш код": "ru", "認証コード": "ja"}


def build(add):
    for subject, sender, ctype, body, code, link, service in CASES:
        raw = ("From: %s\r\nSubject: %s\r\nDate: Sat, 21 Nov 2026 10:00:00 +0000\r\nMessage-ID: <hand-%d@example.org>\r\n"
               "MIME-Version: 1.0\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s"
               % (sender, subject, len(subject), ctype, body.replace("\n", "\r\n")))
        exp = {"code": code, "link": link}
        if service:
            exp["service"] = service
        add(raw.encode("utf-8"), exp, "hand-written: " + subject, NON_ENGLISH.get(subject, "en"))
