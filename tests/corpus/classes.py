"""One or more cases for each class of failure seen on mail the team did not write: hidden text
computed by CSS inheritance, the code shapes real generators use, short SMS-style messages,
parts that disagree, links in plain text and in any language, and look-alikes (user names,
amounts). Written by the team; several languages per class. Sent as 8bit UTF-8."""

HEAD = ("From: %s\r\nTo: user@example.org\r\nSubject: %s\r\nDate: Thu, 03 Dec 2026 09:00:00 +0000\r\n"
        "Message-ID: <class-%d@example.org>\r\nMIME-Version: 1.0\r\n")


def single(ctype, body):
    return "Content-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s" % (ctype, body)


def nested(html, text, html_first=True):
    """multipart/mixed holding multipart/alternative, as some senders nest them."""
    parts = [("text/html", html), ("text/plain", text)]
    if not html_first:
        parts.reverse()
    inner = "".join("--alt\r\nContent-Type: %s; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n%s\r\n" % p
                    for p in parts)
    return ("Content-Type: multipart/mixed; boundary=\"mix\"\r\n\r\n--mix\r\n"
            "Content-Type: multipart/alternative; boundary=\"alt\"\r\n\r\n%s--alt--\r\n--mix--\r\n" % inner)


def html(body):
    return single("text/html", "<html><body>%s</body></html>" % body)


def text(body):
    return single("text/plain", body)


FONT0 = ("<div style=\"font-size:0;line-height:0\"><div style=\"display:inline-block;font-size:15px\">%s</div>"
         "<div style=\"display:inline-block;font-size:30px;font-weight:bold\">%s</div></div>")

CASES = [
    # (class, lang, subject, from, body, code, link)
    ("hidden: zero-size wrapper, sized children", "en", "Your sign-in code", "Northwind <auth@northwind.example>",
     html("<div style=\"display:none;max-height:0;overflow:hidden\">Sign in to Northwind</div>"
          + FONT0 % ("Your sign-in code is", "318 604") + "<p style=\"font-size:13px\">It expires in 10 minutes.</p>"),
     "318604", None),
    ("hidden: 1px white preheader, mso-hide, zero-size wrapper", "de", "Ihr Bestätigungscode", "Kontor <noreply@kontor.example>",
     html("<span style=\"mso-hide:all;font-size:1px;color:#ffffff\">Kundennummer 55512345</span>"
          + FONT0 % ("Ihr Bestätigungscode:", "740 215") + "<p>Der Code ist 15 Minuten gültig.</p>"),
     "740215", None),
    ("hidden: a zero-opacity decoy never wins", "fr", "Votre code de vérification", "Atelier <compte@atelier.example>",
     html("<div style=\"opacity:0\">Code de vérification : 000000</div>"
          "<p>Votre code de vérification :</p><p style=\"font-size:26px\"><b>582 931</b></p>"),
     "582931", None),
    ("shape: dashed letter groups without vowels", "en", "Confirm your new device", "Quill <security@quill.example>",
     text("Someone is signing in to Quill on a new device.\n\nYour device code: KMPT-RVWX\n\nType it on the other device to finish.\n"),
     "KMPTRVWX", None),
    ("shape: three groups of three digits", "es", "Tu código de verificación", "Cumbre <hola@cumbre.example>",
     text("Hola:\n\nTu código de verificación es 517-208-963.\n\nCaduca en 20 minutos.\n"),
     "517208963", None),
    ("shape: nine digits", "pt", "Código de acesso", "Farol <contato@farol.example>",
     html("<p>Olá,</p><p>Seu código de acesso: <strong>604219873</strong></p><p>Não compartilhe este código.</p>"),
     "604219873", None),
    ("shape: groups with leading zeros", "en", "Login code", "Harbor <no-reply@harbor.example>",
     text("Your code: 007 310\nValid for 5 minutes.\n"),
     "007310", None),
    ("shape: lower-case letters and digits called a code", "en", "Your login code", "Pebble <hi@pebble.example>",
     html("<p>Your login code is <code>m4t9wz</code>.</p><p>Enter it in the app to continue.</p>"),
     "m4t9wz", None),
    ("shape: code glued to its label", "it", "Codice di accesso", "Vela <noreply@vela.example>",
     text("Codice:730164\nScade tra 10 minuti.\n"),
     "730164", None),
    ("shape: code on its own line after the sentence that introduces it", "nl", "Inloggen bij Tulp", "Tulp <noreply@tulp.example>",
     text("Hallo,\n\nGebruik de onderstaande code om in te loggen:\n\n    284 617\n\nDeze code verloopt over 15 minuten.\n"),
     "284617", None),
    ("shape: words glued where block boundaries were lost", "en", "Verify your email", "Orbit <team@orbit.example>",
     html("<span>Your verification code is</span><span>615042</span><span>Thanks, the Orbit team</span>"),
     "615042", None),
    ("shape: code glued to the next sentence", "pl", "Kod weryfikacyjny", "Zefir <konto@zefir.example>",
     html("<div>Twój kod weryfikacyjny:</div><div style=\"font-size:24px\">493027</div>"
          "<div>Kod jest ważny 10 minut.</div>"),
     "493027", None),
    ("shape: only the subject names the code; the code stands alone", "ja", "ログイン認証コード", "Sakura <noreply@sakura.example>",
     text("こんにちは。\n\n660418\n\nよろしくお願いいたします。\n"), "660418", None),
    ("shape: only the subject names the code; letters and digits, large", "de", "Ihr Anmeldecode", "Kontor <noreply@kontor.example>",
     html("<table><tr><td>Hallo!</td></tr><tr><td style=\"font-size:30px;letter-spacing:6px\">Q7M4XP</td></tr>"
          "<tr><td>Gültig für 10 Minuten.</td></tr></table>"),
     "Q7M4XP", None),
    ("shape: a sentence glued to the code by a lost space", "en", "Harbor", "Harbor <no-reply@harbor.example>",
     html("<div>Your sign-in code is 318022.Enter it within ten minutes.</div>"), "318022", None),
    ("short: verb before the code", "en", "Lumen", "Lumen <sms@lumen.example>",
     text("Enter 538164 to continue.\n"), "538164", None),
    ("short: code word after the code", "en", "Lumen", "Lumen <sms@lumen.example>",
     text("7391 is your Lumen code.\n"), "7391", None),
    ("short: no code word, only what the number is for", "en", "Pebble", "Pebble <sms@pebble.example>",
     text("Use 904117 to verify your Pebble account.\n"), "904117", None),
    ("short: no code word, only what the number is for", "fr", "Vela", "Vela <sms@vela.example>",
     text("Utilisez 661820 pour vous connecter à Vela.\n"), "661820", None),
    ("short: a street number is not a code", "en", "Returns", "Pebble <help@pebble.example>",
     text("Please use 1234 Main Street as the return address for your parcel.\n"), None, None),
    ("short: no diacritics", "es", "Codigo", "Cumbre <hola@cumbre.example>",
     text("Tu codigo de verificacion es 662810\n"), "662810", None),
    ("short: no diacritics", "tr", "Kod", "Liman <bilgi@liman.example>",
     text("Dogrulama kodunuz: 845120\n"), "845120", None),
    ("parts: nested multipart, HTML first", "en", "Your security code", "Cedar <auth@cedar.example>",
     nested("<p>Your security code is <b>902 447</b></p>", "Your security code is 902 447\n"),
     "902447", None),
    ("parts: the HTML part has no code, the text part has it", "de", "Anmeldung", "Kontor <noreply@kontor.example>",
     nested("<p>Öffnen Sie die App, um fortzufahren.</p>", "Ihr Anmeldecode: 220871\n"),
     "220871", None),
    ("links: bare URL after an instruction in plain text", "en", "Confirm your email", "Maple <hello@maple.example>",
     text("Thanks for signing up!\n\nClick the link below to confirm your email address:\n\n"
          "https://app.maple.example/confirm?t=Zx81Lq0pWv7Rk2Hn\n\nThe Maple team\n"),
     None, "https://app.maple.example/confirm?t=Zx81Lq0pWv7Rk2Hn"),
    ("links: bare URL after an instruction in plain text", "ru", "Подтвердите адрес", "Берёза <info@bereza.example>",
     text("Здравствуйте!\n\nЧтобы подтвердить адрес электронной почты, перейдите по ссылке:\n"
          "https://bereza.example/activate/7f3c91e0a4b2d8f6\n\nЕсли вы не регистрировались, просто удалите это письмо.\n"),
     None, "https://bereza.example/activate/7f3c91e0a4b2d8f6"),
    ("links: button text in Greek", "el", "Ενεργοποίηση λογαριασμού", "Ελιά <info@elia.example>",
     html("<p>Γεια σας,</p><p><a href=\"https://elia.example/verify?token=4b8e2f71c09d\" "
          "style=\"background:#2255aa;color:#fff;padding:10px 18px\">Επιβεβαίωση διεύθυνσης email</a></p>"
          "<p><a href=\"https://elia.example/help\">Βοήθεια</a></p>"),
     None, "https://elia.example/verify?token=4b8e2f71c09d"),
    ("links: button text no list covers, the only action target", "he", "ברוכים הבאים", "Zayit <info@zayit.example>",
     html("<p>שלום,</p><p><a href=\"https://zayit.example/verify-email?token=a91c33e7b2\" "
          "style=\"background:#222;color:#fff;padding:12px\">לחצו כאן להמשך</a></p>"
          "<p><a href=\"https://zayit.example/privacy\">פרטיות</a></p>"),
     None, "https://zayit.example/verify-email?token=a91c33e7b2"),
    ("links: the link text is the URL itself", "en", "Verify your account", "Fjord <account@fjord.example>",
     html("<p>Verify your account by opening this address:</p>"
          "<p><a href=\"https://fjord.example/verify/Q2x9Tm4pL8\">https://fjord.example/verify/Q2x9Tm4pL8</a></p>"),
     None, "https://fjord.example/verify/Q2x9Tm4pL8"),
    ("links: a code and a link, both returned", "de", "E-Mail bestätigen", "Kontor <noreply@kontor.example>",
     html("<p>Ihr Bestätigungscode lautet <b>384 920</b>.</p><p>Oder bestätigen Sie direkt:</p>"
          "<p><a href=\"https://kontor.example/email/confirm?k=8Hf2Lw9Qz1\" style=\"background:#0a0;padding:8px\">"
          "E-Mail-Adresse bestätigen</a></p>"),
     "384920", "https://kontor.example/email/confirm?k=8Hf2Lw9Qz1"),
    ("links: a password reset counts", "fr", "Réinitialisation du mot de passe", "Atelier <compte@atelier.example>",
     html("<p>Vous avez demandé un nouveau mot de passe.</p><p><a href=\"https://atelier.example/mdp/reinit?jeton=Kx7Qp2Vd\">"
          "Réinitialiser mon mot de passe</a></p><p>Si vous n'êtes pas à l'origine de cette demande, ignorez ce message.</p>"),
     None, "https://atelier.example/mdp/reinit?jeton=Kx7Qp2Vd"),
    ("links: 'change my password' with a reset token", "id", "Permintaan kata sandi baru", "Pasar <bantuan@pasar.example>",
     html("<p>Seseorang meminta tautan untuk mengubah kata sandi Anda.</p>"
          "<p><a href=\"https://pasar.example/akun/password/edit?reset_password_token=Hq81ZtPw\">Ubah kata sandi saya</a></p>"),
     None, "https://pasar.example/akun/password/edit?reset_password_token=Hq81ZtPw"),
    ("links: the text says only 'link', the purpose comes after it", "cs", "Ověření e-mailu", "Lípa <ucet@lipa.example>",
     html("<p>Pro dokončení registrace klikněte na <a href=\"https://lipa.example/ucet/verify-address?k=Xy72Lm90Qa\">tento odkaz</a>"
          " a potvrďte svou adresu.</p><p><a href=\"https://lipa.example/napoveda\">Nápověda</a></p>"),
     None, "https://lipa.example/ucet/verify-address?k=Xy72Lm90Qa"),
    ("links: never an order confirmation", "en", "Please confirm your order", "Shop <orders@shop.example>",
     html("<p>Thanks for shopping with us.</p><p><a href=\"https://shop.example/orders/55120/confirm?t=9xQ\" "
          "style=\"background:#f60;padding:10px\">Confirm your order</a></p>"),
     None, None),
    ("links: never a paid subscription", "en", "Activate your subscription", "Streamly <billing@streamly.example>",
     html("<p>Your Premium plan is ready.</p><p><a href=\"https://streamly.example/billing/activate?plan=premium&t=Lk2\" "
          "style=\"background:#e00;padding:10px\">Activate your subscription</a></p>"),
     None, None),
    ("links: never 'verify your purchase'", "en", "Verify your purchase", "Gadget Hub <shop@gadgethub.example>",
     html("<p>We noticed a large order on your card.</p><p><a href=\"https://gadgethub.example/purchase/verify?o=7781&t=Qw9\">"
          "Verify your purchase</a></p>"),
     None, None),
    ("links: never an article about verification", "en", "This week: how e-mail verification works", "Dev Digest <digest@devdigest.example>",
     html("<h2>How e-mail verification works</h2><p>Most sign-up flows send a link with a token...</p>"
          "<p><a href=\"https://devdigest.example/articles/email-verification-explained\">Read more</a></p>"
          "<p><a href=\"https://devdigest.example/unsubscribe?u=77\">Unsubscribe</a></p>"),
     None, None),
    ("links: a security notice's escape hatch, introduced by a colon", "en", "Your password was changed", "Quill <security@quill.example>",
     html("<p>Your Quill password was changed today.</p><p>If this wasn't you, reset your password right away:</p>"
          "<p><a href=\"https://quill.example/password/reset?src=notice&amp;k=7Hq2Lp9Z\" style=\"background:#c00;padding:10px\">"
          "Reset password</a></p>"),
     None, None),
    ("links: a way in without a token is not the action", "es", "Bienvenido a Cumbre", "Cumbre <hola@cumbre.example>",
     html("<p>Tu cuenta está lista.</p><p><a href=\"https://cumbre.example/login\" style=\"background:#0a0;padding:10px\">"
          "Iniciar sesión</a></p>"),
     None, None),
    ("false codes: a user name with digits in the subject", "zh-CN", "为 mike2048 重置密码", "论坛 <noreply@forum.example>",
     html("<h3>为 mike2048 重置密码</h3><p><a href=\"https://forum.example/password_reset/Ab3dE6fG9h\">点击此处重置密码</a></p>"),
     None, "https://forum.example/password_reset/Ab3dE6fG9h"),
    ("false codes: an amount after a currency word", "en", "Your one-time password", "Bank <alerts@bank.example>",
     text("Rs. 45000 will be debited from your account ending 4421.\nYour one-time password is 662018.\nDo not share it.\n"),
     "662018", None),
    ("false codes: an amount after a currency code, no code", "fr", "Paiement reçu", "Atelier <compte@atelier.example>",
     text("Merci ! Paiement reçu.\nMontant : EUR 4500\nRéférence client : voir votre espace.\n"),
     None, None),
]


def build(add):
    for n, (cls, lang, subject, sender, body, code, link) in enumerate(CASES, start=1):
        raw = HEAD % (sender, subject, n) + body
        add(raw.encode("utf-8"), {"code": code, "link": link}, "class: " + cls, lang)
