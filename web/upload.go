package web

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/cunzheng/cunzheng/verify"
	"github.com/cunzheng/cunzheng/web/verifyview"
)

// Uploads to the verifier (在线验签) come from strangers, so what they can
// make the server hold is bounded by design:
//
//   - A byte budget across every file being received or waiting for a
//     verification slot (VerifyConfig.UploadBudget, 256 MiB by default) is
//     taken before the body is read: the announced Content-Length up front,
//     and, for a body without one, chunk by chunk as the bytes arrive. When
//     the budget is spent the answer is 503 with Retry-After and the body is
//     not read.
//   - A file over spoolThreshold is spooled to a temp file, unlinked at once
//     (nothing is left behind, even by a crash), instead of RAM. While a
//     file waits for its slot it costs disk, not memory.
//   - Verifying takes one of Concurrency slots. Each slot owns a buffer the
//     spooled file is read into and which the next file reuses, so files
//     being verified cost at most Concurrency × MaxUpload and make no
//     garbage. When the verifier has been idle for a moment the slots drop
//     their buffers and the memory goes back to the operating system.
//
// The rejected alternative was to hold every upload in memory under the
// budget: simpler, but then the budget is resident memory, and a budget
// that lets several large files wait for a slot is too much memory on a
// small machine. Before this design every upload was read into a doubling
// buffer before it waited for a slot: 60 uploads of 49 MiB took the process
// to 5.7 GB.

// Defaults of the upload bounds.
const (
	DefaultUploadBudget = 256 << 20
	// spoolThreshold is the largest file kept in memory while it waits;
	// a typical contract PDF is smaller.
	spoolThreshold = 1 << 20
	// uploadChunk is the copy buffer's size: a body without
	// Content-Length takes budget this much at a time.
	uploadChunk = 64 << 10
	// multipartSlack covers a part's headers and boundaries.
	multipartSlack = 64 << 10
	// slotIdle is how long the verifier must be idle before the slots
	// give their buffers back.
	slotIdle = 2 * time.Second
	// slotWait is how long a received file waits for a slot.
	slotWait = 10 * time.Second
)

// errUploadsFull is answered 503 (it wraps errBusy) when the upload budget
// is spent.
var errUploadsFull = fmt.Errorf("too many uploads in progress (%w)", errBusy)

// errSpool is answered 503 when a file cannot be spooled (a full disk).
var errSpool = fmt.Errorf("cannot hold the upload now (%w)", errBusy)

// uploadBudget counts the bytes held by uploads across all requests. Its
// fields are atomic: requests take and give concurrently.
type uploadBudget struct {
	limit int64
	held  atomic.Int64
	peak  atomic.Int64 // the most ever held (tests and the benchmark read it)
}

func newUploadBudget(limit int64) *uploadBudget { return &uploadBudget{limit: limit} }

// take takes n bytes if they fit, and reports whether they did.
func (b *uploadBudget) take(n int64) bool {
	for {
		cur := b.held.Load()
		if cur+n > b.limit {
			return false
		}
		if b.held.CompareAndSwap(cur, cur+n) {
			for p := b.peak.Load(); cur+n > p && !b.peak.CompareAndSwap(p, cur+n); p = b.peak.Load() {
			}
			return true
		}
	}
}

func (b *uploadBudget) give(n int64) { b.held.Add(-n) }

// reservation is one request's share of the budget. It belongs to the
// request's goroutine. held is what it took from the budget, used what its
// open files hold; a batch's files come one after another and reuse the
// share.
type reservation struct {
	budget     *uploadBudget
	held, used int64
}

// reserve takes n bytes up front, before anything is read.
func (r *reservation) reserve(n int64) error {
	if n <= r.held {
		return nil
	}
	if !r.budget.take(n - r.held) {
		return errUploadsFull
	}
	r.held = n
	return nil
}

// use accounts n more bytes held, taking budget when the share is short.
func (r *reservation) use(n int64) error {
	if need := r.used + n - r.held; need > 0 {
		if !r.budget.take(need) {
			return errUploadsFull
		}
		r.held += need
	}
	r.used += n
	return nil
}

func (r *reservation) unuse(n int64) { r.used -= n }

// release gives the whole share back; the request is done.
func (r *reservation) release() {
	r.budget.give(r.held)
	r.held, r.used = 0, 0
}

// uploadFile is one received file: in mem when small, else in an unlinked
// temp file. Close gives its bytes back to the request's reservation.
type uploadFile struct {
	mem  []byte
	f    *os.File
	size int64
	res  *reservation
}

func (u *uploadFile) Close() {
	if u == nil {
		return
	}
	if u.f != nil {
		u.f.Close()
		u.f = nil
	}
	u.mem = nil
	u.res.unuse(u.size)
	u.size = 0
}

var chunkPool = sync.Pool{New: func() any { b := make([]byte, uploadChunk); return &b }}

// receive reads r into a new uploadFile, taking budget for each chunk
// before it is kept. More than max bytes is verify.ErrTooLarge; errUploadsFull when
// the budget is spent; a read error is returned wrapped as it came.
func (h *verifyHandlers) receive(r io.Reader, max int64, res *reservation) (*uploadFile, error) {
	u := &uploadFile{res: res}
	bp := chunkPool.Get().(*[]byte)
	defer chunkPool.Put(bp)
	chunk := *bp
	for {
		// The chunk buffer is the request's read buffer; its bytes count
		// once they are kept. Counting exactly what was read (not a whole
		// chunk ahead) keeps an upload that announced its length within
		// the share it took up front.
		n, rerr := io.ReadFull(r, chunk)
		if err := res.use(int64(n)); err != nil {
			u.Close()
			return nil, err
		}
		u.size += int64(n)
		if u.size > max {
			u.Close()
			return nil, fmt.Errorf("%w: over %d bytes", verify.ErrTooLarge, max)
		}
		if err := u.write(chunk[:n], h.cfg.SpoolDir); err != nil {
			u.Close()
			// The client is told the server is busy, not where it spools.
			h.cfg.Logger.Error("spooling an upload", "err", err)
			return nil, errSpool
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			return u, nil
		}
		if rerr != nil {
			u.Close()
			return nil, rerr
		}
	}
}

// write appends p, moving the file to disk when it outgrows spoolThreshold.
func (u *uploadFile) write(p []byte, dir string) error {
	if u.f == nil && int64(len(u.mem)+len(p)) <= spoolThreshold {
		u.mem = append(u.mem, p...)
		return nil
	}
	if u.f == nil {
		f, err := os.CreateTemp(dir, "cunzheng-upload-*")
		if err != nil {
			return fmt.Errorf("web: spooling an upload: %w", err)
		}
		// Unlinked at once: the open file is all there is of it.
		if err := os.Remove(f.Name()); err != nil {
			f.Close()
			return fmt.Errorf("web: spooling an upload: %w", err)
		}
		u.f = f
		if _, err := f.Write(u.mem); err != nil {
			return fmt.Errorf("web: spooling an upload: %w", err)
		}
		u.mem = nil
	}
	if _, err := u.f.Write(p); err != nil {
		return fmt.Errorf("web: spooling an upload: %w", err)
	}
	return nil
}

// newReservation starts a request's share of the budget, taking up front
// what its Content-Length announces (at most one file's worth: a batch's
// files are held one at a time).
func (h *verifyHandlers) newReservation(c *gin.Context, multipart bool) (*reservation, error) {
	res := &reservation{budget: h.budget}
	if n := c.Request.ContentLength; n > 0 {
		limit := h.cfg.MaxUpload
		if multipart {
			limit += multipartSlack
		}
		if err := res.reserve(min(n, limit)); err != nil {
			// Not read: tell the client not to send the rest on this
			// connection. Retry-After here too, for the HTML form, which
			// renders its own error page.
			c.Header("Connection", "close")
			c.Header("Retry-After", "1")
			return nil, err
		}
	}
	return res, nil
}

// receiveRaw reads the PDF that is the whole body of c.
func (h *verifyHandlers) receiveRaw(c *gin.Context, res *reservation) (*uploadFile, error) {
	body := http.MaxBytesReader(c.Writer, c.Request.Body, h.cfg.MaxUpload)
	u, err := h.receive(body, h.cfg.MaxUpload, res)
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return u, nil
	case errors.As(err, &mbe):
		return nil, fmt.Errorf("%w: over %d bytes", verify.ErrTooLarge, mbe.Limit)
	case errors.Is(err, errBusy), errors.Is(err, verify.ErrTooLarge):
		return nil, err
	}
	return nil, badRequest("could not read the request body")
}

// eachFile streams the multipart body and calls fn with each "file" part
// received (at most MaxUpload bytes; a larger part is reported to fn as
// verify.ErrTooLarge and skipped; a part the budget has no room for ends
// the request with errUploadsFull). fn must not keep data after it
// returns. More than max files is a 400.
func (h *verifyHandlers) eachFile(c *gin.Context, max int, fn func(name string, data *uploadFile, err error) error) error {
	res, err := h.newReservation(c, true)
	if err != nil {
		return err
	}
	defer res.release()
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, int64(max)*(h.cfg.MaxUpload+multipartSlack))
	mr, err := c.Request.MultipartReader()
	if err != nil {
		return badRequest(errNoFile.Error())
	}
	n := 0
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			var mbe *http.MaxBytesError
			if errors.As(err, &mbe) {
				return fmt.Errorf("%w: request body over %d bytes", verify.ErrTooLarge, mbe.Limit)
			}
			return badRequest("malformed multipart body")
		}
		if part.FormName() != "file" {
			part.Close()
			continue
		}
		n++
		if n > max {
			part.Close()
			return badRequest(fmt.Sprintf("at most %d files per request", max))
		}
		name := cleanName(part.FileName())
		// The rate limit is taken before the file is read, so a client over
		// its limit costs no memory.
		if !h.limit.allow(clientIP(c)) {
			part.Close()
			if err := fn(name, nil, errRateLimited); err != nil {
				return err
			}
			continue
		}
		u, rerr := h.receivePart(part, res)
		part.Close()
		var mbe *http.MaxBytesError
		switch {
		case rerr == nil, errors.Is(rerr, verify.ErrTooLarge):
		case errors.As(rerr, &mbe):
			return fmt.Errorf("%w: request body over %d bytes", verify.ErrTooLarge, mbe.Limit)
		case errors.Is(rerr, errBusy):
			c.Header("Connection", "close")
			c.Header("Retry-After", "1")
			return rerr
		default:
			return badRequest("malformed multipart body")
		}
		err = fn(name, u, rerr)
		u.Close()
		if err != nil {
			return err
		}
	}
}

func (h *verifyHandlers) receivePart(p *multipart.Part, res *reservation) (*uploadFile, error) {
	return h.receive(p, h.cfg.MaxUpload, res)
}

// verify runs one verification of u under the concurrency bound and the
// per-file deadline (eachFile has taken the rate limit).
func (h *verifyHandlers) verify(ctx context.Context, u *uploadFile) (*verify.Report, error) {
	s, err := h.slots.acquire(ctx)
	if err != nil {
		return nil, err
	}
	defer h.slots.release(s)
	if u.size == 0 && len(u.mem) == 0 {
		return nil, errEmptyFile
	}
	data := u.mem
	if u.f != nil {
		if data, err = s.load(u.f, u.size); err != nil {
			return nil, fmt.Errorf("web: reading a spooled upload: %w", err)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, h.cfg.FileTimeout)
	defer cancel()
	return verify.PDFBytes(ctx, data, h.cfg.Options)
}

// isZip reports whether an upload is a zip archive (an evidence bundle),
// by its local file header signature.
func isZip(u *uploadFile) bool {
	var head [4]byte
	switch {
	case u.mem != nil:
		copy(head[:], u.mem)
	case u.f != nil:
		if _, err := u.f.ReadAt(head[:], 0); err != nil {
			return false
		}
	}
	return string(head[:]) == "PK\x03\x04"
}

// checkBundle verifies an evidence bundle upload against the keys and TSA
// roots the archive publishes (its trust bundle, what the browser's check
// pins), under the same concurrency bound as a PDF.
func (h *verifyHandlers) checkBundle(ctx context.Context, name string, u *uploadFile) (verifyview.BundleData, error) {
	opts, err := h.cfg.Trust.BundleOptions()
	if err != nil {
		return verifyview.BundleData{}, fmt.Errorf("web: the trust bundle's keys: %w", err)
	}
	s, err := h.slots.acquire(ctx)
	if err != nil {
		return verifyview.BundleData{}, err
	}
	defer h.slots.release(s)
	data := u.mem
	if u.f != nil {
		if data, err = s.load(u.f, u.size); err != nil {
			return verifyview.BundleData{}, fmt.Errorf("web: reading a spooled upload: %w", err)
		}
	}
	d := verifyview.BundleResult(name, data, opts)
	d.Server = true
	return d, nil
}

// verifySlots bounds simultaneous verifications. A slot is free while it
// sits in free; its buffer belongs to whoever holds it.
type verifySlots struct {
	free chan *verifySlot
	idle time.Duration

	mu    sync.Mutex // guards timer
	timer *time.Timer
	// trims counts idle trims that freed memory (tests).
	trims atomic.Int64
}

type verifySlot struct{ buf []byte }

func newVerifySlots(n int, idle time.Duration) *verifySlots {
	s := &verifySlots{free: make(chan *verifySlot, n), idle: idle}
	for range n {
		s.free <- &verifySlot{}
	}
	return s
}

func (s *verifySlots) acquire(ctx context.Context) (*verifySlot, error) {
	select {
	case v := <-s.free:
		return v, nil
	default:
	}
	t := time.NewTimer(slotWait)
	defer t.Stop()
	select {
	case v := <-s.free:
		return v, nil
	case <-t.C:
		return nil, errBusy
	case <-ctx.Done():
		return nil, errBusy
	}
}

func (s *verifySlots) release(v *verifySlot) {
	s.free <- v
	s.mu.Lock()
	if s.timer == nil {
		s.timer = time.AfterFunc(s.idle, s.trim)
	} else {
		s.timer.Reset(s.idle)
	}
	s.mu.Unlock()
}

// trim drops the buffers of the free slots once the verifier has been idle
// for s.idle, and hands the memory back to the operating system: a burst
// of large files must not leave the process at its peak for good. A slot
// in use keeps its buffer; its release schedules the next trim.
func (s *verifySlots) trim() {
	var taken []*verifySlot
	var freed int
	for range cap(s.free) {
		select {
		case v := <-s.free:
			freed += cap(v.buf)
			v.buf = nil
			taken = append(taken, v)
			continue
		default:
		}
		break
	}
	for _, v := range taken {
		s.free <- v
	}
	if freed > 0 {
		s.trims.Add(1)
		debug.FreeOSMemory()
	}
}

// load reads the spooled file f of size bytes into the slot's buffer and
// returns it; the next file in this slot reuses the buffer.
func (v *verifySlot) load(f *os.File, size int64) ([]byte, error) {
	if int64(cap(v.buf)) < size {
		v.buf = nil // let the old one go before the new one is made
		v.buf = make([]byte, size)
	}
	data := v.buf[:size]
	if _, err := f.ReadAt(data, 0); err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return data, nil
}
