package event

import (
	"regexp"
	"regexp/syntax"
)

// stringMatcher is a compiled schema "pattern".
type stringMatcher interface {
	MatchString(s string) bool
	String() string
}

// compilePattern compiles a schema pattern. Most patterns of the event
// schema are one character class repeated over the whole string (ids,
// hashes, credit codes); those are matched by a classRun, which checks
// each character against a table instead of running the regexp machine.
// In a profile of single-event bench ingest, regexp matching took 3.6% of
// the CPU, more than half of schema validation; with class runs, 0.8% (the
// e-mail and phone patterns, which keep the regexp). A class run is read
// from the regexp/syntax parse of the pattern, so the two cannot disagree
// on what a pattern means: FuzzPatternMatchers checks that they also agree
// on what it matches.
func compilePattern(pattern string) (stringMatcher, error) {
	if run, ok := classRunOf(pattern); ok {
		return run, nil
	}
	re, err := regexp.Compile(pattern)
	if err != nil {
		return nil, err
	}
	return re, nil
}

// classRun matches strings of min to max (max < 0: any number of)
// characters that all belong to one class.
type classRun struct {
	source   string
	ascii    [128]bool
	ranges   []rune // pairs lo, hi of the class's characters beyond ASCII
	min, max int
}

// classRunOf recognises ^[class]+$, ^[class]*$ and ^[class]{m,n}$.
func classRunOf(pattern string) (*classRun, bool) {
	re, err := syntax.Parse(pattern, syntax.Perl)
	if err != nil || re.Op != syntax.OpConcat || len(re.Sub) != 3 ||
		re.Sub[0].Op != syntax.OpBeginText || re.Sub[2].Op != syntax.OpEndText {
		return nil, false
	}
	rep := re.Sub[1]
	c := &classRun{source: pattern}
	switch rep.Op {
	case syntax.OpPlus:
		c.min, c.max = 1, -1
	case syntax.OpStar:
		c.min, c.max = 0, -1
	case syntax.OpRepeat:
		c.min, c.max = rep.Min, rep.Max
	default:
		return nil, false
	}
	if len(rep.Sub) != 1 || rep.Sub[0].Op != syntax.OpCharClass || rep.Sub[0].Flags&syntax.FoldCase != 0 {
		return nil, false
	}
	class := rep.Sub[0].Rune
	for i := 0; i+1 < len(class); i += 2 {
		lo, hi := class[i], class[i+1]
		for r := lo; r <= hi && r < 128; r++ {
			c.ascii[r] = true
		}
		if hi >= 128 {
			c.ranges = append(c.ranges, max(lo, 128), hi)
		}
	}
	return c, true
}

// MatchString counts characters as the regexp package does: an invalid
// UTF-8 byte is one U+FFFD.
func (c *classRun) MatchString(s string) bool {
	n := 0
	for _, r := range s {
		if r < 128 {
			if !c.ascii[r] {
				return false
			}
		} else if !c.inRanges(r) {
			return false
		}
		n++
		if c.max >= 0 && n > c.max {
			return false
		}
	}
	return n >= c.min
}

// inRanges scans: classes have a handful of ranges, and characters
// beyond ASCII are rare in the fields that have patterns.
func (c *classRun) inRanges(r rune) bool {
	for i := 0; i+1 < len(c.ranges); i += 2 {
		if c.ranges[i] <= r && r <= c.ranges[i+1] {
			return true
		}
	}
	return false
}

func (c *classRun) String() string { return c.source }
