//! Labels in many languages: what names a verification code, and what names something that
//! only looks like one (an order number, a meeting passcode, a promo code, a phone number).
//!
//! The nearest label decides what a number is, so both kinds live in one automaton matched
//! leftmost-longest: "promo code" wins over "code", "meeting ID" over "ID". Patterns are written
//! in lower case; capitalised, title-case and upper-case forms are added when the automaton is
//! built, and ASCII case is ignored. Words in scripts with spaces (Latin, Greek, Cyrillic) must
//! stand alone; a trailing `*` marks a stem that may be followed by an ending.

use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};

/// What a matched label says about the number next to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Names a verification code outright ("verification code", "验证码", "認証コード").
    Strong,
    /// Names a code, less surely ("confirmation code", "access code", "enter the code").
    Weak,
    /// The bare word "code" and its translations: a code unless the mail sells something.
    Generic,
    /// "passcode", "PIN", "password": a code unless the mail is a meeting invitation.
    Pass,
    /// Names something that is not a verification code (order, tracking, phone, amount...).
    Negative,
    /// Not a label: a word saying the mail is about a meeting or call.
    Meeting,
    /// Not a label: a word saying the mail sells something.
    Promo,
    /// Not a label: a word saying the mail is about a trip or a booking, where a
    /// "confirmation code" is a booking reference.
    Travel,
}

impl Kind {
    /// True for the kinds that label a code.
    pub fn is_code_label(self) -> bool {
        matches!(self, Kind::Strong | Kind::Weak | Kind::Generic | Kind::Pass)
    }
}

/// A label found in a text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset after the last byte.
    pub end: usize,
    /// What it says.
    pub kind: Kind,
}

/// Most hits reported for one text.
const MAX_HITS: usize = 256;

const STRONG: &[&str] = &[
    // English
    "verification code", "verification codes", "verify code", "verification pin", "verification number",
    "security code", "one-time code", "one time code", "onetime code", "one-time password", "one time password",
    "one-time passcode", "one time passcode", "one-time pin", "otp", "otp code", "2fa code", "2fa", "two-factor code",
    "two-factor authentication code", "2-step verification code", "two-step verification code", "login code",
    "log-in code", "log in code", "sign-in code", "sign in code", "signin code", "authentication code", "auth code",
    "activation code", "single-use code", "temporary code", "magic code", "device verification code",
    "your code is", "enter code", "enter this code", "enter the code", "enter the following code", "use this code",
    "use the code below", "use the following code", "code below", "following code", "steam guard code",
    "recovery code", "reset code", "password reset code", "login pin", "secret code", "access code is",
    "verification code is", "confirm code", "identity verification code", "email verification code",
    "sign-up code", "signup code", "passcode is", "pass code is", "code to verify", "code to sign in",
    "code to log in", "code to confirm",
    // Chinese
    "验证码", "校验码", "动态码", "动态密码", "确认码", "激活码", "安全码", "登录码", "验证代码", "一次性密码",
    "您的验证码", "你的验证码", "驗證碼", "驗證代碼", "認證碼", "確認碼", "安全碼", "動態密碼", "一次性密碼", "登入碼", "啟用碼", "验证代码",
    // Japanese
    "認証コード", "確認コード", "検証コード", "認証番号", "ワンタイムパスワード", "ワンタイムコード", "セキュリティコード",
    "ログインコード", "承認コード", "本人確認コード", "認証キー", "確認用コード", "認証用コード",
    // Korean
    "인증번호", "인증 번호", "인증코드", "인증 코드", "확인 코드", "확인코드", "보안 코드", "보안코드", "일회용 비밀번호",
    "로그인 코드", "인증키",
    // Russian, Ukrainian
    "код подтверждения", "код проверки", "проверочный код", "код верификации", "код для входа", "одноразовый код",
    "одноразовый пароль", "код безопасности", "код активации", "код авторизации", "кодом подтверждения",
    "код підтвердження", "код перевірки", "одноразовий код", "код для входу",
    // German
    "bestätigungscode", "verifizierungscode", "sicherheitscode", "anmeldecode", "einmalcode", "einmalpasswort",
    "einmal-code", "authentifizierungscode", "prüfcode", "freischaltcode", "aktivierungscode", "verifikationscode",
    "bestätigungs-code", "login-code",
    // French
    "code de vérification", "code de confirmation", "code de sécurité", "code de connexion", "code à usage unique",
    "mot de passe à usage unique", "code d'authentification", "code d’authentification", "code d'activation",
    "code d’activation", "code de validation", "code de vérification est",
    // Spanish, Portuguese
    "código de verificación", "código de confirmación", "código de seguridad", "código de inicio de sesión",
    "código de un solo uso", "código de autenticación", "código de activación", "código de validación",
    "clave de verificación", "código de verificação", "código de confirmação", "código de segurança",
    "código de autenticação", "código de ativação", "código de login", "código de uso único",
    "código de acesso único", "código de verificacion", "codigo de verificacion", "codigo de verificação",
    // Italian, Dutch
    "codice di verifica", "codice di conferma", "codice di sicurezza", "codice monouso", "codice di autenticazione",
    "codice di attivazione", "codice otp", "verificatiecode", "bevestigingscode", "beveiligingscode", "inlogcode",
    "eenmalige code", "authenticatiecode", "activeringscode",
    // Polish, Czech, Slovak, Romanian, Hungarian
    "kod weryfikacyjny", "kod potwierdzający", "kod bezpieczeństwa", "kod jednorazowy", "kod logowania",
    "kod aktywacyjny", "kod autoryzacyjny", "ověřovací kód", "potvrzovací kód", "bezpečnostní kód", "jednorázový kód",
    "overovací kód", "cod de verificare", "cod de confirmare", "cod de securitate", "ellenőrző kód",
    "megerősítő kód", "biztonsági kód", "ellenőrzőkód",
    // Nordic, Finnish
    "verifieringskod", "bekräftelsekod", "säkerhetskod", "engångskod", "bekreftelseskode", "verifiseringskode",
    "sikkerhetskode", "engangskode", "bekræftelseskode", "verifikationskode", "vahvistuskoodi", "turvakoodi",
    "kertakäyttöinen koodi",
    // Turkish
    "doğrulama kodu", "dogrulama kodu", "doğrulama kodunuz", "onay kodu", "onay kodunuz", "güvenlik kodu",
    "giriş kodu", "tek kullanımlık şifre", "tek kullanımlık kod", "aktivasyon kodu", "doğrulama kodunuz:",
    // Vietnamese, Indonesian, Malay
    "mã xác minh", "mã xác nhận", "mã xác thực", "mã otp", "mã bảo mật", "mã đăng nhập", "mã kích hoạt",
    "kode verifikasi", "kode otp", "kode konfirmasi", "kode keamanan", "kode masuk", "kode sekali pakai",
    "kod pengesahan", "kod verifikasi", "kode aktivasi", "kod keselamatan",
    // Arabic, Persian, Hebrew
    "رمز التحقق", "رمز التأكيد", "كود التحقق", "رمز الأمان", "رمز الدخول", "كلمة المرور لمرة واحدة", "رمز التفعيل",
    "الرمز المؤقت", "رمز التحقق الخاص بك", "كود التفعيل", "رمز تسجيل الدخول", "کد تایید", "کد تأیید", "کد ورود",
    "קוד אימות", "קוד האימות", "קוד אבטחה",
    // Thai, Hindi, Greek
    "รหัสยืนยัน", "รหัส otp", "รหัสผ่านครั้งเดียว", "รหัสความปลอดภัย", "รหัสตรวจสอบ", "รหัสเข้าสู่ระบบ",
    "รหัสยืนยันตัวตน", "सत्यापन कोड", "ओटीपी", "पुष्टिकरण कोड", "κωδικός επαλήθευσης", "κωδικός επιβεβαίωσης",
    "κωδικός ασφαλείας", "κωδικός μίας χρήσης",
];

const WEAK: &[&str] = &[
    "confirmation code", "access code", "sign in with this code", "here is your code", "here's your code",
    "copy the code", "copy code", "your code", "the code", "this code", "code:", "pin code", "verification",
    "код доступа", "ваш код", "введите код", "zugangscode", "ihr code", "code d'accès", "code d’accès",
    "votre code", "código de acceso", "código de acesso", "su código", "tu código", "seu código",
    "codice di accesso", "il tuo codice", "toegangscode", "uw code", "je code", "twój kod", "kodunuz", "kodunuz:",
    "mã của bạn", "kode anda", "kode kamu", "رمزك", "รหัสของคุณ", "コード", "코드",
    "код", "番号", "授权码", "口令", "동의 코드",
];

const GENERIC: &[&str] = &[
    "code", "codes", "código", "codigo", "codice", "kod", "kode", "kód", "koodi", "kodu", "cod", "mã", "رمز", "كود",
    "รหัส", "κωδικός", "קוד", "कोड", "代码", "码", "碼",
];

const PASS: &[&str] = &[
    "passcode", "pass code", "pin", "password", "passwort", "kennwort", "mot de passe", "contraseña", "senha",
    "пароль", "密码", "密碼", "パスワード", "비밀번호", "şifre", "şifreniz", "kata sandi", "mật khẩu", "كلمة المرور",
    "รหัสผ่าน", "wachtwoord", "hasło", "heslo", "parola", "lösenord", "adgangskode", "salasana", "access pin",
];

const NEGATIVE: &[&str] = &[
    // Orders, invoices, money
    "order", "order number", "order no", "order #", "order id", "orders", "purchase", "invoice", "invoice number",
    "receipt", "receipt number", "bill", "statement", "transaction", "transaction id", "payment", "amount", "total",
    "subtotal", "balance", "price", "fee", "charged", "refund", "quantity", "qty", "item", "sku", "model", "serial",
    "serial number", "version", "build", "product code", "item code", "vat", "tax", "iban", "swift code", "bic",
    "routing", "订单", "订单号", "订单编号", "发票", "金额", "合计", "总计", "价格", "注文", "注文番号", "請求書", "金額",
    "合計", "価格", "주문", "주문번호", "금액", "결제", "합계", "заказ", "заказа", "номер заказа", "сумма", "счёт",
    "счет", "итого", "цена", "bestellung", "bestellnummer", "rechnung", "rechnungsnummer", "betrag", "gesamt",
    "summe", "preis", "commande", "numéro de commande", "facture", "montant", "prix", "pedido", "número de pedido",
    "factura", "importe", "precio", "fatura", "valor", "preço", "ordine", "numero d'ordine", "fattura", "importo",
    "prezzo", "bestelling", "bestelnummer", "factuur", "bedrag", "zamówienie", "zamówienia", "faktura", "kwota",
    "sipariş", "sipariş numarası", "siparişiniz", "tutar", "toplam", "đơn hàng", "mã đơn hàng", "hóa đơn", "số tiền",
    "tổng", "pesanan", "nomor pesanan", "tagihan", "jumlah", "طلب", "رقم الطلب", "فاتورة", "المبلغ", "الإجمالي",
    "คำสั่งซื้อ", "ใบแจ้งหนี้", "ยอดรวม", "จำนวนเงิน",
    // Shipping
    "tracking", "tracking number", "tracking code", "tracking id", "track", "shipment", "parcel", "package",
    "delivery", "waybill", "awb", "运单", "运单号", "快递单号", "物流", "追跡番号", "お問い合わせ番号", "송장번호",
    "운송장", "трек-номер", "трек номер", "отслеживания", "sendungsnummer", "sendung", "paket", "suivi", "colis",
    "rastreamento", "seguimiento", "envío", "envio", "spedizione", "kargo", "takip", "vận đơn", "resi", "شحنة",
    "พัสดุ",
    // Phone
    "phone", "tel", "tel.", "telephone", "call us", "call", "fax", "mobile", "hotline", "whatsapp", "sms to",
    "电话", "手机", "客服", "電話", "携帯", "전화", "휴대폰", "телефон", "тел", "тел.", "telefon", "téléphone",
    "teléfono", "telefone", "telefono", "điện thoại", "telepon", "هاتف", "الهاتف", "โทร", "โทรศัพท์",
    // Meetings
    "meeting id", "meeting number", "meeting passcode", "meeting password", "meeting code", "webinar id",
    "webinar passcode", "conference id", "dial-in", "dial in", "dial-in number", "participant code",
    "participant pin", "participant passcode", "join by phone", "phone conference id", "attendee pin", "host pin",
    "会议号", "会议 id", "会议id", "会议密码", "會議號", "会議id", "ミーティングid", "ミーティング id", "会議パスワード",
    "회의 id", "회의 번호", "회의 암호", "идентификатор конференции", "идентификатор встречи", "konferenz-id",
    "besprechungs-id", "meeting-id", "id de la réunion", "id de réunion", "id de reunión", "id da reunião",
    "id riunione", "toplantı kimliği",
    // Tickets, bookings, accounts, references
    "ticket", "ticket number", "case", "case number", "case id", "request id", "request number", "reference",
    "reference number", "reference code", "ref", "ref.", "booking", "booking reference", "booking code",
    "booking number", "reservation", "reservation number", "reservation code", "confirmation number",
    "confirmation #", "pnr", "record locator", "room", "e-ticket",
    "预订", "预订号", "订票", "予約", "予約番号", "예약", "예약번호", "бронирования", "бронь", "номер брони",
    "buchung", "buchungsnummer", "buchungscode", "réservation", "numéro de réservation", "reserva",
    "código de reserva", "localizador", "prenotazione", "rezervasyon", "pnr kodu", "đặt chỗ", "mã đặt chỗ",
    "pemesanan", "kode booking", "حجز", "رقم الحجز", "การจอง", "หมายเลขการจอง",
    "account", "account number", "account no", "account id", "customer", "customer number", "customer id",
    "member", "member id", "membership", "membership number", "user id", "id", "id:", "client", "client id",
    "loyalty", "账号", "账户", "帳號", "帳戶", "会员", "アカウント", "会員番号", "계좌", "회원번호", "лицевой счёт",
    "номер счета", "konto", "kontonummer", "kundennummer", "mitgliedsnummer", "compte", "numéro de client",
    "cuenta", "número de cliente", "conta", "conto", "hesap", "müşteri numarası", "tài khoản", "akun", "rekening",
    "حساب", "บัญชี",
    // Cards
    "card ending", "ending in", "ending with", "ends in", "last 4", "last four", "card", "credit card", "debit card",
    "visa", "mastercard", "amex", "尾号", "末尾", "卡号", "끝자리", "карта", "карты", "оканчивающейся", "endend auf",
    "karte", "carte", "se terminant par", "tarjeta", "terminada en", "cartão", "final", "carta", "kart", "thẻ",
    "kartu", "بطاقة", "บัตร",
    // Postal
    "zip", "zip code", "postal code", "postcode", "post code", "plz", "邮编", "郵便番号", "〒", "우편번호",
    "индекс", "почтовый индекс", "código postal", "code postal", "posta kodu", "kode pos", "mã bưu chính",
    "area code", "country code",
    // Promotions
    "promo code", "promo", "promotion code", "promotional code", "coupon", "coupon code", "discount code",
    "discount", "voucher", "voucher code", "gift card", "gift code", "redeem", "use code", "referral code",
    "invite code", "invitation code", "offer code", "优惠码", "优惠券", "折扣码", "兑换码", "邀请码", "クーポン",
    "クーポンコード", "割引コード", "プロモーションコード", "쿠폰", "할인 코드", "할인코드", "промокод", "купон",
    "gutscheincode", "gutschein", "rabattcode", "code promo", "code de réduction", "code réduction",
    "código promocional", "código de descuento", "cupón", "cupom", "código de desconto", "codice sconto",
    "codice promozionale", "indirim kodu", "kupon", "kupon kodu", "mã giảm giá", "mã khuyến mãi", "kode promo",
    "kode voucher", "كود الخصم", "رمز الخصم", "คูปอง", "โค้ดส่วนลด", "kortingscode", "kod rabatowy",
    // Other codes that are not for signing in
    "error code", "status code", "error", "qr code", "bar code", "barcode", "source code", "color code",
    "dress code", "tax code", "postal", "version code", "gate code", "door code", "locker code",
    "错误代码", "错误码", "エラーコード", "오류 코드", "код ошибки", "fehlercode", "code d'erreur", "código de error",
    // Dates
    "year", "copyright", "©", "since", "est.", "founded", "date", "dated", "年", "日期",
];

const MEETING: &[&str] = &[
    "meeting", "zoom", "webinar", "conference", "teams meeting", "video call", "join the meeting", "join meeting",
    "join zoom", "会议", "會議", "会議", "ミーティング", "회의", "встреча", "встречи", "конференци*", "besprechung",
    "réunion", "reunión", "reunião", "riunione", "toplantı", "cuộc họp", "rapat", "اجتماع", "ประชุม",
    "vergadering", "spotkanie",
];

const PROMO: &[&str] = &[
    "% off", "sale", "shop now", "checkout", "deal", "deals", "offer", "save", "buy", "discount", "coupon",
    "优惠", "折扣", "割引", "セール", "할인", "скидк*", "rabatt", "réduction", "descuento", "desconto", "sconto",
    "indirim", "giảm giá", "diskon", "خصم", "ส่วนลด", "korting", "rabat", "soldes", "oferta", "angebot",
];

const TRAVEL: &[&str] = &[
    "flight", "flights", "itinerary", "boarding", "check-in", "hotel", "airline", "airport", "departure", "arrival",
    "passenger", "reservation", "booking", "trip", "航班", "行程", "酒店", "フライト", "搭乗", "ホテル", "항공편",
    "호텔", "рейс", "отель", "flug", "reise", "vol", "hôtel", "vuelo", "viaje", "voo", "viagem", "volo", "uçuş",
    "chuyến bay", "penerbangan", "رحلة", "เที่ยวบิน",
];

struct Table {
    automaton: AhoCorasick,
    kinds: Vec<Kind>,
    /// Pattern may be followed by a letter (a stem).
    stem: Vec<bool>,
}

static TABLE: LazyLock<Option<Table>> = LazyLock::new(build);

fn build() -> Option<Table> {
    let mut patterns: Vec<String> = Vec::new();
    let mut kinds = Vec::new();
    let mut stem = Vec::new();
    let groups: [(&[&str], Kind); 8] = [
        (STRONG, Kind::Strong),
        (WEAK, Kind::Weak),
        (GENERIC, Kind::Generic),
        (PASS, Kind::Pass),
        (NEGATIVE, Kind::Negative),
        (MEETING, Kind::Meeting),
        (PROMO, Kind::Promo),
        (TRAVEL, Kind::Travel),
    ];
    for (words, kind) in groups {
        for word in words {
            let (base, is_stem) = match word.strip_suffix('*') {
                Some(b) => (b, true),
                None => (*word, false),
            };
            for variant in case_variants(base) {
                if !patterns.contains(&variant) {
                    patterns.push(variant);
                    kinds.push(kind);
                    stem.push(is_stem);
                }
            }
        }
    }
    let automaton = AhoCorasickBuilder::new()
        .match_kind(MatchKind::LeftmostLongest)
        .ascii_case_insensitive(true)
        .kind(Some(AhoCorasickKind::DFA))
        .build(&patterns)
        .ok()?;
    Some(Table { automaton, kinds, stem })
}

/// The word as written, capitalised, in title case and in upper case.
fn case_variants(word: &str) -> Vec<String> {
    let mut out = vec![word.to_string()];
    let mut chars = word.chars();
    if let Some(first) = chars.next() {
        out.push(first.to_uppercase().chain(chars).collect());
    }
    let title: String = word
        .split(' ')
        .map(|w| {
            let mut c = w.chars();
            c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
        })
        .collect::<Vec<_>>()
        .join(" ");
    out.push(title);
    out.push(word.to_uppercase());
    out.dedup();
    out
}

/// Scripts written with spaces between words, where a label must not be part of a longer word.
fn is_spaced_script(c: char) -> bool {
    c.is_alphanumeric() && ((c as u32) < 0x0590 || (0x1E00..0x2000).contains(&(c as u32)))
}

/// Finds labels in `text`, in order, at most a few hundred.
pub fn scan(text: &str) -> Vec<Hit> {
    let Some(table) = TABLE.as_ref() else {
        return Vec::new();
    };
    let mut hits = Vec::new();
    for m in table.automaton.find_iter(text) {
        let (start, end) = (m.start(), m.end());
        let index = m.pattern().as_usize();
        let pattern_first = text[start..end].chars().next();
        let pattern_last = text[start..end].chars().next_back();
        if pattern_first.is_some_and(is_spaced_script)
            && text[..start].chars().next_back().is_some_and(is_spaced_script)
        {
            continue;
        }
        let stem = table.stem.get(index).copied().unwrap_or(false);
        if !stem
            && pattern_last.is_some_and(is_spaced_script)
            && text[end..].chars().next().is_some_and(is_spaced_script)
        {
            continue;
        }
        let kind = table.kinds.get(index).copied().unwrap_or(Kind::Negative);
        hits.push(Hit { start, end, kind });
        if hits.len() >= MAX_HITS {
            break;
        }
    }
    hits
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<Kind> {
        scan(text).into_iter().map(|h| h.kind).collect()
    }

    #[test]
    fn longest_label_wins() {
        assert_eq!(kinds("Your promo code"), vec![Kind::Negative]);
        assert_eq!(kinds("Meeting ID: 1"), vec![Kind::Negative]);
        assert_eq!(kinds("Your verification code is"), vec![Kind::Strong]);
        assert_eq!(kinds("Код подтверждения"), vec![Kind::Strong]);
        assert_eq!(kinds("您的验证码是"), vec![Kind::Strong]);
    }

    #[test]
    fn words_must_stand_alone() {
        assert!(kinds("spinning codec").is_empty());
        assert_eq!(kinds("PIN: 1234"), vec![Kind::Pass]);
    }
}
