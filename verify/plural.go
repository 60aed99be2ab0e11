package verify

import "strconv"

// count says n things in English, singular for exactly one: "1 log key",
// "2 log keys", "0 hashes". The step texts and problems are read by people
// (a court's clerk, the CLI's user), so "key(s)" is not good enough.
func count(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}
