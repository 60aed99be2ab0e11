package notary

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// The office's staff (公证员 and clerks) sign in to read what the public
// may not: the office's checks, refusal reasons and the 公证书 of every
// request. Their credentials are a name and a random token; the staff file
// keeps one line per person, "NAME SHA-256(token) in hex", mode 0600, so
// the tokens themselves are stored nowhere. The office reads the file on
// every sign-in: `cunzheng notary staff add/remove` takes effect at once,
// without stopping the office.

// staffTokenPrefix marks a staff token (as czk_ marks the log's API keys).
const staffTokenPrefix = "czs_"

// checkStaffName reports a name the file cannot hold.
func checkStaffName(name string) error {
	if name == "" || len(name) > 64 || strings.ContainsAny(name, " \t\r\n:") {
		return fmt.Errorf("notary: staff name %q: must be 1-64 bytes without spaces or colons", name)
	}
	return nil
}

// readStaff returns the lines of the staff file (none if it is absent).
func readStaff(path string) ([][2]string, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("notary: reading the staff file: %w", err)
	}
	var out [][2]string
	sc := bufio.NewScanner(bytes.NewReader(b))
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, sum, ok := strings.Cut(line, " ")
		if d, err := hex.DecodeString(sum); !ok || err != nil || len(d) != sha256.Size {
			return nil, fmt.Errorf("notary: staff file %s line %d: want NAME and a hex SHA-256", path, n)
		}
		out = append(out, [2]string{name, sum})
	}
	return out, nil
}

// writeStaff replaces the staff file with lines, atomically.
func writeStaff(path string, lines [][2]string) error {
	var b bytes.Buffer
	b.WriteString("# cunzheng notary office staff: NAME SHA-256(token); edit with cunzheng notary staff add/remove\n")
	for _, l := range lines {
		fmt.Fprintf(&b, "%s %s\n", l[0], l[1])
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("notary: staff file: %w", err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("notary: writing the staff file: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("notary: writing the staff file: %w", err)
	}
	return nil
}

// AddStaff adds a person to the staff file at path and returns their new
// token, which is shown once and stored nowhere. A name already there
// gets a new token (the old one stops working).
func AddStaff(path, name string) (string, error) {
	if err := checkStaffName(name); err != nil {
		return "", err
	}
	lines, err := readStaff(path)
	if err != nil {
		return "", err
	}
	var raw [24]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", fmt.Errorf("notary: staff token: %w", err)
	}
	token := staffTokenPrefix + base64.RawURLEncoding.EncodeToString(raw[:])
	sum := sha256.Sum256([]byte(token))
	kept := lines[:0]
	for _, l := range lines {
		if l[0] != name {
			kept = append(kept, l)
		}
	}
	if err := writeStaff(path, append(kept, [2]string{name, hex.EncodeToString(sum[:])})); err != nil {
		return "", err
	}
	return token, nil
}

// RemoveStaff removes a person from the staff file; it reports whether
// they were there.
func RemoveStaff(path, name string) (bool, error) {
	lines, err := readStaff(path)
	if err != nil {
		return false, err
	}
	kept := lines[:0]
	for _, l := range lines {
		if l[0] != name {
			kept = append(kept, l)
		}
	}
	if len(kept) == len(lines) {
		return false, nil
	}
	return true, writeStaff(path, kept)
}

// StaffSignIn reports whether name and token are a member of the office's
// staff (Config.StaffFile). Without a staff file nobody is.
func (o *Office) StaffSignIn(name, token string) bool {
	if o.staffFile == "" || name == "" || token == "" {
		return false
	}
	lines, err := readStaff(o.staffFile)
	if err != nil {
		o.logger.Error("reading the staff file", "err", err)
		return false
	}
	sum := sha256.Sum256([]byte(token))
	got := hex.EncodeToString(sum[:])
	ok := false
	for _, l := range lines {
		// Every line is compared, in constant time, whatever matched.
		if subtle.ConstantTimeCompare([]byte(l[0]), []byte(name))&subtle.ConstantTimeCompare([]byte(l[1]), []byte(got)) == 1 {
			ok = true
		}
	}
	return ok
}

// HasStaff reports whether the office has a staff file to sign in with.
func (o *Office) HasStaff() bool { return o.staffFile != "" }
