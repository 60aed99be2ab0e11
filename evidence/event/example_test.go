package event_test

import (
	"encoding/hex"
	"errors"
	"fmt"

	"github.com/cunzheng/cunzheng/evidence/event"
)

// A bad field is reported with the JSON path of the first problem.
func ExampleParseEvents() {
	body := []byte(`{"events":[{"id":"s1","kind":"contract.signed","time":"2018-11-14T17:22:36+08:00",
	  "contract":{"id":"2125270852621565954"},"actor":{"account":"18501775544"},
	  "data":{"document":{"sha256":"` + fmt.Sprintf("%064x", 1) + `"},"cert_serial":"548f",
	          "positions":[{"page":0,"x":0.6,"y":0.63}]}}]}`)
	_, err := event.ParseEvents(body)
	var ve *event.ValidationError
	if errors.As(err, &ve) {
		fmt.Println(ve.Path)
		fmt.Println(ve.Msg)
	}
	// Output:
	// $.events[0].data.positions[0].page
	// less than 1
}

// Whoever holds a sealed value and its salt can check it against the
// commitment in the public leaf.
func ExampleCommitment() {
	salt := make([]byte, 32) // in the log, 32 fresh random bytes
	c := event.Commitment(salt, "18501775544")
	fmt.Println(hex.EncodeToString(c[:]))
	// Output:
	// 937095097726181ef9e5336e28c9bbb1b6ca5b9180b91879a703a19551a45925
}
