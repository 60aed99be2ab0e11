package verify

import (
	"fmt"
	"sort"

	"github.com/cunzheng/cunzheng/verify/internal/cos"
)

// The difference analysis of one incremental update follows the design of
// pyHanko's StandardDiffPolicy (pyhanko.sign.diff_analysis), which DSS
// agrees with on the usual cases: an update is innocent only when every
// object it overwrites is explained by a whitelisting rule for its kind of
// object (catalog, document security store, metadata, form, page
// annotations, structure tree), reference by reference. A rule that
// explains an overwritten object through one referrer ("the /AP of this
// field") explains it only if nothing else in the signed revision refers
// to it, so that an update cannot change what a second, unchecked path
// shows (pyHanko's "not all paths cleared"). New objects are neutral
// unless something a rule does not explain points at them; the rules list
// the new objects they vouch for so the report can show them.
//
// The alternative rejected was a list of benign-looking key changes per
// object type, which is what this file replaced: it called every rewrite
// of the catalog by a long-term-validation update "other" and let a
// signed field's appearance be swapped as if it were a signature.

// Keys of the catalog an update may change; each has its own rule
// (ISO 32000-2 §7.7.2; pyHanko ROOT_EXEMPT_STRICT_COMPARISON).
var catalogExempt = keySet("AcroForm", "DSS", "Extensions", "Metadata", "MarkInfo", "Version")

// Keys of the interactive form dictionary that filling in or signing
// changes. /SigFlags is also allowed here (pyHanko is stricter): it only
// tells a viewer that signatures exist.
var acroFormExempt = keySet("Fields", "DR", "DA", "Q", "NeedAppearances", "SigFlags")

// Field keys that may change at any time, and those that filling in a
// value changes (pyHanko FORMFIELD_ALWAYS_MODIFIABLE, VALUE_UPDATE_KEYS).
var (
	fieldAlwaysModifiable = keySet("Ff", "Type")
	fieldValueKeys        = keySet("Ff", "Type", "AP", "AS", "V", "F", "DA", "Q")
)

func keySet(keys ...cos.Name) map[cos.Name]bool {
	m := map[cos.Name]bool{}
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// trailerReferrer stands for the trailer among referrers: object 0 is
// always free.
const trailerReferrer = 0

// approval is one rule's explanation of an object.
type approval struct {
	kind  string
	field string
	via   map[slot]bool // the only referrers allowed; nil approves whatever refers to it
}

// slot is a place that can hold a reference: the value of key in object
// num (trailerReferrer for the trailer), key "" for the whole object or
// an array. Direct dictionaries nested in an object share the slot of the
// object's key they sit under: pyHanko tells paths apart, and the
// first key of a path is where two uses of one object diverge in practice
// (/Extensions and /DontOverrideMe of one catalog).
type slot struct {
	num uint32
	key cos.Name
}

// obj is the slot of a dictionary that is itself object n.
func obj(n uint32) slot { return slot{num: n} }

// at is the slot of the value of key in a dictionary held at h.
func (h slot) at(key cos.Name) slot {
	if h.key == "" {
		return slot{h.num, key}
	}
	return h
}

// revDiff is the analysis of one revision against the one before.
type revDiff struct {
	old, cur  *cos.File
	revNo     int
	approvals map[uint32][]approval
	reasons   map[uint32]string // why an object could not be explained
	findings  []Change
	referrers map[uint32]map[slot]bool // of the old revision, built on first need
	sigWidget map[cos.Ref]string       // widgets of newly created signature fields
	work      int
}

// maxDiffWork bounds the objects one revision's rules visit.
const maxDiffWork = 200000

func (d *revDiff) spend() bool {
	d.work++
	return d.work <= maxDiffWork
}

// diffRevision lists what cur changed relative to old, each change with
// its kind; kind "other" is a change no rule explains.
func diffRevision(old, cur *cos.File, revNo int) []Change {
	d := &revDiff{old: old, cur: cur, revNo: revNo,
		approvals: map[uint32][]approval{}, reasons: map[uint32]string{}, sigWidget: map[cos.Ref]string{}}
	oldRootRef, _ := old.Trailer["Root"].(cos.Ref)
	newRootRef, _ := cur.Trailer["Root"].(cos.Ref)
	oldRoot, _ := old.Resolve(oldRootRef).(cos.Dict)
	newRoot, _ := cur.Resolve(newRootRef).(cos.Dict)
	if oldRoot == nil || newRoot == nil {
		return []Change{{Revision: revNo, Kind: ChangeOther, Object: "the document catalog cannot be read"}}
	}
	if newRootRef != oldRootRef && old.Has(newRootRef.Num) {
		d.finding("", "the trailer's /Root now names another existing object %d", newRootRef.Num)
	}
	rootNum := newRootRef.Num
	rootKind := d.catalog(oldRoot, newRoot, rootNum)
	d.docInfo()
	d.dss(oldRoot, newRoot, rootNum)
	d.metadata(oldRoot, newRoot, rootNum)
	if k := d.form(oldRoot, newRoot, rootNum); k != "" && !valueEqual(oldRoot["AcroForm"], newRoot["AcroForm"]) {
		rootKind = maxKind(rootKind, k)
	}
	d.pages(oldRoot["Pages"], newRoot["Pages"])
	d.annotations()
	d.structTree(oldRoot, newRoot)
	if rootKind != "" || d.overwritten(rootNum) {
		if rootKind == "" {
			rootKind = ChangeMetadata
		}
		if d.reasons[rootNum] == "" {
			d.approve(rootNum, rootKind, "", nil)
		}
	}
	out := d.judge()
	// Fail closed: a revision that could not be read completely, or whose
	// analysis ran out of its allowance, may hide a change.
	if d.work > maxDiffWork || old.Err() != nil || cur.Err() != nil {
		out = append(out, Change{Revision: revNo, Kind: ChangeOther, Object: "the revision could not be analysed completely within the limits"})
	}
	return out
}

func (d *revDiff) finding(field, format string, args ...any) {
	d.findings = append(d.findings, Change{Revision: d.revNo, Kind: ChangeOther, Object: fmt.Sprintf(format, args...), Field: field})
}

// approve records that a rule explains object num; via lists the only
// objects that may refer to it in the signed revision (nil: any).
func (d *revDiff) approve(num uint32, kind, field string, via []slot) {
	a := approval{kind: kind, field: field}
	if via != nil {
		a.via = map[slot]bool{}
		for _, v := range via {
			a.via[v] = true
		}
	}
	d.approvals[num] = append(d.approvals[num], a)
}

// fresh reports whether r names an object the old revision did not have.
func (d *revDiff) fresh(r cos.Ref) bool { return !d.old.Has(r.Num) }

// overwritten reports whether this revision replaced existing object num
// with something different.
func (d *revDiff) overwritten(num uint32) bool {
	if num == 0 || !d.old.Has(num) || !d.inSection(num) {
		return false
	}
	if !d.cur.Has(num) {
		return true
	}
	return !sameObject(d.old, d.old.Get(num), d.cur, d.cur.Get(num))
}

func (d *revDiff) inSection(num uint32) bool {
	for _, n := range d.cur.Section() {
		if n == num {
			return true
		}
	}
	return false
}

// keyRef compares the value of key in two versions of a dictionary held
// by object holder (pyHanko compare_key_refs): an indirect value may be
// updated in place or replaced by a new object, never pointed at another
// existing one, and a value may not be removed. It approves the in-place
// update through holder and returns both resolved values.
func (d *revDiff) keyRef(key cos.Name, oldD, newD cos.Dict, h slot, kind, field string) (cos.Object, cos.Object, bool) {
	ov, nv := oldD[key], newD[key]
	if nv == nil {
		if ov != nil {
			d.finding(field, "/%s was removed", key)
			return nil, nil, false
		}
		return nil, nil, true
	}
	if nr, ok := nv.(cos.Ref); ok {
		or, wasRef := ov.(cos.Ref)
		switch {
		case wasRef && or == nr:
			if d.overwritten(nr.Num) {
				d.approve(nr.Num, kind, field, []slot{h.at(key)})
			}
		case d.fresh(nr):
			d.approve(nr.Num, kind, field, nil)
		default:
			d.finding(field, "/%s now points at existing object %d", key, nr.Num)
			return nil, nil, false
		}
	}
	return d.old.Resolve(ov), d.cur.Resolve(nv), true
}

// holderOf is the object that holds the value of key in a dictionary held
// by holder: the value's own object when it is indirect.
func holderOf(d cos.Dict, key cos.Name, h slot) slot {
	if r, ok := d[key].(cos.Ref); ok {
		return obj(r.Num)
	}
	return h.at(key)
}

// catalog applies the catalog rule: every key but the exempt ones is
// unchanged. It returns the kind the exempt changes amount to.
func (d *revDiff) catalog(oldRoot, newRoot cos.Dict, rootNum uint32) string {
	if k, ok := firstDifference(oldRoot, newRoot, catalogExempt); !ok {
		d.reasons[rootNum] = fmt.Sprintf("document catalog: /%s changed", k)
		return ""
	}
	kind := ""
	if !valueEqual(oldRoot["DSS"], newRoot["DSS"]) || !valueEqual(oldRoot["Extensions"], newRoot["Extensions"]) {
		kind = ChangeDSS
	}
	for _, k := range []cos.Name{"Metadata", "MarkInfo", "Version"} {
		if !valueEqual(oldRoot[k], newRoot[k]) {
			kind = maxKind(kind, ChangeMetadata)
		}
	}
	d.keyRef("Extensions", oldRoot, newRoot, obj(rootNum), ChangeDSS, "")
	d.keyRef("MarkInfo", oldRoot, newRoot, obj(rootNum), ChangeMetadata, "")
	if v, ok := newRoot["Version"]; ok {
		if _, isName := v.(cos.Name); !isName {
			d.finding("", "the catalog's /Version is not a name")
		}
	}
	return kind
}

// docInfo allows the document information dictionary to be updated.
func (d *revDiff) docInfo() {
	oi, _ := d.old.Trailer["Info"].(cos.Ref)
	ni, ok := d.cur.Trailer["Info"].(cos.Ref)
	if !ok {
		return
	}
	if _, isDict := d.cur.Resolve(ni).(cos.Dict); !isDict {
		return
	}
	switch {
	case ni == oi && d.overwritten(ni.Num):
		d.approve(ni.Num, ChangeMetadata, "", []slot{{trailerReferrer, "Info"}})
	case d.fresh(ni):
		d.approve(ni.Num, ChangeMetadata, "", nil)
	}
}

// metadata allows the catalog's XMP stream to be replaced or updated.
func (d *revDiff) metadata(oldRoot, newRoot cos.Dict, rootNum uint32) {
	_, nv, ok := d.keyRef("Metadata", oldRoot, newRoot, obj(rootNum), ChangeMetadata, "")
	if !ok || nv == nil {
		return
	}
	if s, isStream := nv.(*cos.Stream); !isStream || s.Dict["Type"] != cos.Name("Metadata") {
		d.finding("", "the catalog's /Metadata is not a metadata stream")
	}
}

// dss applies the document security store rule (PAdES, ETSI EN 319 142-1
// §5.4; pyHanko DSSCompareRule): only its known keys, arrays of streams,
// and VRI entries that are only ever added.
func (d *revDiff) dss(oldRoot, newRoot cos.Dict, rootNum uint32) {
	ov, nv, ok := d.keyRef("DSS", oldRoot, newRoot, obj(rootNum), ChangeDSS, "")
	if !ok || nv == nil {
		return
	}
	nd, isDict := nv.(cos.Dict)
	if !isDict {
		d.finding("", "/DSS is not a dictionary")
		return
	}
	od, _ := ov.(cos.Dict)
	holder := holderOf(newRoot, "DSS", obj(rootNum))
	for k := range nd {
		switch k {
		case "Type", "VRI", "Certs", "CRLs", "OCSPs":
		default:
			d.finding("", "unexpected key /%s in the DSS", k)
		}
	}
	for _, k := range []cos.Name{"Certs", "CRLs", "OCSPs"} {
		d.streamArray(k, od, nd, holder)
	}
	ovri, nvri, ok := d.keyRef("VRI", od, nd, holder, ChangeDSS, "")
	if !ok || nvri == nil {
		return
	}
	nvd, isDict := nvri.(cos.Dict)
	if !isDict {
		d.finding("", "/VRI is not a dictionary")
		return
	}
	ovd, _ := ovri.(cos.Dict)
	for k, v := range ovd {
		if !valueEqual(v, nvd[k]) {
			d.finding("", "VRI entry %s was changed or removed", k)
		}
	}
	vholder := holderOf(nd, "VRI", holder)
	for k, v := range nvd {
		if _, had := ovd[k]; had || !d.spend() {
			continue
		}
		if !isHexKey(k) {
			d.finding("", "VRI key %q is not a hash", string(k))
			continue
		}
		eholder := vholder
		if r, isRef := v.(cos.Ref); isRef {
			if !d.fresh(r) {
				d.finding("", "VRI entry %s points at an existing object", k)
				continue
			}
			d.approve(r.Num, ChangeDSS, "", nil)
			eholder = obj(r.Num)
		}
		e, isDict := d.cur.Resolve(v).(cos.Dict)
		if !isDict {
			d.finding("", "VRI entry %s is not a dictionary", k)
			continue
		}
		for ek := range e {
			switch ek {
			case "Type", "TU", "TS", "Cert", "CRL", "OCSP":
			default:
				d.finding("", "unexpected key /%s in VRI entry", ek)
			}
		}
		for _, ek := range []cos.Name{"Cert", "CRL", "OCSP"} {
			d.streamArray(ek, nil, e, eholder)
		}
		if r, isRef := e["TS"].(cos.Ref); isRef && d.fresh(r) {
			d.approve(r.Num, ChangeDSS, "", nil)
		}
	}
}

func isHexKey(k cos.Name) bool {
	if len(k) != 40 && len(k) != 64 {
		return false
	}
	for _, c := range []byte(k) {
		if !isHex(c) {
			return false
		}
	}
	return true
}

// streamArray checks a DSS or VRI array of references to streams.
func (d *revDiff) streamArray(key cos.Name, oldD, newD cos.Dict, holder slot) {
	if _, ok := newD[key]; !ok {
		return
	}
	_, nv, ok := d.keyRef(key, oldD, newD, holder, ChangeDSS, "")
	if !ok {
		return
	}
	arr, isArr := nv.(cos.Array)
	if !isArr {
		d.finding("", "/%s in the DSS is not an array", key)
		return
	}
	for _, o := range arr {
		r, isRef := o.(cos.Ref)
		if !isRef {
			d.finding("", "/%s in the DSS holds a direct object", key)
			return
		}
		if !d.spend() {
			return
		}
		if _, isStream := d.cur.Resolve(r).(*cos.Stream); !isStream {
			d.finding("", "/%s in the DSS holds something other than a stream", key)
			return
		}
		if d.fresh(r) {
			d.approve(r.Num, ChangeDSS, "", nil)
		}
	}
}

// fieldEntry is one terminal or non-terminal field of a form tree.
type fieldEntry struct {
	ref  cos.Ref
	dict cos.Dict
	ft   cos.Name
}

// listFields walks a field tree by partial names (§12.7.4): named kids
// are fields, unnamed ones are widgets (recorded in widgets).
func (d *revDiff) listFields(f *cos.File, arr cos.Array, parent string, ft cos.Name, depth int, into map[string]fieldEntry, widgets map[cos.Ref]string, seen map[uint32]bool) {
	if depth > 32 {
		return
	}
	for _, o := range arr {
		if !d.spend() {
			return
		}
		r, isRef := o.(cos.Ref)
		if !isRef || seen[r.Num] {
			continue
		}
		seen[r.Num] = true
		fd, isDict := f.Resolve(r).(cos.Dict)
		if !isDict {
			continue
		}
		t, named := f.Resolve(fd["T"]).(cos.String)
		if !named {
			if parent != "" {
				widgets[r] = parent
			}
			continue
		}
		name := textString(t)
		if parent != "" {
			name = parent + "." + name
		}
		fft := ft
		if n, ok := fd["FT"].(cos.Name); ok {
			fft = n
		}
		into[name] = fieldEntry{ref: r, dict: fd, ft: fft}
		if kids, ok := f.Resolve(fd["Kids"]).(cos.Array); ok {
			d.listFields(f, kids, name, fft, depth+1, into, widgets, seen)
		} else if _, isWidget := fd["Subtype"]; isWidget || fd["Rect"] != nil {
			widgets[r] = name
		}
	}
}

// form applies the form rule (pyHanko FormUpdatingRule with the
// signature-field creation, signature-field and generic field rules). It
// returns the kind of the form's change.
func (d *revDiff) form(oldRoot, newRoot cos.Dict, rootNum uint32) string {
	oaf, _ := d.old.Resolve(oldRoot["AcroForm"]).(cos.Dict)
	naf, _ := d.cur.Resolve(newRoot["AcroForm"]).(cos.Dict)
	if naf == nil {
		if oaf != nil {
			d.finding("", "the interactive form was removed")
		}
		return ""
	}
	afHolder := holderOf(newRoot, "AcroForm", obj(rootNum))
	if k, ok := firstDifference(oaf, naf, acroFormExempt); !ok {
		d.finding("", "interactive form: /%s changed", k)
	}
	oldFields := map[string]fieldEntry{}
	newFields := map[string]fieldEntry{}
	oldWidgets := map[cos.Ref]string{}
	newWidgets := map[cos.Ref]string{}
	ofa, _ := d.old.Resolve(oaf["Fields"]).(cos.Array)
	nfa, _ := d.cur.Resolve(naf["Fields"]).(cos.Array)
	d.listFields(d.old, ofa, "", "", 0, oldFields, oldWidgets, map[uint32]bool{})
	d.listFields(d.cur, nfa, "", "", 0, newFields, newWidgets, map[uint32]bool{})

	kind := ""
	names := make([]string, 0, len(newFields))
	for n := range newFields {
		names = append(names, n)
	}
	sort.Strings(names)
	for n, e := range oldFields {
		if _, ok := newFields[n]; !ok {
			d.finding(n, "form field %q was removed", n)
		} else if newFields[n].ft != e.ft {
			d.finding(n, "form field %q changed type", n)
		}
	}
	for _, name := range names {
		ne := newFields[name]
		oe, existed := oldFields[name]
		var k string
		switch {
		case !existed:
			k = d.newField(name, ne)
		case ne.ft == "Sig":
			k = d.sigField(name, oe, ne)
		default:
			k = d.valueField(name, oe, ne, ChangeFormFill)
		}
		kind = maxKind(kind, k)
	}
	// Widgets that are kids of a field: judged with their field.
	for r, name := range newWidgets {
		if _, had := oldWidgets[r]; !had || !d.overwritten(r.Num) || newFields[name].ref == r {
			continue // new, unchanged, or a field that is its own widget (judged above)
		}
		od, _ := d.old.Resolve(r).(cos.Dict)
		nd, _ := d.cur.Resolve(r).(cos.Dict)
		ne := newFields[name]
		oe := oldFields[name]
		if ne.ft == "Sig" {
			if oe.dict != nil && oe.dict["V"] != nil {
				if _, ok := firstDifference(od, nd, fieldAlwaysModifiable); ok {
					d.approve(r.Num, ChangeSignature, name, nil)
				}
				continue
			}
			kind = maxKind(kind, d.valueField(name, fieldEntry{ref: r, dict: od, ft: "Sig"}, fieldEntry{ref: r, dict: nd, ft: "Sig"}, ChangeSignature))
			continue
		}
		kind = maxKind(kind, d.valueField(name, fieldEntry{ref: r, dict: od, ft: ne.ft}, fieldEntry{ref: r, dict: nd, ft: ne.ft}, ChangeFormFill))
	}

	formKind := kind
	if formKind == "" {
		formKind = ChangeFormFill
	}
	if r, ok := newRoot["AcroForm"].(cos.Ref); ok {
		if or, _ := oldRoot["AcroForm"].(cos.Ref); or == r && d.overwritten(r.Num) {
			d.approve(r.Num, formKind, "", []slot{{rootNum, "AcroForm"}})
		} else if or != r && !d.fresh(r) {
			d.finding("", "/AcroForm now points at existing object %d", r.Num)
		}
	}
	if oaf == nil {
		oaf = cos.Dict{}
	}
	d.keyRef("Fields", oaf, naf, afHolder, formKind, "")
	// Default resources: fonts a filled-in field needs may be added.
	if !valueEqual(oaf["DR"], naf["DR"]) || !valueEqual(oaf["DA"], naf["DA"]) || !valueEqual(oaf["NeedAppearances"], naf["NeedAppearances"]) {
		kind = maxKind(kind, ChangeFormFill)
	}
	odr, ndr, ok := d.keyRef("DR", oaf, naf, afHolder, ChangeFormFill, "")
	if ok && ndr != nil {
		odd, _ := odr.(cos.Dict)
		ndd, _ := ndr.(cos.Dict)
		drHolder := holderOf(naf, "DR", afHolder)
		for k := range ndd {
			osub, nsub, ok := d.keyRef(k, odd, ndd, drHolder, ChangeFormFill, "")
			if !ok {
				continue
			}
			// Resources may be added, never changed or removed.
			if os, isDict := osub.(cos.Dict); isDict {
				ns, _ := nsub.(cos.Dict)
				for rk, rv := range os {
					if !valueEqual(rv, ns[rk]) {
						d.finding("", "form default resource /%s /%s was changed or removed", k, rk)
					}
				}
			}
		}
		for k := range odd {
			if _, ok := ndd[k]; !ok {
				d.finding("", "form default resources /%s were removed", k)
			}
		}
	}
	return kind
}

// newField judges a field that did not exist: only signature fields may
// be created (pyHanko SigFieldCreationRule).
func (d *revDiff) newField(name string, e fieldEntry) string {
	if e.ft != "Sig" {
		d.finding(name, "a new form field %q was added", name)
		return ChangeOther
	}
	if !d.fresh(e.ref) {
		d.reasons[e.ref.Num] = fmt.Sprintf("existing object reused as the new signature field %q", name)
		return ChangeOther
	}
	d.approve(e.ref.Num, ChangeSignature, name, nil)
	if kids, ok := d.cur.Resolve(e.dict["Kids"]).(cos.Array); ok {
		for _, k := range kids {
			if r, isRef := k.(cos.Ref); isRef && d.fresh(r) {
				d.sigWidget[r] = name
				d.approve(r.Num, ChangeSignature, name, nil)
			}
		}
	} else {
		d.sigWidget[e.ref] = name
	}
	kind := ChangeSignature
	if e.dict["V"] != nil {
		kind = d.sigValue(name, e)
	}
	return kind
}

// sigValue approves the signature dictionary a field now holds.
func (d *revDiff) sigValue(name string, e fieldEntry) string {
	r, isRef := e.dict["V"].(cos.Ref)
	if !isRef {
		d.finding(name, "the value of signature field %q is not an indirect object", name)
		return ChangeOther
	}
	sd, isDict := d.cur.Resolve(r).(cos.Dict)
	if !isDict {
		d.finding(name, "the value of signature field %q is not a dictionary", name)
		return ChangeOther
	}
	kind := ChangeSignature
	if sd["Type"] == cos.Name("DocTimeStamp") {
		kind = ChangeTimestamp
	}
	if d.fresh(r) {
		d.approve(r.Num, kind, name, nil)
	} else if d.overwritten(r.Num) {
		d.approve(r.Num, kind, name, []slot{{e.ref.Num, "V"}})
	}
	if refs, ok := sd["Reference"].(cos.Array); ok {
		for _, o := range refs {
			rd, _ := d.cur.Resolve(o).(cos.Dict)
			if tp, isRef := rd["TransformParams"].(cos.Ref); isRef && d.fresh(tp) {
				d.approve(tp.Num, kind, name, nil)
			}
			if or, isRef := o.(cos.Ref); isRef && d.fresh(or) {
				d.approve(or.Num, kind, name, nil)
			}
		}
	}
	return kind
}

// sigField judges an existing signature field (pyHanko
// SigFieldModificationRule): it may be signed once, with its appearance;
// a signed field may not change at all, which is what stops an update
// from replacing the appearance of a signature ("shadow" attacks).
func (d *revDiff) sigField(name string, oe, ne fieldEntry) string {
	prevSigned := oe.dict["V"] != nil
	nowSigned := ne.dict["V"] != nil
	if prevSigned || !nowSigned {
		if d.overwritten(ne.ref.Num) {
			if k, ok := firstDifference(oe.dict, ne.dict, fieldAlwaysModifiable); ok {
				d.approve(ne.ref.Num, ChangeSignature, name, nil)
			} else {
				d.reasons[ne.ref.Num] = fmt.Sprintf("signature field %q: /%s changed", name, k)
			}
		}
		return ""
	}
	if k, ok := firstDifference(oe.dict, ne.dict, fieldValueKeys); !ok {
		d.reasons[ne.ref.Num] = fmt.Sprintf("signature field %q: /%s changed", name, k)
		return ChangeOther
	}
	if d.overwritten(ne.ref.Num) {
		d.approve(ne.ref.Num, ChangeSignature, name, nil)
	}
	d.appearance(name, oe.dict, ne.dict, ne.ref.Num, ChangeSignature)
	return d.sigValue(name, ne)
}

// valueField judges an existing field or widget whose value may be filled
// in (pyHanko GenericFieldModificationRule).
func (d *revDiff) valueField(name string, oe, ne fieldEntry, kind string) string {
	if !d.overwritten(ne.ref.Num) && !d.appearanceChanged(oe.dict, ne.dict) {
		return ""
	}
	if k, ok := firstDifference(oe.dict, ne.dict, fieldValueKeys); !ok {
		d.reasons[ne.ref.Num] = fmt.Sprintf("form field %q: /%s changed", name, k)
		return ChangeOther
	}
	if d.overwritten(ne.ref.Num) {
		d.approve(ne.ref.Num, kind, name, nil)
	}
	d.appearance(name, oe.dict, ne.dict, ne.ref.Num, kind)
	if r, isRef := ne.dict["V"].(cos.Ref); isRef && d.fresh(r) {
		d.approve(r.Num, kind, name, nil)
	}
	return kind
}

// appearanceChanged reports whether an indirect appearance dictionary or
// stream of a field was overwritten in this revision.
func (d *revDiff) appearanceChanged(od, nd cos.Dict) bool {
	r, isRef := nd["AP"].(cos.Ref)
	if isRef && d.overwritten(r.Num) {
		return true
	}
	ap, _ := d.cur.Resolve(nd["AP"]).(cos.Dict)
	for _, k := range []cos.Name{"N", "R", "D"} {
		if sr, isRef := ap[k].(cos.Ref); isRef && d.overwritten(sr.Num) {
			return true
		}
	}
	return false
}

// appearance allows a field's appearance to follow its new value
// (pyHanko _allow_appearance_update and its in-place variant): new
// appearance streams are fine; an appearance dictionary or stream
// rewritten in place only when this field alone uses it in the signed
// revision.
func (d *revDiff) appearance(name string, od, nd cos.Dict, fieldNum uint32, kind string) {
	if _, isDict := d.cur.Resolve(nd["AP"]).(cos.Dict); nd["AP"] != nil && !isDict {
		d.finding(name, "the appearance of %q is not a dictionary", name)
		return
	}
	oap, nap, ok := d.keyRef("AP", od, nd, obj(fieldNum), kind, name)
	if !ok || nap == nil {
		return
	}
	napd, _ := nap.(cos.Dict)
	oapd, _ := oap.(cos.Dict)
	apHolder := holderOf(nd, "AP", obj(fieldNum))
	// A new appearance for a field whose old appearance dictionary is
	// shared with another use would leave that use checked by nothing
	// (pyHanko refuses it too).
	if r, isRef := od["AP"].(cos.Ref); isRef {
		for ref := range d.referrersOf(r.Num) {
			if ref != (slot{fieldNum, "AP"}) {
				d.finding(name, "the appearance dictionary of %q (object %d) is also used by %s", name, r.Num, ref)
				break
			}
		}
	}
	_, stateful := od["AS"]
	for _, k := range []cos.Name{"N", "R", "D"} {
		nv, ov := napd[k], oapd[k]
		if sub, isDict := d.cur.Resolve(nv).(cos.Dict); isDict {
			// Appearance states of a check box or radio button.
			osub, _ := d.old.Resolve(ov).(cos.Dict)
			h := holderOf(napd, k, apHolder)
			if r, isRef := nv.(cos.Ref); isRef {
				if or, _ := ov.(cos.Ref); or == r && d.overwritten(r.Num) {
					d.approve(r.Num, kind, name, []slot{apHolder.at(k)})
				}
			}
			for st, sv := range sub {
				d.appearanceStream(name, sv, osub[st], h.at(st), kind, stateful)
			}
			continue
		}
		d.appearanceStream(name, nv, ov, apHolder.at(k), kind, stateful)
	}
}

func (d *revDiff) appearanceStream(name string, nv, ov cos.Object, at slot, kind string, stateful bool) {
	r, isRef := nv.(cos.Ref)
	if !isRef {
		return
	}
	if d.fresh(r) {
		d.approve(r.Num, kind, name, nil)
		return
	}
	if or, _ := ov.(cos.Ref); or == r && !stateful && d.overwritten(r.Num) {
		d.approve(r.Num, kind, name, []slot{at})
	}
}

// pages applies the page rule: the page tree keeps its shape; a page may
// gain annotations (its dictionary otherwise equal, numbers compared by
// value, so 612.0 and 612 are the same); the new annotations decide the
// kind of change.
func (d *revDiff) pages(oldPages, newPages cos.Object) {
	seen := map[uint32]bool{}
	var walk func(o, n cos.Object, depth int)
	walk = func(o, n cos.Object, depth int) {
		if depth > 32 || !d.spend() {
			return
		}
		or, _ := o.(cos.Ref)
		nr, isRef := n.(cos.Ref)
		if !isRef || or != nr {
			d.finding("", "the page tree was restructured")
			return
		}
		if seen[nr.Num] {
			return
		}
		seen[nr.Num] = true
		od, _ := d.old.Resolve(o).(cos.Dict)
		nd, _ := d.cur.Resolve(n).(cos.Dict)
		if od == nil || nd == nil {
			return
		}
		okids, isPages := d.old.Resolve(od["Kids"]).(cos.Array)
		if isPages && od["Type"] != cos.Name("Page") {
			nkids, _ := d.cur.Resolve(nd["Kids"]).(cos.Array)
			if len(okids) != len(nkids) || !valueEqual(okids, nkids) {
				d.finding("", "the page tree was restructured")
				return
			}
			if d.overwritten(nr.Num) {
				if k, ok := firstDifference(od, nd, nil); !ok {
					d.reasons[nr.Num] = fmt.Sprintf("page tree node: /%s changed", k)
				}
			}
			for i := range nkids {
				walk(okids[i], nkids[i], depth+1)
			}
			return
		}
		d.page(nr.Num, od, nd)
	}
	walk(oldPages, newPages, 0)
}

func (d *revDiff) page(num uint32, od, nd cos.Dict) {
	annotsRef, indirect := nd["Annots"].(cos.Ref)
	if !d.overwritten(num) && !(indirect && d.overwritten(annotsRef.Num)) {
		return
	}
	if k, ok := firstDifference(od, nd, keySet("Annots")); !ok {
		d.reasons[num] = fmt.Sprintf("page: /%s changed", k)
		return
	}
	oldA, _ := d.old.Resolve(od["Annots"]).(cos.Array)
	newA, _ := d.cur.Resolve(nd["Annots"]).(cos.Array)
	had := map[cos.Ref]bool{}
	for _, a := range oldA {
		if r, ok := a.(cos.Ref); ok {
			had[r] = true
		}
	}
	has := map[cos.Ref]bool{}
	kind, field := "", ""
	for _, a := range newA {
		r, ok := a.(cos.Ref)
		if !ok {
			kind = maxKind(kind, ChangeAnnotation) // a direct annotation
			continue
		}
		has[r] = true
		if had[r] || !d.spend() {
			continue
		}
		k, f := d.addedAnnot(r)
		if k == ChangeOther {
			d.reasons[num] = fmt.Sprintf("page: annotation %d added is not allowed (%s)", r.Num, f)
			return
		}
		if k == ChangeSignature {
			field = f
		}
		kind = maxKind(kind, k)
	}
	for r := range had {
		if has[r] {
			continue
		}
		if ad, _ := d.old.Resolve(r).(cos.Dict); ad["Subtype"] == cos.Name("Widget") {
			d.reasons[num] = fmt.Sprintf("page: the widget of a form field (object %d) was removed", r.Num)
			return
		}
		kind = maxKind(kind, ChangeAnnotation)
	}
	if kind == "" {
		return // the same annotations, rewritten
	}
	d.approve(num, kind, field, nil)
	if indirect && (d.fresh(annotsRef) || valueEqual(od["Annots"], nd["Annots"])) {
		d.approve(annotsRef.Num, kind, field, []slot{{num, "Annots"}})
	}
}

// addedAnnot classifies an annotation added to a page.
func (d *revDiff) addedAnnot(r cos.Ref) (kind, detail string) {
	if name, ok := d.sigWidget[r]; ok {
		return ChangeSignature, name
	}
	ad, _ := d.cur.Resolve(r).(cos.Dict)
	sub, _ := ad["Subtype"].(cos.Name)
	switch {
	case ad == nil:
		return ChangeOther, "not a dictionary"
	case annotSubtypes[sub]:
		// Markup annotations and their popups (whose /Parent is the
		// annotation, not a field).
		if d.fresh(r) {
			d.approve(r.Num, ChangeAnnotation, "", nil)
			if p, ok := ad["Popup"].(cos.Ref); ok && d.fresh(p) {
				d.approve(p.Num, ChangeAnnotation, "", nil)
			}
		}
		return ChangeAnnotation, ""
	case sub == "Widget" || isField(ad):
		// A signature widget outside /AcroForm /Fields (poppler's pdfsig
		// 22.12 signs that way) is still a signature.
		if fieldType(d.cur, ad) == "Sig" && d.fresh(r) {
			name := fieldName(d.cur, ad)
			d.approve(r.Num, ChangeSignature, name, nil)
			if ad["V"] != nil {
				return d.sigValue(name, fieldEntry{ref: r, dict: ad, ft: "Sig"}), name
			}
			return ChangeSignature, name
		}
		return ChangeOther, "a new form field widget"
	}
	return ChangeOther, fmt.Sprintf("subtype /%s", sub)
}

// annotations allows existing markup annotations (not widgets) to be
// modified, which DocMDP level 3 permits.
func (d *revDiff) annotations() {
	for _, num := range d.cur.Section() {
		if !d.spend() {
			return
		}
		if !d.overwritten(num) {
			continue
		}
		od, _ := d.old.Get(num).(cos.Dict)
		nd, _ := d.cur.Get(num).(cos.Dict)
		sub, _ := od["Subtype"].(cos.Name)
		if od == nil || nd == nil || !annotSubtypes[sub] || nd["Subtype"] != od["Subtype"] {
			continue
		}
		d.approve(num, ChangeAnnotation, "", nil)
	}
}

// structTree allows the logical structure to gain elements that tag
// annotations and signature widgets added in this revision, and nothing
// else: existing elements keep their kids in order, new kids are new
// elements whose object references point at new objects.
func (d *revDiff) structTree(oldRoot, newRoot cos.Dict) {
	sr, ok := newRoot["StructTreeRoot"].(cos.Ref)
	if !ok {
		return
	}
	for _, num := range d.cur.Section() {
		if !d.spend() {
			return
		}
		if !d.overwritten(num) || d.approvals[num] != nil {
			continue
		}
		od, _ := d.old.Get(num).(cos.Dict)
		nd, _ := d.cur.Get(num).(cos.Dict)
		if od == nil || nd == nil {
			continue
		}
		switch {
		case num == sr.Num:
			if k, ok := firstDifference(od, nd, keySet("K", "ParentTree", "ParentTreeNextKey")); !ok {
				d.reasons[num] = fmt.Sprintf("structure tree root: /%s changed", k)
				continue
			}
			kind, why := d.appended(od["K"], nd["K"])
			if why == "" && !valueEqual(od["ParentTree"], nd["ParentTree"]) {
				if r, isRef := nd["ParentTree"].(cos.Ref); !isRef || !d.fresh(r) {
					why = "its /ParentTree was replaced"
				}
			}
			if why != "" {
				d.reasons[num] = "structure tree root: " + why
				continue
			}
			d.approve(num, maxKind(kind, ChangeAnnotation), "", nil)
		case od["S"] != nil && od["P"] != nil:
			// A structure element.
			if k, ok := firstDifference(od, nd, keySet("K")); !ok {
				d.reasons[num] = fmt.Sprintf("structure element: /%s changed", k)
				continue
			}
			kind, why := d.appended(od["K"], nd["K"])
			if why != "" {
				d.reasons[num] = "structure element: " + why
				continue
			}
			d.approve(num, maxKind(kind, ChangeAnnotation), "", nil)
		case od["Nums"] != nil || (od["Kids"] != nil && od["Limits"] != nil):
			// A node of the parent tree (a number tree, §7.9.7).
			if k, ok := firstDifference(od, nd, keySet("Nums", "Kids", "Limits")); !ok {
				d.reasons[num] = fmt.Sprintf("structure parent tree: /%s changed", k)
				continue
			}
			_, why1 := d.appendedArray(od["Nums"], nd["Nums"], true)
			_, why2 := d.appendedArray(od["Kids"], nd["Kids"], true)
			if why1 != "" || why2 != "" {
				d.reasons[num] = "structure parent tree: " + why1 + why2
				continue
			}
			d.approve(num, ChangeAnnotation, "", nil)
		}
	}
}

// appended checks that the kids nk keep the kids ok in order and that
// every added kid is a new structure element tagging new objects. It
// returns the kind of the tagged objects, or why not.
func (d *revDiff) appended(ok, nk cos.Object) (string, string) {
	oa := asArray(d.old, ok)
	na := asArray(d.cur, nk)
	if len(na) < len(oa) || !valueEqual(oa, na[:len(oa)]) {
		return "", "its kids were changed or removed"
	}
	kind := ""
	for _, o := range na[len(oa):] {
		k, why := d.tags(o, 0)
		if why != "" {
			return "", why
		}
		kind = maxKind(kind, k)
	}
	return kind, ""
}

// appendedArray is appended for a plain array whose added entries are
// new objects or refer only to new objects (parent tree entries).
func (d *revDiff) appendedArray(ov, nv cos.Object, freshOnly bool) (string, string) {
	oa, _ := d.old.Resolve(ov).(cos.Array)
	na, _ := d.cur.Resolve(nv).(cos.Array)
	if len(na) < len(oa) || !valueEqual(oa, na[:len(oa)]) {
		return "", "entries were changed or removed"
	}
	for _, o := range na[len(oa):] {
		if r, isRef := o.(cos.Ref); isRef && !d.fresh(r) {
			return "", fmt.Sprintf("an added entry points at existing object %d", r.Num)
		}
	}
	return "", ""
}

func asArray(f *cos.File, o cos.Object) cos.Array {
	switch v := f.Resolve(o).(type) {
	case cos.Array:
		return v
	case nil:
		return nil
	}
	return cos.Array{o}
}

// tags checks an added structure kid: a new element or object reference
// whose tagged objects are all new annotations or widgets.
func (d *revDiff) tags(o cos.Object, depth int) (string, string) {
	if depth > 8 || !d.spend() {
		return "", "structure nested too deeply"
	}
	if r, isRef := o.(cos.Ref); isRef && !d.fresh(r) {
		return "", fmt.Sprintf("an added kid is existing object %d", r.Num)
	}
	e, isDict := d.cur.Resolve(o).(cos.Dict)
	if !isDict {
		return "", "an added kid tags existing page content"
	}
	if e["Type"] == cos.Name("OBJR") {
		t, isRef := e["Obj"].(cos.Ref)
		if !isRef || !d.fresh(t) {
			return "", "an added object reference tags an existing object"
		}
		ad, _ := d.cur.Resolve(t).(cos.Dict)
		if fieldType(d.cur, ad) == "Sig" {
			return ChangeSignature, ""
		}
		if sub, _ := ad["Subtype"].(cos.Name); annotSubtypes[sub] || sub == "Widget" {
			return ChangeAnnotation, ""
		}
		return "", "an added object reference tags something other than an annotation"
	}
	kind := ""
	for _, k := range asArray(d.cur, e["K"]) {
		kk, why := d.tags(k, depth+1)
		if why != "" {
			return "", why
		}
		kind = maxKind(kind, kk)
	}
	return kind, ""
}

// referrersOf returns the objects of the signed revision that refer to
// num (trailerReferrer for the trailer). The index is built once, on the
// first overwritten object a rule explains through a referrer.
func (d *revDiff) referrersOf(num uint32) map[slot]bool {
	if d.referrers == nil {
		d.referrers = map[uint32]map[slot]bool{}
		add := func(from uint32, o cos.Object) {
			each := func(at slot, v cos.Object) {
				collectRefs(v, 0, func(r cos.Ref) {
					m := d.referrers[r.Num]
					if m == nil {
						m = map[slot]bool{}
						d.referrers[r.Num] = m
					}
					m[at] = true
				})
			}
			if dict, ok := o.(cos.Dict); ok {
				for k, v := range dict {
					each(slot{from, k}, v)
				}
				return
			}
			each(slot{num: from}, o)
		}
		add(trailerReferrer, cos.Dict(d.old.Trailer))
		for _, n := range d.old.Objects() {
			if !d.spend() {
				break
			}
			switch v := d.old.Get(n).(type) {
			case *cos.Stream:
				if v.Dict["Type"] == cos.Name("XRef") {
					add(trailerReferrer, v.Dict) // the trailer of a stream-based revision
				} else {
					add(n, v.Dict)
				}
			default:
				add(n, v)
			}
		}
	}
	return d.referrers[num]
}

func (s slot) String() string {
	where := fmt.Sprintf("object %d", s.num)
	if s.num == trailerReferrer {
		where = "the trailer"
	}
	if s.key != "" {
		where += " /" + string(s.key)
	}
	return where
}

func collectRefs(o cos.Object, depth int, fn func(cos.Ref)) {
	if depth > 64 {
		return
	}
	switch v := o.(type) {
	case cos.Ref:
		fn(v)
	case cos.Array:
		for _, x := range v {
			collectRefs(x, depth+1, fn)
		}
	case cos.Dict:
		for _, x := range v {
			collectRefs(x, depth+1, fn)
		}
	}
}

// judge lists every object this revision wrote that changed something,
// with the kind its rule gave it or "other" when nothing explains it.
func (d *revDiff) judge() []Change {
	out := append([]Change(nil), d.findings...)
	nums := append([]uint32(nil), d.cur.Section()...)
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for i, num := range nums {
		if num == 0 || (i > 0 && nums[i-1] == num) {
			continue
		}
		obj := fmt.Sprintf("object %d", num)
		if !d.cur.Has(num) {
			if d.old.Has(num) {
				out = append(out, Change{Revision: d.revNo, Kind: ChangeOther, Object: obj + " deleted"})
			}
			continue
		}
		aps := d.approvals[num]
		if !d.old.Has(num) {
			if len(aps) > 0 {
				k, f := bestApproval(aps)
				out = append(out, Change{Revision: d.revNo, Kind: k, Object: obj, Field: f})
			}
			continue
		}
		if !d.overwritten(num) {
			continue
		}
		if why := d.reasons[num]; why != "" {
			out = append(out, Change{Revision: d.revNo, Kind: ChangeOther, Object: obj + ": " + why})
			continue
		}
		if len(aps) == 0 {
			out = append(out, Change{Revision: d.revNo, Kind: ChangeOther, Object: obj + describe(d.old.Get(num))})
			continue
		}
		if other, ok := d.otherReferrer(num, aps); ok {
			out = append(out, Change{Revision: d.revNo, Kind: ChangeOther, Object: fmt.Sprintf("%s: rewritten in place but also used by %s in the signed revision", obj, other)})
			continue
		}
		k, f := bestApproval(aps)
		out = append(out, Change{Revision: d.revNo, Kind: k, Object: obj, Field: f})
	}
	return out
}

// otherReferrer returns a slot of the signed revision that refers to num
// and that no approval allows.
func (d *revDiff) otherReferrer(num uint32, aps []approval) (slot, bool) {
	allowed := map[slot]bool{}
	for _, a := range aps {
		if a.via == nil {
			return slot{}, false
		}
		for v := range a.via {
			allowed[v] = true
		}
	}
	for r := range d.referrersOf(num) {
		if !allowed[r] && r.num != num {
			return r, true
		}
	}
	return slot{}, false
}

func describe(o cos.Object) string {
	var d cos.Dict
	switch v := o.(type) {
	case cos.Dict:
		d = v
	case *cos.Stream:
		d = v.Dict
		if t, ok := d["Type"].(cos.Name); ok {
			return fmt.Sprintf(" (a /%s stream)", t)
		}
		return " (a stream)"
	default:
		return ""
	}
	if t, ok := d["Type"].(cos.Name); ok {
		return fmt.Sprintf(" (/%s)", t)
	}
	if s, ok := d["Subtype"].(cos.Name); ok {
		return fmt.Sprintf(" (/%s)", s)
	}
	return ""
}

// kindRank orders kinds by how much DocMDP must allow for them.
var kindRank = map[string]int{
	"": 0, ChangeMetadata: 1, ChangeDSS: 1, ChangeTimestamp: 1,
	ChangeSignature: 2, ChangeFormFill: 3, ChangeAnnotation: 4, ChangeOther: 5,
}

func maxKind(a, b string) string {
	if kindRank[b] > kindRank[a] {
		return b
	}
	return a
}

func bestApproval(aps []approval) (string, string) {
	k, f := "", ""
	for _, a := range aps {
		if kindRank[a.kind] >= kindRank[k] {
			k = a.kind
			if a.field != "" {
				f = a.field
			}
		}
	}
	return k, f
}

// firstDifference compares two dictionaries on every key but those in
// ignore and returns the first key that differs (sorted, so the report is
// stable) or ok.
func firstDifference(a, b cos.Dict, ignore map[cos.Name]bool) (cos.Name, bool) {
	keys := map[cos.Name]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diff []string
	for k := range keys {
		if ignore[k] {
			continue
		}
		if !valueEqual(a[k], b[k]) {
			diff = append(diff, string(k))
		}
	}
	if len(diff) == 0 {
		return "", true
	}
	sort.Strings(diff)
	return cos.Name(diff[0]), false
}

// valueEqual compares direct objects by value: numbers as numbers (a
// writer that re-serialises 612.0 as 612 changes nothing), references by
// identity.
func valueEqual(a, b cos.Object) bool {
	switch x := a.(type) {
	case int64:
		switch y := b.(type) {
		case int64:
			return x == y
		case float64:
			return float64(x) == y
		}
		return false
	case float64:
		switch y := b.(type) {
		case int64:
			return x == float64(y)
		case float64:
			return x == y
		}
		return false
	case cos.Array:
		y, ok := b.(cos.Array)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !valueEqual(x[i], y[i]) {
				return false
			}
		}
		return true
	case cos.Dict:
		y, ok := b.(cos.Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			w, ok := y[k]
			if !ok || !valueEqual(v, w) {
				return false
			}
		}
		return true
	case *cos.Stream:
		y, ok := b.(*cos.Stream)
		return ok && x == y
	}
	return a == b
}
