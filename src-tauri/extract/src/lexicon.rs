//! Words for verify, reset, password, code and enter in 32 languages, harvested from a public
//! translation catalogue rather than written from memory.
//!
//! Source: the e-mail message catalogues of Keycloak's base theme (`keycloak/keycloak`,
//! `themes/src/main/resources-community/theme/base/email/messages/messages_<lang>.properties`,
//! and `themes/src/main/resources/theme/base/email/messages/messages_en.properties` for English;
//! Apache-2.0). Each word below is taken from one of these keys in that language's file:
//!
//! | list       | keys                                                                                    |
//! |------------|-----------------------------------------------------------------------------------------|
//! | `verify`   | `emailVerificationSubject`, `requiredAction.VERIFY_EMAIL`, the verification link text  |
//! | `reset`    | `passwordResetSubject`, the password-reset link text                                    |
//! | `password` | `passwordResetSubject`, `requiredAction.UPDATE_PASSWORD`, `eventUpdatePasswordSubject`  |
//! | `code`     | `emailVerificationBodyCode` ("verify your address by entering the following code")      |
//! | `enter`    | the same sentence's verb                                                                |
//!
//! Words are lower case (as `str::to_lowercase` gives them). Inflected forms are cut to a stem
//! where the catalogue shows several (`verific` for verificar, verifique, verificação); such a stem
//! is only used where a match may be part of a longer word (link texts), never as a standalone
//! label. A language whose file lacks a key has an empty list there.

/// One language's words.
#[derive(Debug, Clone, Copy)]
pub struct Words {
    /// BCP 47 tag of the catalogue file.
    pub lang: &'static str,
    /// Verify or confirm an address or account.
    pub verify: &'static [&'static str],
    /// Reset (or set anew) a password or credentials.
    pub reset: &'static [&'static str],
    /// The word for password.
    pub password: &'static [&'static str],
    /// The word for code, as a standalone word.
    pub code: &'static [&'static str],
    /// The verb for entering a code, as a standalone word.
    pub enter: &'static [&'static str],
}

/// Every language, English first.
pub const LANGUAGES: &[Words] = &[
    Words {
        lang: "en",
        verify: &["verify email", "verification"],
        reset: &["reset password", "reset credentials"],
        password: &["password"],
        code: &["code"],
        enter: &["entering"],
    },
    Words {
        lang: "ar",
        verify: &["توثيق"],
        reset: &["إعادة تعيين", "تغيير كلمة المرور"],
        password: &["كلمة المرور"],
        code: &["الرمز"],
        enter: &["بادخال"],
    },
    Words {
        lang: "ca",
        verify: &["verificació", "verifiqueu", "verifica el correu"],
        reset: &["restabliu la contrasenya", "restablir"],
        password: &["contrasenya"],
        code: &["codi"],
        enter: &["introduint"],
    },
    Words {
        lang: "cs",
        verify: &["ověření", "ověřte"],
        reset: &["zapomenuté heslo", "změnu hesla", "obnovení"],
        password: &["heslo", "hesla"],
        code: &[],
        enter: &[],
    },
    Words {
        lang: "da",
        verify: &["verificer", "bekræft"],
        reset: &["gendan adgangskode", "nulstil"],
        password: &["adgangskode"],
        code: &["kode"],
        enter: &["indtaste"],
    },
    Words {
        lang: "de",
        verify: &["verifizieren", "bestätigung"],
        reset: &["zurücksetz"],
        password: &["passwort"],
        code: &[],
        enter: &[],
    },
    Words {
        lang: "el",
        verify: &["επιβεβαι"],
        reset: &["αλλαγή κωδικού πρόσβασης", "αλλάξετε τα διαπιστευτήρια"],
        password: &["κωδικός πρόσβασης", "κωδικού πρόσβασης"],
        code: &["κωδικό"],
        enter: &["εισάγοντας"],
    },
    Words {
        lang: "es",
        verify: &["verificación", "verificar", "verifique"],
        reset: &["reiniciar contraseña", "reiniciar"],
        password: &["contraseña"],
        code: &["código"],
        enter: &["ingresando"],
    },
    Words {
        lang: "fa",
        verify: &["تایید", "تأیید"],
        reset: &["بازنشانی"],
        password: &["رمز عبور", "گذرواژه"],
        code: &["کد زیر"],
        enter: &["وارد کردن"],
    },
    Words {
        lang: "fi",
        verify: &["vahvista", "vahvistamiseen"],
        reset: &["salasanan nollaus", "salasanan vaihto"],
        password: &["salasana"],
        code: &["koodilla"],
        enter: &[],
    },
    Words {
        lang: "fr",
        verify: &["vérification", "vérifier"],
        reset: &["réinitialiser le mot de passe", "réinitialis"],
        password: &["mot de passe"],
        code: &[],
        enter: &[],
    },
    Words {
        lang: "hu",
        verify: &["megerősít"],
        reset: &["jelszó visszaállítás", "visszaállít"],
        password: &["jelszó", "jelszava"],
        code: &["kód"],
        enter: &["megadásával"],
    },
    Words {
        lang: "id",
        verify: &["verifikasi", "memverifikasi"],
        reset: &["atur ulang kata sandi", "mengatur ulang"],
        password: &["kata sandi"],
        code: &["kode"],
        enter: &["memasukkan"],
    },
    Words {
        lang: "it",
        verify: &["verifica"],
        reset: &["reimposta la password", "reimposta"],
        password: &["password"],
        code: &["codice"],
        enter: &["inserendo"],
    },
    Words {
        lang: "ja",
        verify: &["確認"],
        reset: &["パスワードのリセット", "リセット"],
        password: &["パスワード"],
        code: &["コード"],
        enter: &["入力"],
    },
    Words {
        lang: "ko",
        verify: &["확인"],
        reset: &["재설정"],
        password: &["비밀번호"],
        code: &["코드"],
        enter: &["입력"],
    },
    Words {
        lang: "lt",
        verify: &["patvirtinimas"],
        reset: &["slaptažodžio atkūrimas", "nustatymo iš naujo"],
        password: &["slaptažodis", "slaptažodį", "slaptažodžio"],
        code: &["kodas"],
        enter: &[],
    },
    Words {
        lang: "nl",
        verify: &["bevestig", "verifieer"],
        reset: &["wijzig wachtwoord", "wijzig aanmeldgegevens"],
        password: &["wachtwoord"],
        code: &["code"],
        enter: &["invoeren"],
    },
    Words {
        lang: "no",
        verify: &["bekreft"],
        reset: &["tilbakestill passord", "tilbakestille"],
        password: &["passord"],
        code: &[],
        enter: &[],
    },
    Words {
        lang: "pl",
        verify: &["zweryfikuj", "weryfikacja", "potwierdź"],
        reset: &["zresetuj", "resetowania", "zresetować"],
        password: &["hasło", "hasła"],
        code: &["kod"],
        enter: &["wprowadzając"],
    },
    Words {
        lang: "pt",
        verify: &["verific"],
        reset: &["redefinir", "redefini"],
        password: &["senha"],
        code: &["código"],
        enter: &["inserindo"],
    },
    Words {
        lang: "ro",
        verify: &["verificați", "verificarea"],
        reset: &["resetați parola", "resetarea"],
        password: &["parola"],
        code: &["cod"],
        enter: &["introducând"],
    },
    Words {
        lang: "ru",
        verify: &["подтверждение", "подтвердить", "верификации"],
        reset: &["сброс пароля", "сбросить", "сброса"],
        password: &["пароль", "пароля"],
        code: &["код"],
        enter: &["введя"],
    },
    Words {
        lang: "sk",
        verify: &["overenie", "overte", "overiť"],
        reset: &["obnovenie hesla", "obnoviť"],
        password: &["heslo", "hesla"],
        code: &["kód", "kódu"],
        enter: &["zadaním"],
    },
    Words {
        lang: "sv",
        verify: &["verifiera"],
        reset: &["återställ lösenord", "återställa"],
        password: &["lösenord"],
        code: &["kod"],
        enter: &["ange"],
    },
    Words {
        lang: "th",
        verify: &["ตรวจสอบ", "ยืนยัน"],
        reset: &["รีเซ็ต"],
        password: &["รหัสผ่าน"],
        code: &["รหัส"],
        enter: &["ใส่รหัส"],
    },
    Words {
        lang: "tr",
        verify: &["doğrula", "doğrulama"],
        reset: &["şifreyi sıfırla", "sıfırla"],
        password: &["şifre"],
        code: &["kodu"],
        enter: &["girerek"],
    },
    Words {
        lang: "uk",
        verify: &["підтвердити", "підтвердження"],
        reset: &["скинути пароль", "скидання паролю"],
        password: &["пароль", "паролю"],
        code: &["код"],
        enter: &["ввівши"],
    },
    Words {
        lang: "vi",
        verify: &["xác thực", "xác minh", "xác nhận"],
        reset: &["cài đặt lại mật mã", "thiết lập lại"],
        password: &["mật mã", "mật khẩu"],
        code: &["mã"],
        enter: &["nhập"],
    },
    Words { lang: "zh-Hans", verify: &["验证"], reset: &["重置"], password: &["密码"], code: &[], enter: &[] },
    Words {
        lang: "zh-Hant",
        verify: &["驗證"],
        reset: &["重設密碼", "重新設定密碼"],
        password: &["密碼"],
        code: &["代碼"],
        enter: &["輸入"],
    },
];

/// Every word of one list, all languages.
pub fn all(list: fn(&Words) -> &'static [&'static str]) -> impl Iterator<Item = &'static str> {
    LANGUAGES.iter().flat_map(move |w| list(w).iter().copied())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thirty_languages_with_words_in_lower_case() {
        assert!(LANGUAGES.len() >= 30, "the catalogue covers at least 30 languages");
        for w in LANGUAGES {
            assert!(
                !w.verify.is_empty() && !w.reset.is_empty() && !w.password.is_empty(),
                "{} has the three lists",
                w.lang
            );
            for word in w.verify.iter().chain(w.reset).chain(w.password).chain(w.code).chain(w.enter) {
                assert_eq!(*word, word.to_lowercase(), "{}: {word} is lower case", w.lang);
            }
        }
    }
}
