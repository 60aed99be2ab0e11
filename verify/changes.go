package verify

import (
	"fmt"
	"reflect"
	"sort"

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
		out = append(out, classifyRevision(old, cur, k+1)...)
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

func classifyRevision(old, cur *cos.File, revNo int) []Change {
	var out []Change
	nums := append([]uint32(nil), cur.Section()...)
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	info, _ := cur.Trailer["Info"].(cos.Ref)
	for i, num := range nums {
		if i > 0 && nums[i-1] == num || num == 0 {
			continue
		}
		obj := fmt.Sprintf("object %d", num)
		if !cur.Has(num) {
			if old.Has(num) {
				out = append(out, Change{Revision: revNo, Kind: ChangeOther, Object: obj + " deleted"})
			}
			continue
		}
		nv := cur.Get(num)
		var ov cos.Object
		existed := old.Has(num)
		if existed {
			ov = old.Get(num)
			if sameObject(old, ov, cur, nv) {
				continue
			}
		}
		if num == info.Num && info.Num != 0 {
			out = append(out, Change{Revision: revNo, Kind: ChangeMetadata, Object: obj + " (document information)"})
			continue
		}
		kind, field := classifyObject(old, cur, ov, nv, existed)
		if kind == "" {
			continue
		}
		out = append(out, Change{Revision: revNo, Kind: kind, Object: obj, Field: field})
	}
	return out
}

func sameObject(of *cos.File, o cos.Object, nf *cos.File, n cos.Object) bool {
	os, ok1 := o.(*cos.Stream)
	ns, ok2 := n.(*cos.Stream)
	if ok1 || ok2 {
		if !ok1 || !ok2 {
			return false
		}
		od, nd := cloneWithout(os.Dict, "Length"), cloneWithout(ns.Dict, "Length")
		return reflect.DeepEqual(od, nd) && string(of.Raw(os)) == string(nf.Raw(ns))
	}
	return reflect.DeepEqual(o, n)
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

// diffKeys returns the keys whose values differ between two dictionaries.
func diffKeys(a, b cos.Dict) map[cos.Name]bool {
	out := map[cos.Name]bool{}
	for k, v := range a {
		if !reflect.DeepEqual(v, b[k]) {
			out[k] = true
		}
	}
	for k := range b {
		if _, ok := a[k]; !ok {
			out[k] = true
		}
	}
	return out
}

func onlyKeys(diff map[cos.Name]bool, allowed ...cos.Name) bool {
	for k := range diff {
		ok := false
		for _, a := range allowed {
			ok = ok || k == a
		}
		if !ok {
			return false
		}
	}
	return true
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

// classifyObject names the kind of one changed or new object. An empty
// kind means the object is neutral on its own.
func classifyObject(of, nf *cos.File, ov, nv cos.Object, existed bool) (string, string) {
	switch n := nv.(type) {
	case *cos.Stream:
		switch n.Dict["Type"] {
		case cos.Name("XRef"), cos.Name("ObjStm"):
			return "", ""
		case cos.Name("Metadata"):
			return ChangeMetadata, ""
		}
		if !existed {
			return "", ""
		}
		return ChangeOther, ""
	case cos.Dict:
		o, _ := ov.(cos.Dict)
		typ, _ := n["Type"].(cos.Name)
		_, hasBR := n["ByteRange"]
		switch {
		case typ == "DocTimeStamp":
			if existed {
				return ChangeOther, ""
			}
			return ChangeTimestamp, ""
		case typ == "Sig" || hasBR:
			if existed {
				return ChangeOther, ""
			}
			return ChangeSignature, ""
		case typ == "DSS" || typ == "VRI" || isVRIMap(n):
			return ChangeDSS, ""
		case typ == "Catalog":
			if !existed {
				return ChangeOther, ""
			}
			diff := diffKeys(o, n)
			if onlyKeys(diff, "DSS") {
				return ChangeDSS, ""
			}
			if onlyKeys(diff, "DSS", "AcroForm", "Metadata") {
				if diff["AcroForm"] {
					return classifyAcroForm(of, nf, of.Resolve(o["AcroForm"]), nf.Resolve(n["AcroForm"])), ""
				}
				return ChangeMetadata, ""
			}
			return ChangeOther, ""
		case typ == "Page":
			if !existed {
				return ChangeOther, ""
			}
			diff := diffKeys(o, n)
			if !onlyKeys(diff, "Annots") {
				return ChangeOther, ""
			}
			return classifyAnnots(of, nf, o["Annots"], n["Annots"]), ""
		case annotSubtypes[nameOf(n["Subtype"])]:
			// Markup annotations and their popups (whose /Parent is the
			// annotation, not a field).
			return ChangeAnnotation, ""
		case isField(n):
			ft := fieldType(nf, n)
			name := fieldName(nf, n)
			if !existed {
				if ft == "Sig" {
					return ChangeSignature, name
				}
				if ft == "" {
					if sub, _ := n["Subtype"].(cos.Name); sub == "Widget" {
						return ChangeAnnotation, name
					}
				}
				return ChangeOther, name // a new form field
			}
			diff := diffKeys(o, n)
			if ft == "Sig" {
				if o["V"] == nil && onlyKeys(diff, "V", "AP", "AS", "MK", "F", "Lock", "SV") {
					return ChangeSignature, name
				}
				if onlyKeys(diff, "AP", "AS", "MK") {
					return ChangeSignature, name
				}
				return ChangeOther, name
			}
			if onlyKeys(diff, "V", "AS", "AP", "MK") {
				return ChangeFormFill, name
			}
			return ChangeOther, name
		case typ == "Annot" || annotSubtypes[nameOf(n["Subtype"])]:
			return ChangeAnnotation, ""
		case n["Fields"] != nil && typ == "":
			if !existed {
				return classifyAcroForm(of, nf, nil, n), ""
			}
			return classifyAcroForm(of, nf, o, n), ""
		}
		if !existed {
			return "", ""
		}
		return ChangeOther, ""
	}
	if !existed {
		return "", ""
	}
	return ChangeOther, ""
}

func nameOf(o cos.Object) cos.Name {
	n, _ := o.(cos.Name)
	return n
}

// isVRIMap recognises a /VRI dictionary: keys are hex hashes, values dicts.
func isVRIMap(d cos.Dict) bool {
	if len(d) == 0 {
		return false
	}
	for k := range d {
		if len(k) != 40 && len(k) != 64 {
			return false
		}
		for _, c := range []byte(k) {
			if !isHex(c) {
				return false
			}
		}
	}
	return true
}

// classifyAcroForm judges a change of the interactive form dictionary:
// adding signature fields is signing; anything else in /Fields is other;
// the other keys (NeedAppearances, DR, DA, SigFlags) belong to form filling.
func classifyAcroForm(of, nf *cos.File, ov, nv cos.Object) string {
	o, _ := ov.(cos.Dict)
	n, _ := nv.(cos.Dict)
	if n == nil {
		return ChangeOther
	}
	oldFields, _ := of.Resolve(o["Fields"]).(cos.Array)
	newFields, _ := nf.Resolve(n["Fields"]).(cos.Array)
	had := map[cos.Ref]bool{}
	for _, x := range oldFields {
		if r, ok := x.(cos.Ref); ok {
			had[r] = true
		}
	}
	kept := 0
	added := false
	for _, x := range newFields {
		r, ok := x.(cos.Ref)
		if ok && had[r] {
			kept++
			continue
		}
		d, _ := nf.Resolve(x).(cos.Dict)
		if fieldType(nf, d) != "Sig" {
			return ChangeOther
		}
		added = true
	}
	if kept < len(had) {
		return ChangeOther // fields removed
	}
	if added {
		return ChangeSignature
	}
	if onlyKeys(diffKeys(o, n), "Fields", "SigFlags") {
		return ChangeSignature
	}
	return ChangeFormFill
}

// classifyAnnots judges a page's /Annots change by what was added.
func classifyAnnots(of, nf *cos.File, ov, nv cos.Object) string {
	oldA, _ := of.Resolve(ov).(cos.Array)
	newA, _ := nf.Resolve(nv).(cos.Array)
	had := map[cos.Ref]bool{}
	for _, x := range oldA {
		if r, ok := x.(cos.Ref); ok {
			had[r] = true
		}
	}
	kind := ""
	kept := 0
	for _, x := range newA {
		if r, ok := x.(cos.Ref); ok && had[r] {
			kept++
			continue
		}
		d, _ := nf.Resolve(x).(cos.Dict)
		switch {
		case isField(d) && fieldType(nf, d) == "Sig":
			if kind == "" {
				kind = ChangeSignature
			}
		case isField(d) && fieldType(nf, d) != "":
			return ChangeOther // a new form field on the page
		default:
			kind = ChangeAnnotation
		}
	}
	if kept < len(had) {
		return ChangeAnnotation // annotations removed
	}
	if kind == "" {
		return ChangeAnnotation
	}
	return kind
}
