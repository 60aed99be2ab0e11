package evidencetest

import "testing"

// TestShows: a value shown in its field counts; the same characters inside
// a hash do not.
func TestShows(t *testing.T) {
	for _, tc := range []struct {
		text, v string
		want    bool
	}{
		{"朗读数字 Digits read      0839", "0839", true},
		{"0839", "0839", true},
		{"digits: 0839.", "0839", true},
		{`{"digits":"0839"}`, "0839", true},
		{"<td>0839</td>", "0839", true},
		{"路径 Path 2             034956f51cb3d1d6616344ad93fd26a28e843ee83fbd5f35eae0839af7872958", "0839", false},
		{"朗读数字 Digits read    〔已脱敏 withheld, 4 字 chars〕", "0839", false},
		{"a0839", "0839", false},
		{"08390", "0839", false},
		{"联系人奥巴马先生", "奥巴马", true},
		{"法定代表人王武", "王武", true},
		{"手机 13755550000", "13755550000", true},
		{"x137555500001", "13755550000", false},
	} {
		if got := Shows([]byte(tc.text), tc.v); got != tc.want {
			t.Errorf("Shows(%q, %q) = %v, want %v", tc.text, tc.v, got, tc.want)
		}
	}
}

// TestLeaks: a full value counts wherever it is, inside a longer run too;
// a short one only on its own.
func TestLeaks(t *testing.T) {
	for _, tc := range []struct {
		public, v string
		want      bool
	}{
		{"x137555500001", "13755550000", true},
		{`"account":"13755550000"`, "13755550000", true},
		{"salt 7a7b7c7d7e7f00", "7a7b7c7d7e7f", true},
		{"…5f35eae0839af7872958", "0839", false},
		{`"digits":"0839"`, "0839", true},
		{"digits 0839\n", "0839", true},
		{`"tail":":5172"`, "5172", true},
		{"Ab5172Cd", "5172", false},
		{"周子涵", "周子涵", true},
		{"", "0839", false},
	} {
		if got := Leaks([]byte(tc.public), tc.v); got != tc.want {
			t.Errorf("Leaks(%q, %q) = %v, want %v", tc.public, tc.v, got, tc.want)
		}
		if i := Index([]byte(tc.public), tc.v); tc.want && tc.public[i:i+len(tc.v)] != tc.v {
			t.Errorf("Index(%q, %q) = %d, not the value's place", tc.public, tc.v, i)
		}
	}
}
