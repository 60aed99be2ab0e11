#!/bin/sh
# Regenerates the PDF corpus of package verify. Run from the module root:
#   sh testdata/pdf/generate.sh
# then refresh the golden verdicts with: go test ./verify -run TestCorpus -update
#
# Needs Debian packages: poppler-utils (pdfsig), libnss3-tools (certutil,
# pk12util), openssl, qpdf. The Go generator (testdata/pdf/gen) makes the keys,
# the base document, SM2 and other signatures no installed tool makes, and
# the broken variants; pdfsig signs with keys held in an NSS database, so
# the corpus also holds signatures made by code we did not write.
set -eu
DIR=testdata/pdf
rm -f "$DIR"/*.pdf "$DIR"/*.golden.json
go run ./testdata/pdf/gen -dir "$DIR" -step keys

NSS=$(mktemp -d)
trap 'rm -rf "$NSS"' EXIT
certutil -N -d "sql:$NSS" --empty-password
# pdfsig embeds the font of its signature appearance; offer it only the
# smallest one installed so that the corpus stays small.
mkdir "$NSS/fonts"
ln -s /usr/share/fonts/truetype/dejavu/DejaVuSans-ExtraLight.ttf "$NSS/fonts/"
printf '<?xml version="1.0"?>\n<fontconfig><dir>%s/fonts</dir><cachedir>%s/cache</cachedir></fontconfig>\n' "$NSS" "$NSS" >"$NSS/fonts.conf"
export FONTCONFIG_FILE="$NSS/fonts.conf"
for who in rsa-signer rsa-signer2 ec-signer untrusted-signer; do
	case $who in
	ec-*) root=ec-root ;;
	untrusted-*) root=untrusted-root ;;
	*) root=rsa-root ;;
	esac
	openssl pkcs12 -export -inkey "$DIR/keys/$who.key" -in "$DIR/keys/$who.crt" \
		-certfile "$DIR/keys/$root.crt" -name "$who" -passout pass: -out "$NSS/$who.p12"
	pk12util -i "$NSS/$who.p12" -d "sql:$NSS" -W "" >/dev/null
done
for root in rsa-root ec-root untrusted-root; do
	certutil -M -n "$root" -t "CT,C,C" -d "sql:$NSS" 2>/dev/null ||
		certutil -A -n "$root" -t "CT,C,C" -i "$DIR/keys/$root.crt" -d "sql:$NSS"
done

# pdfsig sizes the hole from a dummy signature; an ECDSA value a byte
# longer than the dummy makes it fail ("unable update signature") about one
# time in four, so retry.
sig() { # nick in out reason
	for try in 1 2 3 4 5 6 7 8 9 10; do
		if pdfsig -nssdir "sql:$NSS" -nick "$1" -add-signature -reason "$4" \
			-new-signature-field-name "$(echo "$1" | tr -d -)$try" "$2" "$3" >/dev/null 2>&1; then
			return 0
		fi
	done
	echo "pdfsig failed to sign $3" >&2
	return 1
}
sig rsa-signer "$DIR/base.pdf" "$DIR/pdfsig-rsa.pdf" "first signature"
sig ec-signer "$DIR/base.pdf" "$DIR/pdfsig-ecdsa.pdf" "first signature"
sig untrusted-signer "$DIR/base.pdf" "$DIR/pdfsig-untrusted.pdf" "first signature"
sig rsa-signer2 "$DIR/pdfsig-rsa.pdf" "$DIR/pdfsig-two.pdf" "second signature"
# The same document with a cross-reference stream (PNG predictor) and
# object streams, which pdfsig then updates with an xref stream of its own.
qpdf --object-streams=generate "$DIR/base.pdf" "$NSS/base-objstm.pdf"
sig rsa-signer "$NSS/base-objstm.pdf" "$DIR/pdfsig-objstm.pdf" "first signature"

go run ./testdata/pdf/gen -dir "$DIR" -step variants
# Inputs of the variants that are not test cases themselves.
rm -f "$DIR/pdfsig-two.pdf" "$DIR/pdfsig-ecdsa.pdf" "$DIR/big.pdf"
ls "$DIR"/*.pdf | wc -l
