#!/bin/sh
# Writes the import target's seed files into DIR: a few small account files of each format,
# shaped like the examples in src-tauri/engine/src/import/tests.rs, plus the sample files of
# tests/fixtures/import. Files already in DIR (a corpus grown by earlier runs) stay.
#
# Usage: src-tauri/engine/fuzz/seed.sh DIR
set -eu
DIR="$1"
HERE="$(cd "$(dirname "$0")" && pwd)"
ROOT="$(cd "$HERE/../../.." && pwd)"
mkdir -p "$DIR"

GUID=9e5f94bc-e8a4-4e73-b8be-63364c29d753
# A refresh token as Microsoft writes them: M.C, then a long run without spaces.
TOKEN="M.C51_BAY.0.U.-$(printf 'Abc!*x%.0s' 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16)"

seed() { printf '%b' "$2" >"$DIR/seed-$1"; }

# Dash lines, told apart by shape.
seed dash.txt "a@outlook.com----pw1----$TOKEN----$GUID\nb@hotmail.com----$TOKEN----$GUID\nc@hotmail.com----$GUID----$TOKEN\nd@outlook.com----$TOKEN\ne@gmail.com----apppass\nf@example.org:secret:with:colons----mail.example.org----993\ng@example.org----pw----127.0.0.1----10993\n"
seed dash-crlf.txt "# supplier batch 7\r\n\r\nok@outlook.com----$TOKEN\r\n   \r\nnot-an-address----pw\r\nnoToken@outlook.com----$GUID\r\nlonely@example.org\r\nz@example.org----pw\r\n"
seed dash-malformed.txt "user:hunter2secret\nM.C5_token_in_the_first_field----x\na@b.c----p----q----r\nx@example.org:\n"
seed dash-google.txt "g@gmail.com----1//0gAbCdEfGhIjKlMnOpQrStUvWxYz----123-abc.apps.googleusercontent.com\nw@contoso.com----0.AAbCdEfGhIjKlMnOpQrStUvWxYz\n"

# CSV and TSV: columns in any order, quotes, a BOM, comments, rows of the wrong length.
seed accounts.csv "\0357\0273\0277Provider,\"Refresh_Token\",email,imap_port,imap_host,client_id,password\r\n# a comment\r\noutlook,\"$TOKEN\", A@Outlook.com ,,,$GUID,\r\nimap,,b@example.org,10993,127.0.0.1,,\"p,w\"\r\n"
seed accounts.tsv "email\tpassword\timap_host\timap_port\nc@example.org\tpw\tmail.example.org\t143\n"
seed semicolon.csv "mail;pass;smtp_host;smtp_port;smtp_tls\nd@example.org;pw;smtp.example.org;587;starttls\n"
seed lengths.csv "email,password,refresh_token,client_id\nok@outlook.com,,$TOKEN,$GUID\nlong@outlook.com,p,w,$TOKEN,$GUID\nshort@outlook.com,,$TOKEN\n\"open quote@x.com,pw\n"
seed shapes.csv "email,password,provider,imap_host,imap_port\nx@example.org,pw,secret-provider,mail.example.org,99999\ny@example.org,pw,imap,not a host,12ab\n"
seed no-email.csv "name,secret\nx,y\n"

# JSON: objects with the line their { is on, numbers for ports, entries that are not objects.
seed accounts.json "[\n  {\"email\": \"a@outlook.com\", \"refresh_token\": \"$TOKEN\"},\n  {\n    \"email\": \"b@example.org\",\n    \"password\": \"pw\", \"imap_host\": \"127.0.0.1\", \"imap_port\": 993\n  },\n  {\"password\": \"x\"},\n  \"not an object\",\n  {\"mail\": \"c@gmail.com\", \"refreshToken\": \"short\", \"clientId\": \"$GUID\", \"smtpHost\": \"smtp.gmail.com\", \"smtpPort\": 465, \"smtpTls\": \"implicit\"}\n]\n"
seed broken.json "[\n{\"email\": \"a@b.com\",\n"
seed object.json "{\"email\": \"a@b.com\", \"password\": \"pw\"}\n"

# Other encodings: UTF-16LE with a BOM, and GBK (张三@qq.com----密码123).
seed utf16le.txt "\0377\0376a\0000@\0000o\0000u\0000t\0000l\0000o\0000o\0000k\0000.\0000c\0000o\0000m\0000:\0000p\0000w\0000\n\0000"
seed gbk.txt "\0325\0305\0310\0375@qq.com----\0303\0334\0302\0353123\n"

for f in "$ROOT"/tests/fixtures/import/*; do
    case "$f" in *.expected.json) continue ;; esac
    cp "$f" "$DIR/fixture-$(basename "$f")"
done
