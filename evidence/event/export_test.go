package event

// Test hooks.

// SchemaPatterns returns every pattern of the event schema.
func SchemaPatterns() []string {
	cs, err := loadSchema()
	if err != nil {
		panic(err)
	}
	seen := map[*schemaNode]bool{}
	var out []string
	var walk func(n *schemaNode)
	walk = func(n *schemaNode) {
		if n == nil || seen[n] {
			return
		}
		seen[n] = true
		if n.pattern != nil {
			out = append(out, n.pattern.String())
		}
		for _, name := range n.propOrder {
			walk(n.properties[name])
		}
		walk(n.items)
		for _, group := range [][]*schemaNode{n.allOf, n.anyOf, {n.ifS, n.thenS, n.elseS}} {
			for _, m := range group {
				walk(m)
			}
		}
	}
	walk(cs.root)
	for _, d := range cs.defs {
		walk(d)
	}
	return out
}

// IsClassRun reports whether pattern is matched without the regexp
// package.
func IsClassRun(pattern string) bool {
	_, ok := classRunOf(pattern)
	return ok
}

// MatchPattern matches s against pattern as the schema does.
func MatchPattern(pattern, s string) (bool, error) {
	m, err := compilePattern(pattern)
	if err != nil {
		return false, err
	}
	return m.MatchString(s), nil
}
