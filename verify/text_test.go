package verify

import (
	"testing"
	"time"

	"github.com/cunzheng/cunzheng/verify/internal/cos"
)

func TestParsePDFDate(t *testing.T) {
	tests := []struct {
		in   string
		want time.Time
		ok   bool
	}{
		{"D:20180819173719+08'00'", time.Date(2018, 8, 19, 9, 37, 19, 0, time.UTC), true},
		{"D:20180819173719Z", time.Date(2018, 8, 19, 17, 37, 19, 0, time.UTC), true},
		{"D:20180819173719-05'30", time.Date(2018, 8, 19, 23, 7, 19, 0, time.UTC), true},
		{"D:2018", time.Date(2018, 1, 1, 0, 0, 0, 0, time.UTC), true},
		{"20180819", time.Date(2018, 8, 19, 0, 0, 0, 0, time.UTC), true},
		{"D:", time.Time{}, false},
		{"yesterday", time.Time{}, false},
		{"D:2018139", time.Time{}, false},
	}
	for _, tt := range tests {
		got, ok := parsePDFDate(tt.in)
		if ok != tt.ok || !got.Equal(tt.want) {
			t.Errorf("parsePDFDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestTextString(t *testing.T) {
	tests := []struct {
		in   cos.Object
		want string
	}{
		{cos.String("\xfe\xff\x5f\x20\x4e\x09"), "张三"},
		{cos.String("\xfe\xff\xd8\x3d\xde\x00"), "😀"},
		{cos.String("\xef\xbb\xbf李四"), "李四"},
		{cos.String("plain"), "plain"},
		{cos.String("\xfe\xff\x00"), ""},
		{cos.Name("x"), ""},
	}
	for _, tt := range tests {
		if got := textString(tt.in); got != tt.want {
			t.Errorf("textString(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}
