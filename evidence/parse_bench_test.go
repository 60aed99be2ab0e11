package evidence_test

import (
	"encoding/json"
	"testing"

	"github.com/cunzheng/cunzheng/evidence"
)

func BenchmarkParseEvents(b *testing.B) {
	body, _ := json.Marshal(event(1))
	b.SetBytes(int64(len(body)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := evidence.ParseEvents(body); err != nil {
			b.Fatal(err)
		}
	}
}
