package notary

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cockroachdb/pebble/v2"
)

// Alarm kinds.
const (
	// AlarmFork: two checkpoints for one origin and size with different
	// roots, both validly signed by the log. Conclusive proof of a split view.
	AlarmFork = "fork"
	// AlarmInconsistent: a checkpoint validly signed by the log that the
	// office could not reconcile with the one it holds (a consistency proof
	// that does not verify, or leaves that do not hash to the signed root).
	AlarmInconsistent = "inconsistent"
)

// Alarm is evidence of log misbehaviour kept by the office: the checkpoint
// it held and the one it was shown, both as the log signed them.
type Alarm struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Origin string    `json:"origin"`
	Kind   string    `json:"kind"`
	Size   uint64    `json:"size"`
	// Held is the signed note the office had (may be empty when it held
	// nothing signed at that point).
	Held []byte `json:"held"`
	// Got is the signed note it was shown.
	Got []byte `json:"got"`
	// Proof is the consistency proof sent with Got, if any.
	Proof  [][]byte `json:"proof,omitempty"`
	Detail string   `json:"detail"`
}

// maxAlarms bounds the alarm table. A log's key holder can sign any number
// of conflicting checkpoints; after this many, further ones are refused but
// not stored (the first ones already prove the misbehaviour).
const maxAlarms = 10000

// recordAlarm stores a durably, once per distinct evidence. o.mu must be held.
func (o *Office) recordAlarm(ctx context.Context, a Alarm) error {
	h := sha256.New()
	for _, part := range [][]byte{[]byte(a.Kind), a.Held, a.Got} {
		h.Write(binary.BigEndian.AppendUint64(nil, uint64(len(part))))
		h.Write(part)
	}
	seenKey := append([]byte{tagAlarmSeen}, h.Sum(nil)...)
	if _, err := o.get(seenKey); err == nil {
		return nil
	} else if !errors.Is(err, ErrNotFound) {
		return err
	}
	seq, err := o.nextAlarmSeq()
	if err != nil {
		return err
	}
	if seq >= maxAlarms {
		o.logger.WarnContext(ctx, "alarm table full; alarm not stored", "origin", a.Origin, "kind", a.Kind, "size", a.Size)
		return nil
	}
	a.Seq = seq
	if a.Time.IsZero() {
		a.Time = time.Now().UTC()
	}
	b, err := json.Marshal(a)
	if err != nil {
		return fmt.Errorf("notary: encoding alarm: %w", err)
	}
	batch := o.db.NewBatch()
	defer batch.Close()
	key := binary.BigEndian.AppendUint64([]byte{tagAlarm}, seq)
	if err := batch.Set(key, b, nil); err != nil {
		return fmt.Errorf("notary: staging alarm: %w", err)
	}
	if err := batch.Set(seenKey, key[1:], nil); err != nil {
		return fmt.Errorf("notary: staging alarm: %w", err)
	}
	if err := o.commit(batch, pebble.Sync); err != nil {
		return fmt.Errorf("notary: committing alarm: %w", err)
	}
	o.metrics.alarms.WithLabelValues(a.Kind).Inc()
	o.logger.ErrorContext(ctx, "split view evidence recorded", "origin", a.Origin, "kind", a.Kind, "size", a.Size, "seq", seq)
	return nil
}

func (o *Office) nextAlarmSeq() (uint64, error) {
	it, err := o.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagAlarm}, UpperBound: []byte{tagAlarm + 1}})
	if err != nil {
		return 0, fmt.Errorf("notary: reading alarms: %w", err)
	}
	defer it.Close()
	if !it.Last() {
		return 0, nil
	}
	k := it.Key()
	if len(k) != 9 {
		return 0, fmt.Errorf("notary: malformed alarm key %x", k)
	}
	return binary.BigEndian.Uint64(k[1:]) + 1, nil
}

// Alarms returns every recorded alarm, oldest first.
func (o *Office) Alarms(ctx context.Context) ([]Alarm, error) {
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	it, err := o.db.NewIter(&pebble.IterOptions{LowerBound: []byte{tagAlarm}, UpperBound: []byte{tagAlarm + 1}})
	if err != nil {
		return nil, fmt.Errorf("notary: reading alarms: %w", err)
	}
	defer it.Close()
	out := []Alarm{}
	for it.First(); it.Valid(); it.Next() {
		var a Alarm
		if err := json.Unmarshal(it.Value(), &a); err != nil {
			return nil, fmt.Errorf("notary: decoding alarm: %w", err)
		}
		out = append(out, a)
	}
	if err := it.Error(); err != nil {
		return nil, fmt.Errorf("notary: reading alarms: %w", err)
	}
	return out, nil
}
