package bench

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Op is one request of client c; seq counts that client's requests from 0.
type Op func(ctx context.Context, c, seq int) error

// Stats summarises a load run. Only requests that started after the warmup
// and ended inside the measured window count.
type Stats struct {
	Clients    int
	Ops        int           // successful requests in the window
	Errors     int           // failed requests in the window
	FirstErr   error         // the first failure, for the report
	Window     time.Duration // measured time
	Throughput float64       // Ops per second
	P50, P99   time.Duration
	Mean, Max  time.Duration
	// Latencies are the window's latencies, sorted, for pooling runs.
	Latencies []time.Duration
}

func (s Stats) String() string {
	return fmt.Sprintf("%d clients: %d ops in %v = %.1f/s, p50 %v p99 %v max %v, %d errors",
		s.Clients, s.Ops, s.Window.Round(time.Millisecond), s.Throughput, ms(s.P50), ms(s.P99), ms(s.Max), s.Errors)
}

func ms(d time.Duration) time.Duration { return d.Round(10 * time.Microsecond) }

// RunFor drives op closed-loop from clients goroutines (each sends its next
// request when the previous one is answered) for warmup+window and reports
// the window.
func RunFor(ctx context.Context, clients int, warmup, window time.Duration, op Op) Stats {
	start := time.Now()
	from, to := start.Add(warmup), start.Add(warmup+window)
	ctx, cancel := context.WithDeadline(ctx, to.Add(30*time.Second))
	defer cancel()
	lats := make([][]time.Duration, clients)
	errs := make([]int, clients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; ; seq++ {
				t0 := time.Now()
				if !t0.Before(to) || ctx.Err() != nil {
					return
				}
				err := op(ctx, c, seq)
				t1 := time.Now()
				if t0.Before(from) || t1.After(to) {
					continue
				}
				if err != nil {
					errs[c]++
					firstErr.CompareAndSwap(nil, errBox{err})
					continue
				}
				lats[c] = append(lats[c], t1.Sub(t0))
			}
		}()
	}
	wg.Wait()
	s := summarise(clients, window, lats, errs)
	if e, ok := firstErr.Load().(errBox); ok {
		s.FirstErr = e.err
	}
	return s
}

// RunCount performs total requests spread over clients (client c does
// requests c, c+clients, ...) and reports the whole run; it stops at the
// first error.
func RunCount(ctx context.Context, clients, total int, op Op) (Stats, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	lats := make([][]time.Duration, clients)
	var firstErr atomic.Value
	var wg sync.WaitGroup
	start := time.Now()
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seq := 0; c+seq*clients < total; seq++ {
				if ctx.Err() != nil {
					return
				}
				t0 := time.Now()
				if err := op(ctx, c, seq); err != nil {
					if firstErr.CompareAndSwap(nil, errBox{err}) {
						cancel()
					}
					return
				}
				lats[c] = append(lats[c], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	s := summarise(clients, time.Since(start), lats, make([]int, clients))
	if e, ok := firstErr.Load().(errBox); ok {
		return s, e.err
	}
	return s, nil
}

type errBox struct{ err error }

func summarise(clients int, window time.Duration, lats [][]time.Duration, errs []int) Stats {
	var all []time.Duration
	s := Stats{Clients: clients, Window: window}
	for c := range lats {
		all = append(all, lats[c]...)
		s.Errors += errs[c]
	}
	s.Ops = len(all)
	if window > 0 {
		s.Throughput = float64(s.Ops) / window.Seconds()
	}
	if len(all) == 0 {
		return s
	}
	slices.Sort(all)
	s.Latencies = all
	var sum time.Duration
	for _, d := range all {
		sum += d
	}
	s.Mean = sum / time.Duration(len(all))
	s.P50 = Percentile(all, 50)
	s.P99 = Percentile(all, 99)
	s.Max = all[len(all)-1]
	return s
}

// Percentile returns the p-th percentile of sorted durations (nearest
// rank).
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p/100*float64(len(sorted))+0.999999) - 1
	rank = max(0, min(rank, len(sorted)-1))
	return sorted[rank]
}
