package verify

import (
	"fmt"

	"github.com/cunzheng/cunzheng/verify/internal/cos"
)

// changesAfter lists and classifies what every revision after rev changed,
// and judges each change against the signature's DocMDP and FieldMDP
// permissions (ISO 32000-2 §12.8.2.2). It reports whether anything changed
// and whether every change was allowed.
//
// Classification compares each object a later revision lists in its own
// cross-reference section with the object as the previous revision had it.
// New objects nothing changed refers to (fonts, appearance streams,
// certificates) are neutral: they cannot change what is shown unless a
// changed object points at them, and that object is classified.
func (v *checker) changesAfter(rev int, sig *Signature) ([]Change, bool, bool) {
	var out []Change
	for k := rev + 1; k < len(v.revs); k++ {
		old, cur := v.revs[k-1], v.revs[k]
		if old == nil || cur == nil {
			out = append(out, Change{Revision: k + 1, Kind: ChangeOther, Object: "unreadable revision"})
			continue
		}
		out = append(out, v.revisionChanges(k)...)
	}
	if last := v.ends[len(v.ends)-1]; last < int64(len(v.data)) {
		if len(trimSpace(v.data[last:])) > 0 {
			out = append(out, Change{Revision: len(v.ends) + 1, Kind: ChangeOther, Object: fmt.Sprintf("%d bytes after the last end-of-file marker", int64(len(v.data))-last)})
		}
	}
	allowed := true
	for i := range out {
		out[i].Allowed = permitted(sig, out[i])
		allowed = allowed && out[i].Allowed
	}
	changed := len(out) > 0 || rev+1 < len(v.revs)
	return out, changed, allowed
}

func trimSpace(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\r' || b[0] == '\n' || b[0] == '\t' || b[0] == 0) {
		b = b[1:]
	}
	return b
}

// permitted applies the DocMDP level (1 no changes, 2 form fill and
// signing, 3 also annotations; absent behaves like 3) and FieldMDP locks.
func permitted(sig *Signature, c Change) bool {
	p := sig.DocMDP
	if p == 0 {
		p = 3
	}
	switch c.Kind {
	case ChangeDSS, ChangeMetadata, ChangeTimestamp:
		return true
	case ChangeSignature:
		return p >= 2
	case ChangeFormFill:
		return p >= 2 && !locked(sig, c.Field)
	case ChangeAnnotation:
		return p >= 3
	}
	return false
}

func locked(sig *Signature, field string) bool {
	excluded := false
	for _, f := range sig.LockedFields {
		if f == field {
			return true
		}
		if f == "!"+field {
			excluded = true
		}
	}
	return sig.LockAllFields && !excluded
}

func sameObject(of *cos.File, o cos.Object, nf *cos.File, n cos.Object) bool {
	os, ok1 := o.(*cos.Stream)
	ns, ok2 := n.(*cos.Stream)
	if ok1 || ok2 {
		if !ok1 || !ok2 {
			return false
		}
		od, nd := cloneWithout(os.Dict, "Length"), cloneWithout(ns.Dict, "Length")
		return valueEqual(od, nd) && string(of.Raw(os)) == string(nf.Raw(ns))
	}
	return valueEqual(o, n)
}

func cloneWithout(d cos.Dict, key cos.Name) cos.Dict {
	out := cos.Dict{}
	for k, v := range d {
		if k != key {
			out[k] = v
		}
	}
	return out
}

var annotSubtypes = map[cos.Name]bool{
	"Text": true, "Link": true, "FreeText": true, "Line": true, "Square": true, "Circle": true,
	"Polygon": true, "PolyLine": true, "Highlight": true, "Underline": true, "Squiggly": true,
	"StrikeOut": true, "Caret": true, "Stamp": true, "Ink": true, "Popup": true,
	"FileAttachment": true, "Sound": true, "Redact": true,
}

// fieldType returns a field's /FT, inherited through /Parent.
func fieldType(f *cos.File, d cos.Dict) cos.Name {
	for i := 0; i < 16 && d != nil; i++ {
		if ft, ok := d["FT"].(cos.Name); ok {
			return ft
		}
		d, _ = f.Resolve(d["Parent"]).(cos.Dict)
	}
	return ""
}

func fieldName(f *cos.File, d cos.Dict) string {
	name := ""
	for i := 0; i < 16 && d != nil; i++ {
		if t, ok := f.Resolve(d["T"]).(cos.String); ok {
			if name == "" {
				name = textString(t)
			} else {
				name = textString(t) + "." + name
			}
		}
		d, _ = f.Resolve(d["Parent"]).(cos.Dict)
	}
	return name
}

func isField(d cos.Dict) bool {
	_, ft := d["FT"]
	_, parent := d["Parent"]
	sub, _ := d["Subtype"].(cos.Name)
	return ft || parent || sub == "Widget"
}

// revisionChanges returns what revision k changed relative to k-1,
// analysed once per file whatever the number of signatures.
func (v *checker) revisionChanges(k int) []Change {
	if v.diffs == nil {
		v.diffs = map[int][]Change{}
	}
	if c, ok := v.diffs[k]; ok {
		return c
	}
	c := diffRevision(v.revs[k-1], v.revs[k], k+1)
	v.diffs[k] = c
	return c
}
