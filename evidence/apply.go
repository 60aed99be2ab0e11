package evidence

import (
	"slices"
)

// applyEvent is the index rule: the entry of a contract after one more of
// its events, c, is recorded. The zero entry is a contract not yet
// indexed; its first event creates it. It is a pure function of its
// arguments (finalize derives the index keys to write from the entry
// before and after), and never changes the entry it is given.
// (Event times are in 1970 to 2199, so an entry's First is never zero.)
//
//   - A report issued about the contract is part of its timeline, not of
//     its lifecycle: status and activity times stay the platform's.
//   - First is the earliest lifecycle event's time; Last and Status are
//     the latest's (the later of two at one time wins).
//   - The name is the latest non-empty one given.
//   - Events counts what CountsAsEvent admits.
//   - Subjects keeps the first maxRecordSubjects people who acted.
func applyEvent(cr contractRecord, c *claim) contractRecord {
	if cr.First.IsZero() { // every indexed contract has a first event
		cr = contractRecord{ID: c.ContractID, First: c.Time, Last: c.Time}
	}
	lifecycle := !isCustody(c.Kind)
	if lifecycle && c.Time.Before(cr.First) {
		cr.First = c.Time
	}
	if lifecycle && !c.Time.Before(cr.Last) {
		cr.Last, cr.Status = c.Time, c.Kind
	}
	if c.Name != "" {
		cr.Name = c.Name
	}
	if CountsAsEvent(c.Kind) {
		cr.Events++
	}
	if c.Subject != "" && !slices.Contains(cr.Subjects, c.Subject) && len(cr.Subjects) < maxRecordSubjects {
		// Clipped: the entry given keeps its own slice.
		cr.Subjects = append(slices.Clip(cr.Subjects), c.Subject)
	}
	return cr
}
