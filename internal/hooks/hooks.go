// Package hooks delivers the registry's events (package events) to the
// configured hooks — a log line, a script, a signed webhook — at least
// once and in commit order per hook, and serves the event stream and the
// dead-letter list under /weir-api/events.
//
// Only the leader of a primary cluster delivers. Each hook has one worker
// that takes events after its replicated cursor in order, tries each with
// exponential backoff, and after the configured attempts moves it to the
// dead-letter list and goes on. Cursors and dead letters are committed
// through the log together (HooksProgress) every CommitEvery, so a new
// leader resumes where the old one's last commit left off: what was
// delivered after that commit is delivered again (same event id). The
// leader also starts the outbox once every voter can record events, and
// compacts delivered events by the retention settings.
package hooks

import (
	"context"
	"encoding/json"
	"log/slog"
	"math"
	"sync"
	"sync/atomic"
	"time"

	"github.com/weir-nifi/weir/internal/command"
	"github.com/weir-nifi/weir/internal/events"
	"github.com/weir-nifi/weir/internal/store"
)

// Cluster is what the runner needs of the Raft node.
type Cluster interface {
	IsLeader() bool
	// CommandLevel is the command level every voter understands.
	CommandLevel() int
	ProposeAnywhere(ctx context.Context, c command.Command, out any) error
}

// Runner delivers events to hooks while this node leads.
type Runner struct {
	c       Cluster
	st      *store.Store
	cfg     Config
	log     *slog.Logger
	now     func() time.Time
	senders map[string]sender
	met     *metrics

	// started caches that the outbox is on (EnsureStarted).
	started atomic.Bool

	feed feed
	// life ends when Run returns (the node stops).
	life context.Context
	end  context.CancelFunc

	mu      sync.Mutex
	cursors map[string]uint64 // delivered since the last commit
	dead    []command.DeadEvent
	cleared []command.DeadEvent
}

// New makes a runner for cfg (see Load).
func New(c Cluster, st *store.Store, cfg Config, log *slog.Logger) (*Runner, error) {
	r := &Runner{c: c, st: st, cfg: cfg, log: log, now: time.Now, senders: map[string]sender{}, cursors: map[string]uint64{}}
	r.life, r.end = context.WithCancel(context.Background())
	for _, h := range cfg.Hooks {
		s, err := newSender(h, log)
		if err != nil {
			return nil, err
		}
		r.senders[h.Name] = s
	}
	r.met = newMetrics(r)
	return r, nil
}

// Run delivers while this node leads a primary cluster, until ctx ends.
func (r *Runner) Run(ctx context.Context) {
	defer r.end()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	var stop context.CancelFunc
	var wg sync.WaitGroup
	end := func() {
		if stop != nil {
			stop()
			wg.Wait()
			stop = nil
			// What was delivered since the last commit: committed
			// through whichever node leads now, so fewer events are
			// delivered twice after a leadership transfer.
			cctx, cancel := context.WithTimeout(context.Background(), time.Second)
			r.commit(cctx)
			cancel()
		}
	}
	defer end()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		started, primary, err := r.state()
		if err != nil || !primary || !r.c.IsLeader() {
			end()
			continue
		}
		if !started {
			if r.c.CommandLevel() >= command.LevelOf(command.TypeStartEvents) {
				if err := r.c.ProposeAnywhere(ctx, &command.StartEvents{}, nil); err != nil && ctx.Err() == nil {
					r.log.Warn("events: cannot start the outbox", "err", err)
				}
			}
			continue
		}
		if stop == nil {
			stop = r.lead(ctx, &wg)
		}
	}
}

// lead starts a term's workers: one per hook, the committer and the
// compactor. They stop when the returned function is called.
func (r *Runner) lead(ctx context.Context, wg *sync.WaitGroup) context.CancelFunc {
	tctx, cancel := context.WithCancel(ctx)
	r.reset()
	for _, h := range r.cfg.Hooks {
		wg.Go(func() { r.deliver(tctx, h) })
	}
	// Delivered cursors and dead letters are committed every CommitEvery;
	// delivered events past retention are compacted every Every.
	wg.Go(func() { every(tctx, time.Duration(r.cfg.Delivery.CommitEvery), func() { r.commit(tctx) }) })
	wg.Go(func() {
		every(tctx, time.Duration(r.cfg.Retention.Every), func() {
			if err := r.compact(tctx); err != nil && tctx.Err() == nil {
				r.log.Warn("events: cannot compact the outbox", "err", err)
			}
		})
	})
	return cancel
}

// EnsureStarted starts the outbox before a change is proposed, so no
// change of a new cluster goes without its event: the leader's first write
// proposes StartEvents (waiting, as any command of a new level does, for
// voters that have not registered their build yet). While a voter runs a
// build that cannot record events, changes are made without them, and the
// outbox starts once the upgrade is finished.
func (r *Runner) EnsureStarted(ctx context.Context) {
	if r.started.Load() {
		return
	}
	started, primary, err := r.state()
	if err != nil || !primary {
		return // a standby's outbox is started by its own leader
	}
	if !started {
		if err = r.c.ProposeAnywhere(ctx, &command.StartEvents{}, nil); err != nil {
			r.log.Warn("events: the outbox is not started; this change has no event", "err", err)
			return
		}
	}
	r.started.Store(true)
}

func (r *Runner) state() (started, primary bool, err error) {
	err = r.st.Read(func(tx *store.Tx) error {
		d, err := tx.DR()
		primary = d.IsPrimary()
		started = events.Started(tx.Bolt())
		return err
	})
	return started, primary, err
}

func (r *Runner) reset() {
	r.mu.Lock()
	r.cursors, r.dead, r.cleared = map[string]uint64{}, nil, nil
	r.mu.Unlock()
	r.feed.reset()
}

// feed hands the workers the outbox's events, each read and decoded once
// for all of them (and its webhook body encoded once): the hooks follow
// the same events a few apart.
type feed struct {
	mu    sync.Mutex
	items map[uint64]*item
	high  uint64
}

// item is an event being delivered.
type item struct {
	events.Event
	once sync.Once
	body []byte
	err  error
}

// json is the event's webhook body, encoded once.
func (it *item) json() ([]byte, error) {
	it.once.Do(func() { it.body, it.err = json.Marshal(it.Event) })
	return it.body, it.err
}

// feedKeep is how far behind the newest event the feed keeps events.
const feedKeep = 4096

func (f *feed) reset() {
	f.mu.Lock()
	f.items, f.high = map[uint64]*item{}, 0
	f.mu.Unlock()
}

// next returns up to n events after id after, oldest first.
func (r *Runner) next(after uint64, n int) ([]*item, error) {
	f := &r.feed
	var out []*item
	f.mu.Lock()
	for id := after + 1; len(out) < n; id++ {
		it, ok := f.items[id]
		if !ok {
			break
		}
		out = append(out, it)
	}
	f.mu.Unlock()
	if len(out) > 0 {
		return out, nil
	}
	var evs []events.Event
	if err := r.st.Read(func(tx *store.Tx) (err error) {
		evs, err = events.After(tx.Bolt(), after, n)
		return err
	}); err != nil {
		return nil, err
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.items == nil {
		f.items = map[uint64]*item{}
	}
	for _, ev := range evs {
		it := f.items[ev.ID]
		if it == nil {
			it = &item{Event: ev}
			f.items[ev.ID] = it
			f.high = max(f.high, ev.ID)
		}
		out = append(out, it)
	}
	if len(f.items) > 2*feedKeep {
		for id := range f.items {
			if id+feedKeep < f.high {
				delete(f.items, id)
			}
		}
	}
	return out, nil
}

// retryCheck is how often a busy worker looks for dead letters marked for
// retry.
const retryCheck = 250 * time.Millisecond

// deliver is one hook's worker for one term of leadership.
func (r *Runner) deliver(ctx context.Context, h Hook) {
	s := r.senders[h.Name]
	var cursor uint64
	_ = r.st.Read(func(tx *store.Tx) error { cursor = events.Cursor(tx.Bolt(), h.Name); return nil })
	var checked time.Time // dead letters last looked at
	for ctx.Err() == nil {
		seen := r.st.AppliedIndex()
		// Dead letters marked for retry are looked for when the worker
		// has caught up and something was applied, and at most every
		// retryCheck while events keep coming: a store read per event
		// was a measurable part of delivery under load.
		if time.Since(checked) >= retryCheck {
			checked = time.Now()
			if err := r.retryDead(ctx, h, s); err != nil {
				return
			}
		}
		evs, err := r.next(cursor, 256)
		if err != nil {
			r.log.Error("events: cannot read the outbox", "hook", h.Name, "err", err)
			sleep(ctx, time.Second)
			continue
		}
		if len(evs) == 0 {
			// Wait for the next applied entry (a RetryDead too).
			wctx, cancel := context.WithTimeout(ctx, time.Second)
			r.st.WaitApplied(wctx.Done(), seen+1)
			cancel()
			checked = time.Time{}
			continue
		}
		for _, ev := range evs {
			if h.wants(ev.Type) {
				attempts, err := r.try(ctx, h, s, ev)
				if ctx.Err() != nil {
					return // not delivered: the next leader tries it
				}
				if err != nil {
					r.log.Error("events: hook gave up on an event; it is in the dead-letter list", "hook", h.Name, "event", ev.ID, "eventType", ev.Type, "attempts", attempts, "err", err)
					r.met.deadLettered(h.Name)
					r.mu.Lock()
					r.dead = append(r.dead, command.DeadEvent{Hook: h.Name, Event: ev.ID, Attempts: attempts, Error: truncate(err.Error(), 500), At: r.now().UnixMilli()})
					r.mu.Unlock()
				}
			}
			cursor = ev.ID
			r.mu.Lock()
			r.cursors[h.Name] = cursor
			r.mu.Unlock()
		}
	}
}

// try delivers ev with retries and backoff; it returns the attempts made
// and the last error when it gave up.
func (r *Runner) try(ctx context.Context, h Hook, s sender, ev *item) (int, error) {
	d := r.cfg.Delivery
	var err error
	for attempt := 1; ; attempt++ {
		// A deposed leader stops before its next attempt: the term's
		// context ends within Run's tick, and the attempt is not counted
		// against the event.
		for !r.c.IsLeader() {
			if sleep(ctx, 50*time.Millisecond); ctx.Err() != nil {
				return attempt - 1, ctx.Err()
			}
		}
		start := time.Now()
		err = s.send(ctx, ev)
		r.met.sent(h.Name, time.Since(start), err)
		if err == nil {
			return attempt, nil
		}
		if ctx.Err() != nil || attempt >= d.MaxAttempts {
			return attempt, err
		}
		r.log.Warn("events: delivery failed; retrying", "hook", h.Name, "event", ev.ID, "attempt", attempt, "err", err)
		sleep(ctx, backoff(time.Duration(d.Backoff), time.Duration(d.MaxBackoff), attempt))
	}
}

// retryDead delivers the hook's dead letters marked for retry, once each;
// the outcome is committed before the worker goes on, so a letter is not
// tried twice for one retry.
func (r *Runner) retryDead(ctx context.Context, h Hook, s sender) error {
	var ds []events.Dead
	if err := r.st.Read(func(tx *store.Tx) (err error) {
		ds, err = events.DeadLetters(tx.Bolt(), h.Name)
		return err
	}); err != nil {
		return nil
	}
	var prog command.HooksProgress
	for _, d := range ds {
		if !d.Retry {
			continue
		}
		start := time.Now()
		err := s.send(ctx, &item{Event: d.Event})
		r.met.sent(h.Name, time.Since(start), err)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if err == nil {
			r.log.Info("events: dead letter delivered on retry", "hook", h.Name, "event", d.Event.ID)
			prog.Cleared = append(prog.Cleared, command.DeadEvent{Hook: h.Name, Event: d.Event.ID})
		} else {
			r.log.Error("events: dead letter failed again", "hook", h.Name, "event", d.Event.ID, "err", err)
			prog.Dead = append(prog.Dead, command.DeadEvent{Hook: h.Name, Event: d.Event.ID, Attempts: d.Attempts + 1, Error: truncate(err.Error(), 500), At: r.now().UnixMilli()})
		}
	}
	if len(prog.Cleared)+len(prog.Dead) == 0 {
		return nil
	}
	if err := r.c.ProposeAnywhere(ctx, &prog, nil); err != nil {
		r.log.Warn("events: cannot record retried dead letters", "hook", h.Name, "err", err)
		sleep(ctx, time.Second)
	}
	return ctx.Err()
}

// every runs fn every d until ctx ends.
func every(ctx context.Context, d time.Duration, fn func()) {
	t := time.NewTicker(d)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fn()
	}
}

func (r *Runner) commit(ctx context.Context) {
	r.mu.Lock()
	var prog command.HooksProgress
	for h, c := range r.cursors {
		prog.Cursors = append(prog.Cursors, command.HookCursor{Hook: h, Through: c})
	}
	prog.Dead = append(prog.Dead, r.dead...)
	r.mu.Unlock()
	if len(prog.Cursors)+len(prog.Dead) == 0 {
		return
	}
	if err := r.c.ProposeAnywhere(ctx, &prog, nil); err != nil {
		if ctx.Err() == nil {
			r.log.Warn("events: cannot commit hook cursors; retrying", "err", err)
		}
		return
	}
	r.mu.Lock()
	for _, c := range prog.Cursors {
		if r.cursors[c.Hook] == c.Through {
			delete(r.cursors, c.Hook)
		}
	}
	r.dead = r.dead[len(prog.Dead):]
	r.mu.Unlock()
}

// compactBatch bounds the events one CompactEvents removes.
const compactBatch = 10_000

// compact proposes CompactEvents up to the first event that must be kept:
// one not yet delivered to every configured hook, or one within both the
// age and the count of the retention settings.
func (r *Runner) compact(ctx context.Context) error {
	var before uint64
	err := r.st.Read(func(tx *store.Tx) error {
		b := tx.Bolt()
		first, last := events.Range(b)
		if first > last {
			return nil
		}
		keep := last + 1 // the first event that must stay
		for _, h := range r.cfg.Hooks {
			keep = min(keep, events.Cursor(b, h.Name)+1)
		}
		var byCount uint64
		if n := r.cfg.Retention.MaxEvents; last >= n {
			byCount = last - n + 1
		}
		// By age: the first event still young enough, found by bisection
		// over ids (Since never decreases along the outbox).
		oldest := r.now().Add(-time.Duration(r.cfg.Retention.MaxAge)).UnixMilli()
		lo, hi := first, last+1
		for lo < hi {
			mid := lo + (hi-lo)/2
			since, ok, err := events.Since(b, mid)
			if err != nil {
				return err
			}
			if ok && since >= oldest {
				hi = mid
			} else {
				lo = mid + 1
			}
		}
		before = min(keep, max(byCount, lo), first+compactBatch)
		if before <= first {
			before = 0
		}
		return nil
	})
	if err != nil || before == 0 {
		return err
	}
	var n int
	if err := r.c.ProposeAnywhere(ctx, &command.CompactEvents{Before: before}, &n); err != nil {
		return err
	}
	r.log.Info("events: compacted delivered events", "count", n, "before", before)
	return nil
}

func backoff(first, most time.Duration, attempt int) time.Duration {
	d := float64(first) * math.Pow(2, float64(attempt-1))
	return time.Duration(min(d, float64(most)))
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}
