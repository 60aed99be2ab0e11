package notary

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/cockroachdb/pebble/v2"

	"github.com/cunzheng/cunzheng/ledger/pebbledb"
)

// tagAck keys an operator's acknowledgement of an alarm: k seq(8) -> Ack
// JSON. The alarm itself (tagAlarm) is never changed or removed: an
// acknowledgement only records that someone looked at it.
const tagAck = 'k'

func ackKey(seq uint64) []byte { return binary.BigEndian.AppendUint64([]byte{tagAck}, seq) }

// Ack is an operator's acknowledgement of an alarm.
type Ack struct {
	Time time.Time `json:"time"`
	// By is who acknowledged it, as the operator gave it (may be empty).
	By string `json:"by,omitempty"`
}

// AlarmEntry is an alarm with its acknowledgement, if any.
type AlarmEntry struct {
	Alarm
	Acked *Ack `json:"acked,omitempty"`
}

// ErrNoSuchAlarm is an acknowledgement of an alarm the office does not hold.
var ErrNoSuchAlarm = fmt.Errorf("%w: no such alarm", ErrNotFound)

// AlarmEntries returns every alarm, oldest first, each with its
// acknowledgement.
func (o *Office) AlarmEntries(ctx context.Context) ([]AlarmEntry, error) {
	alarms, err := o.Alarms(ctx)
	if err != nil {
		return nil, err
	}
	release, err := o.acquire()
	if err != nil {
		return nil, err
	}
	defer release()
	out := make([]AlarmEntry, 0, len(alarms))
	for _, a := range alarms {
		ack, err := o.loadAck(a.Seq)
		if err != nil {
			return nil, err
		}
		out = append(out, AlarmEntry{Alarm: a, Acked: ack})
	}
	return out, nil
}

// Unacknowledged counts the alarms no operator acknowledged yet.
func Unacknowledged(entries []AlarmEntry) int {
	n := 0
	for _, e := range entries {
		if e.Acked == nil {
			n++
		}
	}
	return n
}

func (o *Office) loadAck(seq uint64) (*Ack, error) {
	b, err := o.get(ackKey(seq))
	if errors.Is(err, ErrNotFound) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var a Ack
	if err := json.Unmarshal(b, &a); err != nil {
		return nil, fmt.Errorf("notary: decoding acknowledgement of alarm %d: %w", seq, err)
	}
	return &a, nil
}

// maxAckBy bounds the operator's name kept with an acknowledgement.
const maxAckBy = 200

// Acknowledge records that an operator looked at alarm seq. The alarm is
// kept as it was. Acknowledging an alarm twice keeps the first
// acknowledgement and returns it with already set.
func (o *Office) Acknowledge(ctx context.Context, seq uint64, by string) (ack Ack, already bool, err error) {
	by = strings.TrimSpace(by)
	if len(by) > maxAckBy || strings.ContainsAny(by, "\r\n") {
		return Ack{}, false, fmt.Errorf("%w: operator name must be one line of at most %d bytes", ErrMalformed, maxAckBy)
	}
	release, err := o.acquire()
	if err != nil {
		return Ack{}, false, err
	}
	defer release()
	o.mu.Lock()
	defer o.mu.Unlock()
	if _, err := o.get(binary.BigEndian.AppendUint64([]byte{tagAlarm}, seq)); errors.Is(err, ErrNotFound) {
		return Ack{}, false, fmt.Errorf("%w: %d", ErrNoSuchAlarm, seq)
	} else if err != nil {
		return Ack{}, false, err
	}
	if prev, err := o.loadAck(seq); err != nil {
		return Ack{}, false, err
	} else if prev != nil {
		return *prev, true, nil
	}
	ack = Ack{Time: time.Now().UTC(), By: by}
	b, err := json.Marshal(ack)
	if err != nil {
		return Ack{}, false, fmt.Errorf("notary: encoding acknowledgement: %w", err)
	}
	batch := o.db.NewBatch()
	defer batch.Close()
	if err := batch.Set(ackKey(seq), b, nil); err != nil {
		return Ack{}, false, fmt.Errorf("notary: staging acknowledgement: %w", err)
	}
	if err := o.commit(batch, pebble.Sync); err != nil {
		return Ack{}, false, fmt.Errorf("notary: committing acknowledgement: %w", err)
	}
	o.logger.InfoContext(ctx, "alarm acknowledged", "seq", seq)
	return ack, false, nil
}

// AcknowledgeInStore opens the office store in dir (which the office
// process must not hold: Pebble locks it), acknowledges alarm seq and
// closes it. It serves `cunzheng notary alarms ack`, which needs neither
// the office's key nor its logs.
func AcknowledgeInStore(ctx context.Context, dir string, seq uint64, by string, logger *slog.Logger) (Ack, bool, error) {
	if logger == nil {
		logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	store, err := pebbledb.Open(pebbledb.Config{Name: "notary", Dir: dir, Logger: logger,
		Options: func() *pebble.Options { return &pebble.Options{ErrorIfNotExists: true} }})
	if err != nil {
		return Ack{}, false, fmt.Errorf("notary: opening store %s (stop the office first: it holds the store while it runs): %w", dir, err)
	}
	o := &Office{store: store, logger: logger, metrics: newMetrics(nil), logs: map[string]logEntry{}}
	if o.h, err = store.Acquire(); err != nil {
		store.Close()
		return Ack{}, false, fmt.Errorf("notary: opening store: %w", err)
	}
	o.db = o.h.DB()
	ack, already, err := o.Acknowledge(ctx, seq, by)
	o.h.Release()
	if cerr := store.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("notary: closing store: %w", cerr)
	}
	return ack, already, err
}

// KeyFingerprint is the SHA-256 of a verifier key as printed, in hex
// groups of four, for reading aloud over the phone when an office and a
// log exchange keys.
func KeyFingerprint(vkey string) string {
	sum := sha256.Sum256([]byte(vkey))
	h := hex.EncodeToString(sum[:])
	var b strings.Builder
	for i := 0; i < len(h); i += 4 {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(h[i : i+4])
	}
	return b.String()
}

// LogView is what the office's pages show of one log it follows.
type LogView struct {
	LogState
	// Key is the log's verifier key as configured (empty when the office
	// was given only a verifier object).
	Key  string `json:"key,omitempty"`
	Mode string `json:"mode"` // "pull" or "push"
	// PullURL is the log's tlog-tiles URL in pull mode.
	PullURL string `json:"pull_url,omitempty"`
}

// Overview is the office's front page: its key, its health, the logs it
// follows and its alarms.
type Overview struct {
	Name        string    `json:"name"`
	Key         string    `json:"key"`
	Fingerprint string    `json:"key_fingerprint"`
	Healthy     bool      `json:"healthy"`
	Health      string    `json:"health,omitempty"` // why not healthy
	Logs        []LogView `json:"logs"`
	Alarms      int       `json:"alarms"`
	Unacked     int       `json:"unacknowledged_alarms"`
}

// Overview returns the office's front page data.
func (o *Office) Overview(ctx context.Context) (Overview, error) {
	ov := Overview{Name: o.Name(), Key: o.vkey, Fingerprint: KeyFingerprint(o.vkey), Healthy: true, Logs: []LogView{}}
	if err := o.Healthy(); err != nil {
		ov.Healthy, ov.Health = false, err.Error()
	}
	states, err := o.Logs(ctx)
	if err != nil {
		return ov, err
	}
	for _, st := range states {
		lv := LogView{LogState: st, Key: o.logs[st.Origin].VKey, Mode: "push"}
		if u, ok := o.pullURLs.Load(st.Origin); ok {
			lv.Mode, lv.PullURL = "pull", u.(string)
		} else if st.PulledSize > 0 {
			lv.Mode = "pull"
		}
		ov.Logs = append(ov.Logs, lv)
	}
	alarms, err := o.AlarmEntries(ctx)
	if err != nil {
		return ov, err
	}
	ov.Alarms, ov.Unacked = len(alarms), Unacknowledged(alarms)
	return ov, nil
}

// CosignedNote returns the checkpoint of origin and size the office
// cosigned, with its cosignature line, or ErrNotFound.
func (o *Office) CosignedNote(ctx context.Context, origin string, size uint64) (CosignedCheckpoint, error) {
	if size == 0 {
		return CosignedCheckpoint{}, fmt.Errorf("%w: no cosigned checkpoint of size 0", ErrNotFound)
	}
	cps, err := o.Cosigned(ctx, origin, size-1, 1)
	if err != nil {
		return CosignedCheckpoint{}, err
	}
	if len(cps) == 0 || cps[0].Size != size {
		return CosignedCheckpoint{}, fmt.Errorf("%w: no cosigned checkpoint of size %d", ErrNotFound, size)
	}
	return cps[0], nil
}

// Origins returns the origins of the logs the office follows, sorted.
func (o *Office) Origins() []string {
	var out []string
	for _, l := range o.sortedLogs() {
		out = append(out, l.Origin)
	}
	return out
}
